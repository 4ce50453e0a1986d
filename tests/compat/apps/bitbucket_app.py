"""A Bitbucket-style app in the shape of Flask-OAuthlib's Bitbucket example, with sync and async views.

What makes it that shape: the remote app keeps Flask-OAuthlib's default
``GET`` for the request token (only ``access_token_method`` is spelled out),
the callback stores the whole token dict that ``authorized_response()``
returns in the session, and the ``tokengetter`` hands that dict back (not a
``(token, secret)`` pair as in the Twitter example). The home page shows the
signed ``user`` resource as JSON; a denied login shows a short message.

Besides the import, the only line a Flask-OAuthlib version would not have is
``client_kwargs``: the tests serve their provider over HTTPS with a
throw-away CA, which the client must be told to trust (``http_options``).
:func:`create_async_app` is the same app after its views became ``async def``.
"""

from __future__ import annotations

from flask import Flask, jsonify, redirect, request, session, url_for

from flask_oauth1_async.compat.flask_oauthlib import OAuth


def _remote(oauth, provider_url, consumer_key, consumer_secret, http_options):
    return oauth.remote_app(
        "bitbucket",
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        base_url=provider_url + "/api/1.0/",
        request_token_url=provider_url + "/oauth/request_token",
        access_token_url=provider_url + "/oauth/access_token",
        access_token_method="POST",
        authorize_url=provider_url + "/oauth/authorize",
        client_kwargs=http_options,
    )


def _where_next():
    target = request.args.get("next")
    return target if target and target.startswith("/") and not target.startswith("//") else None


def create_app(provider_url, consumer_key, consumer_secret, http_options=None):
    app = Flask(__name__)
    app.secret_key = "bitbucket example, change me"
    oauth = OAuth(app)
    bitbucket = _remote(oauth, provider_url, consumer_key, consumer_secret, http_options)

    @bitbucket.tokengetter
    def get_bitbucket_token():
        return session.get("bitbucket_oauth")

    @app.route("/")
    def index():
        if "bitbucket_oauth" not in session:
            return redirect(url_for("login"))
        resp = bitbucket.get("user")
        return jsonify(status=resp.status, user=resp.data)

    @app.route("/login")
    def login():
        return bitbucket.authorize(callback=url_for("authorized", next=_where_next(), _external=True))

    @app.route("/logout")
    def logout():
        session.pop("bitbucket_oauth", None)
        return redirect(url_for("index"))

    @app.route("/login/authorized")
    def authorized():
        resp = bitbucket.authorized_response()
        if resp is None:
            return "Access denied: the user said no.", 403
        session["bitbucket_oauth"] = resp
        return redirect(_where_next() or url_for("index"))

    return app


def create_async_app(provider_url, consumer_key, consumer_secret, http_options=None):
    app = Flask(__name__)
    app.secret_key = "bitbucket example, change me"
    oauth = OAuth(app)
    bitbucket = _remote(oauth, provider_url, consumer_key, consumer_secret, http_options)

    @bitbucket.tokengetter
    def get_bitbucket_token():
        return session.get("bitbucket_oauth")

    @app.route("/")
    async def index():
        if "bitbucket_oauth" not in session:
            return redirect(url_for("login"))
        resp = await bitbucket.get("user")
        return jsonify(status=resp.status, user=resp.data)

    @app.route("/login")
    async def login():
        return await bitbucket.authorize(callback=url_for("authorized", next=_where_next(), _external=True))

    @app.route("/logout")
    def logout():
        session.pop("bitbucket_oauth", None)
        return redirect(url_for("index"))

    @app.route("/login/authorized")
    async def authorized():
        resp = await bitbucket.authorized_response()
        if resp is None:
            return "Access denied: the user said no.", 403
        session["bitbucket_oauth"] = resp
        return redirect(_where_next() or url_for("index"))

    return app
