"""The Flask-OAuthlib compat layer against oauthlib's provider endpoints at their defaults.

The provider (``provider_tls``: the public
:class:`flask_oauth1_async.testing.FakeProvider`) keeps every default check
of oauthlib's ``RequestValidator`` (key, token and nonce formats, the
timestamp window, ``enforce_ssl``), so it is served over HTTPS with a
throw-away CA. Every test plays a whole login in a real browser session
(request token, consent, callback, access token) and then makes signed API
calls; a 200 from ``/api/...`` means oauthlib verified the signature.

Covered here:

* apps in the shape of Flask-OAuthlib's Bitbucket example (HMAC-SHA1,
  Flask-OAuthlib's default ``GET`` request token, a token dict from the
  token getter) and Atlassian Stash example (RSA-SHA1 written as
  ``oauthlib.oauth1.SIGNATURE_RSA``, ``POST`` request token), each with
  plain and ``async def`` views;
* every signature method oauthlib has, given as its ``SIGNATURE_*`` constant,
  in sync and async views (issue 14, item 7);
* oauthlib's ``SIGNATURE_TYPE_*`` placements in ``request_token_params``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import oauthlib.oauth1
import pytest
from flask import Flask, jsonify, session, url_for

from flask_oauth1_async.compat.flask_oauthlib import OAuth
from flask_oauth1_async.testing import FakeProvider
from tests.compat.apps import bitbucket_app, stash_app
from tests.support.browser import Browser
from tests.support.fake import answer_what_was_verified
from tests.support.insecure import warns_insecure
from tests.support.keys import RSA_PRIVATE, RSA_PUBLIC
from tests.support.redirects import default_redirect_code
from tests.support.servers import ServerThread
from tests.support.views import PREFIX, VIEW_KINDS

#: oauthlib's constant for each method; the layer must accept the constant itself.
OAUTHLIB_METHODS = {
    "HMAC-SHA1": oauthlib.oauth1.SIGNATURE_HMAC_SHA1,
    "HMAC-SHA256": oauthlib.oauth1.SIGNATURE_HMAC_SHA256,
    "HMAC-SHA512": oauthlib.oauth1.SIGNATURE_HMAC_SHA512,
    "RSA-SHA1": oauthlib.oauth1.SIGNATURE_RSA_SHA1,
    "RSA-SHA256": oauthlib.oauth1.SIGNATURE_RSA_SHA256,
    "RSA-SHA512": oauthlib.oauth1.SIGNATURE_RSA_SHA512,
    "PLAINTEXT": oauthlib.oauth1.SIGNATURE_PLAINTEXT,
}


@pytest.fixture
def oauthlib_provider(provider_tls: FakeProvider) -> FakeProvider:
    """The HTTPS fake provider; API paths without a route of their own answer what oauthlib verified."""
    answer_what_was_verified(provider_tls)
    return provider_tls


def _close(app: Flask) -> None:
    app.extensions["oauthlib.client"].native.close()


def _user_of(provider: FakeProvider, user: str) -> int:
    return len(provider.access_tokens(user))


# ------------------------------------------------------------------ Bitbucket-shaped app


@pytest.mark.parametrize("factory", ["create_app", "create_async_app"], ids=["sync-views", "async-views"])
def test_bitbucket_shaped_app_logs_in_with_a_get_request_token(oauthlib_provider: FakeProvider, factory: str) -> None:
    secret = secrets.token_urlsafe(24)
    key = oauthlib_provider.add_consumer(secret)
    app = getattr(bitbucket_app, factory)(oauthlib_provider.url, key, secret, oauthlib_provider.client_kwargs())
    try:
        with (
            ServerThread(app, name="bitbucket-client") as client,
            Browser(verify=oauthlib_provider.ssl_context) as me,
        ):
            assert me.get(client.url + "/").headers["Location"].endswith("/login")
            result = me.login_via(client.url + "/login?next=/", user="bob")
            assert result.callback_url.startswith(client.url + "/login/authorized?next=%2F&")
            page = result.response
            assert page.status_code == 200, page.text
            body = page.json()
            assert body["status"] == 200
            assert body["user"]["user"] == "bob"
            assert body["user"]["path"] == "1.0/user"
            assert body["user"]["method"] == "GET"
            assert body["user"]["signature_method"] == "HMAC-SHA1"
            me.get(client.url + "/logout")
            # signed out again: the app's own flask.redirect() to /login (Flask's default code)
            assert me.get(client.url + "/").status_code == default_redirect_code(app)
    finally:
        _close(app)


# ------------------------------------------------------------------ Stash-shaped app


@pytest.mark.parametrize("factory", ["create_app", "create_async_app"], ids=["sync-views", "async-views"])
def test_stash_shaped_app_logs_in_with_rsa_sha1_and_a_post_request_token(
    oauthlib_provider: FakeProvider, factory: str, tmp_path: Path
) -> None:
    pem = tmp_path / "stash.pem"
    pem.write_text(RSA_PRIVATE)
    key = oauthlib_provider.add_consumer(rsa_public_key=RSA_PUBLIC)
    app = getattr(stash_app, factory)(oauthlib_provider.url, key, str(pem), oauthlib_provider.client_kwargs())
    try:
        with (
            ServerThread(app, name="stash-client") as client,
            Browser(verify=oauthlib_provider.ssl_context) as me,
        ):
            result = me.login_via(client.url + "/login", user="carol")
            page = result.response
            assert page.status_code == 200, page.text
            body = page.json()
            assert body["projects_status"] == 200
            projects = body["projects"]
            assert (projects["user"], projects["method"], projects["signature_method"]) == ("carol", "GET", "RSA-SHA1")
            assert projects["path"] == "rest/api/1.0/projects"
            assert projects["args"] == [["limit", "25"]]
            posted = body["posted"]
            assert (posted["user"], posted["method"], posted["signature_method"]) == ("carol", "POST", "RSA-SHA1")
            assert posted["form"] == [["name", "new repo"], ["scmId", "git"]]
    finally:
        _close(app)


# ------------------------------------------------------------------ every method oauthlib has


def _generic_client(provider: FakeProvider, **remote_kwargs: Any) -> Flask:
    app = Flask("compat-oauthlib-client")
    app.secret_key = "compat-oauthlib"
    oauth = OAuth(app)
    remote = oauth.remote_app(
        "peer",
        base_url=provider.api_base_url,
        request_token_url=provider.request_token_url,
        request_token_method="POST",
        access_token_url=provider.access_token_url,
        authorize_url=provider.authorize_url,
        client_kwargs=provider.client_kwargs(),
        **remote_kwargs,
    )

    @remote.tokengetter
    def token() -> Any:
        return session.get("peer_token")

    @app.get("/s/login")
    def s_login() -> Any:
        return remote.authorize(callback=url_for("s_callback"))

    @app.get("/a/login")
    async def a_login() -> Any:
        return await remote.authorize(callback=url_for("a_callback"))

    @app.get("/s/callback")
    def s_callback() -> Any:
        resp = remote.authorized_response()
        assert resp is not None
        session["peer_token"] = (resp["oauth_token"], resp["oauth_token_secret"])
        got = remote.get("thing", data={"q": "a b"})
        posted = remote.post("thing", data={"status": "Hello Ladies + Gentlemen"})
        return jsonify(got=[got.status, got.data], posted=[posted.status, posted.data])

    @app.get("/a/callback")
    async def a_callback() -> Any:
        resp = await remote.authorized_response()
        assert resp is not None
        session["peer_token"] = (resp["oauth_token"], resp["oauth_token_secret"])
        got = await remote.get("thing", data={"q": "a b"})
        posted = await remote.post("thing", data={"status": "Hello Ladies + Gentlemen"})
        return jsonify(got=[got.status, got.data], posted=[posted.status, posted.data])

    return app


def _signing(provider: FakeProvider, method: str) -> dict[str, Any]:
    if method.startswith("RSA-"):
        return {"consumer_key": provider.add_consumer(rsa_public_key=RSA_PUBLIC), "rsa_key": RSA_PRIVATE}
    secret = secrets.token_urlsafe(24)
    return {"consumer_key": provider.add_consumer(secret), "consumer_secret": secret}


@pytest.mark.parametrize("view", VIEW_KINDS)
@pytest.mark.parametrize("method", list(OAUTHLIB_METHODS))
def test_every_oauthlib_signature_method(oauthlib_provider: FakeProvider, method: str, view: str) -> None:
    app = _generic_client(
        oauthlib_provider, signature_method=OAUTHLIB_METHODS[method], **_signing(oauthlib_provider, method)
    )
    login = PREFIX[view] + "/login"
    try:
        with (
            ServerThread(app, name="compat-oauthlib-client") as client,
            Browser(verify=oauthlib_provider.ssl_context) as me,
        ):
            page = me.login_via(client.url + login, user="dave").response
    finally:
        _close(app)
    assert page.status_code == 200, page.text
    body = page.json()
    got_status, got = body["got"]
    posted_status, posted = body["posted"]
    assert (got_status, posted_status) == (200, 200)
    assert (got["user"], got["signature_method"], got["args"]) == ("dave", method, [["q", "a b"]])
    assert (posted["user"], posted["signature_method"]) == ("dave", method)
    assert posted["form"] == [["status", "Hello Ladies + Gentlemen"]]


@pytest.mark.parametrize(
    "placement",
    [
        oauthlib.oauth1.SIGNATURE_TYPE_AUTH_HEADER,
        oauthlib.oauth1.SIGNATURE_TYPE_QUERY,
        oauthlib.oauth1.SIGNATURE_TYPE_BODY,
    ],
)
def test_oauthlib_signature_type_constants_in_request_token_params(
    oauthlib_provider: FakeProvider, placement: str
) -> None:
    app = _generic_client(
        oauthlib_provider,
        request_token_params={"signature_type": placement},
        signature_method=oauthlib.oauth1.SIGNATURE_HMAC_SHA256,
        **_signing(oauthlib_provider, "HMAC-SHA256"),
    )
    try:
        # A compat remote's settings are read at its first use: the warning comes then.
        with (
            warns_insecure(placement == "QUERY", match="signature_type='query'"),
            ServerThread(app, name="compat-oauthlib-client") as client,
            Browser(verify=oauthlib_provider.ssl_context) as me,
        ):
            page = me.login_via(client.url + "/s/login", user="erin").response
            token_count = _user_of(oauthlib_provider, "erin")
    finally:
        _close(app)
    assert token_count >= 1
    body = page.json()
    posted_status, posted = body["posted"]
    assert posted_status == 200, posted
    assert posted["signature_method"] == "HMAC-SHA256"
    form_keys = [k for k, _ in posted["form"]]
    arg_keys = [k for k, _ in posted["args"]]
    if placement == "BODY":
        assert "oauth_signature" in form_keys
    elif placement == "QUERY":
        assert "oauth_signature" in arg_keys
    else:
        assert "oauth_signature" not in form_keys + arg_keys
    if placement != "BODY":  # a GET has no body to carry the parameters
        got_status, got = body["got"]
        assert got_status == 200, got
