"""An Atlassian-Stash-style app in the shape of Flask-OAuthlib's Stash example, sync and async views.

Stash (now Bitbucket Server) signs with RSA-SHA1 only: the consumer has no
secret, the app reads its private key from a PEM file, and the request token
is fetched with ``POST``. The signature method is written the way
Flask-OAuthlib apps wrote it, ``oauthlib.oauth1.SIGNATURE_RSA`` after a bare
``import oauthlib``, which works because the compat module imports
``oauthlib.oauth1`` (as Flask-OAuthlib did). The ``tokengetter`` returns a
``(token, secret)`` pair kept in the session.

Besides the import, the only addition is ``client_kwargs`` (``http_options``),
so the client trusts the tests' throw-away CA. :func:`create_async_app` is
the same app with ``async def`` views.
"""

from __future__ import annotations

import oauthlib
from flask import Flask, jsonify, redirect, session, url_for

from flask_oauth1_async.compat.flask_oauthlib import OAuth


def _remote(oauth, provider_url, consumer_key, rsa_key_path, http_options):
    with open(rsa_key_path) as handle:
        private_key = handle.read()
    return oauth.remote_app(
        "stash",
        consumer_key=consumer_key,
        request_token_params={},
        base_url=provider_url + "/api/rest/api/1.0/",
        request_token_url=provider_url + "/oauth/request_token",
        access_token_url=provider_url + "/oauth/access_token",
        authorize_url=provider_url + "/oauth/authorize",
        request_token_method="POST",
        access_token_method="POST",
        signature_method=oauthlib.oauth1.SIGNATURE_RSA,
        rsa_key=private_key,
        client_kwargs=http_options,
    )


def _remember(resp):
    session["stash_token"] = (resp["oauth_token"], resp["oauth_token_secret"])


def create_app(provider_url, consumer_key, rsa_key_path, http_options=None):
    app = Flask(__name__)
    app.secret_key = "stash example, change me"
    oauth = OAuth(app)
    stash = _remote(oauth, provider_url, consumer_key, rsa_key_path, http_options)

    @stash.tokengetter
    def get_stash_token():
        return session.get("stash_token")

    @app.route("/")
    def index():
        if "stash_token" not in session:
            return redirect(url_for("login"))
        projects = stash.get("projects", data={"limit": "25"})
        posted = stash.post("projects/PRJ/repos", data={"name": "new repo", "scmId": "git"})
        return jsonify(projects=projects.data, projects_status=projects.status, posted=posted.data)

    @app.route("/login")
    def login():
        return stash.authorize(callback=url_for("authorized", _external=True))

    @app.route("/logout")
    def logout():
        session.pop("stash_token", None)
        return redirect(url_for("index"))

    @app.route("/oauth-authorized")
    def authorized():
        resp = stash.authorized_response()
        if resp is None:
            return "You denied the request to sign in.", 403
        _remember(resp)
        return redirect(url_for("index"))

    return app


def create_async_app(provider_url, consumer_key, rsa_key_path, http_options=None):
    app = Flask(__name__)
    app.secret_key = "stash example, change me"
    oauth = OAuth(app)
    stash = _remote(oauth, provider_url, consumer_key, rsa_key_path, http_options)

    @stash.tokengetter
    async def get_stash_token():
        return session.get("stash_token")

    @app.route("/")
    async def index():
        if "stash_token" not in session:
            return redirect(url_for("login"))
        projects = await stash.get("projects", data={"limit": "25"})
        posted = await stash.post("projects/PRJ/repos", data={"name": "new repo", "scmId": "git"})
        return jsonify(projects=projects.data, projects_status=projects.status, posted=posted.data)

    @app.route("/login")
    async def login():
        return await stash.authorize(callback=url_for("authorized", _external=True))

    @app.route("/logout")
    def logout():
        session.pop("stash_token", None)
        return redirect(url_for("index"))

    @app.route("/oauth-authorized")
    async def authorized():
        resp = await stash.authorized_response()
        if resp is None:
            return "You denied the request to sign in.", 403
        _remember(resp)
        return redirect(url_for("index"))

    return app
