"""The Flask-OAuthlib compat layer against oauthlib's provider endpoints at their defaults.

The provider (:mod:`tests.support.oauthlib_provider`) keeps every default
check of oauthlib's ``RequestValidator`` (key, token and nonce formats, the
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

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oauthlib.oauth1
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, session, url_for

from flask_oauth1_async.compat.flask_oauthlib import OAuth
from tests.compat.apps import bitbucket_app, stash_app
from tests.support.browser import Browser
from tests.support.oauthlib_provider import OAuthlibProviderState, create_oauthlib_provider, new_key
from tests.support.redirects import default_redirect_code
from tests.support.servers import ServerThread, TLSMaterial, make_tls

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PRIVATE = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
RSA_PUBLIC = (
    _KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
)

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


@dataclass
class OAuthlibProvider:
    server: ServerThread
    state: OAuthlibProviderState
    tls: TLSMaterial

    @property
    def url(self) -> str:
        return self.server.url

    def http_options(self) -> dict[str, Any]:
        return {"verify": self.tls.client_context}


@pytest.fixture(scope="module")
def oauthlib_provider() -> Iterator[OAuthlibProvider]:
    app, state = create_oauthlib_provider()
    # Flask-OAuthlib's default request_token_method is GET. oauthlib's RequestTokenEndpoint
    # accepts any method; the support app routes only POST, so route GET to the same view too.
    app.add_url_rule(
        "/request_token", endpoint="request_token_get", view_func=app.view_functions["request_token"], methods=["GET"]
    )
    with make_tls() as tls, ServerThread(app, ssl_context=tls.server_context, name="compat-oauthlib") as server:
        yield OAuthlibProvider(server, state, tls)


def _close(app: Flask) -> None:
    app.extensions["oauthlib.client"].native.close()


def _user_of(provider: OAuthlibProvider, user: str) -> int:
    with provider.state.lock:
        return sum(1 for record in provider.state.access_tokens.values() if record["user"] == user)


# ------------------------------------------------------------------ Bitbucket-shaped app


@pytest.mark.parametrize("factory", ["create_app", "create_async_app"], ids=["sync-views", "async-views"])
def test_bitbucket_shaped_app_logs_in_with_a_get_request_token(
    oauthlib_provider: OAuthlibProvider, factory: str
) -> None:
    secret = new_key(30)
    key = oauthlib_provider.state.add_consumer(secret)
    app = getattr(bitbucket_app, factory)(oauthlib_provider.url, key, secret, oauthlib_provider.http_options())
    try:
        with (
            ServerThread(app, name="bitbucket-client") as client,
            Browser(verify=oauthlib_provider.tls.client_context) as me,
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
    oauthlib_provider: OAuthlibProvider, factory: str, tmp_path: Path
) -> None:
    pem = tmp_path / "stash.pem"
    pem.write_text(RSA_PRIVATE)
    key = oauthlib_provider.state.add_consumer(RSA_PUBLIC, rsa=True)
    app = getattr(stash_app, factory)(oauthlib_provider.url, key, str(pem), oauthlib_provider.http_options())
    try:
        with (
            ServerThread(app, name="stash-client") as client,
            Browser(verify=oauthlib_provider.tls.client_context) as me,
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


def _generic_client(provider: OAuthlibProvider, **remote_kwargs: Any) -> Flask:
    app = Flask("compat-oauthlib-client")
    app.secret_key = "compat-oauthlib"
    oauth = OAuth(app)
    remote = oauth.remote_app(
        "peer",
        base_url=provider.url + "/api/",
        request_token_url=provider.url + "/request_token",
        request_token_method="POST",
        access_token_url=provider.url + "/access_token",
        authorize_url=provider.url + "/authorize",
        client_kwargs=provider.http_options(),
        **remote_kwargs,
    )

    @remote.tokengetter
    def token() -> Any:
        return session.get("peer_token")

    @app.get("/login")
    def login() -> Any:
        return remote.authorize(callback=url_for("callback"))

    @app.get("/alogin")
    async def alogin() -> Any:
        return await remote.authorize(callback=url_for("acallback"))

    @app.get("/callback")
    def callback() -> Any:
        resp = remote.authorized_response()
        assert resp is not None
        session["peer_token"] = (resp["oauth_token"], resp["oauth_token_secret"])
        got = remote.get("thing", data={"q": "a b"})
        posted = remote.post("thing", data={"status": "Hello Ladies + Gentlemen"})
        return jsonify(got=[got.status, got.data], posted=[posted.status, posted.data])

    @app.get("/acallback")
    async def acallback() -> Any:
        resp = await remote.authorized_response()
        assert resp is not None
        session["peer_token"] = (resp["oauth_token"], resp["oauth_token_secret"])
        got = await remote.get("thing", data={"q": "a b"})
        posted = await remote.post("thing", data={"status": "Hello Ladies + Gentlemen"})
        return jsonify(got=[got.status, got.data], posted=[posted.status, posted.data])

    return app


def _signing(provider: OAuthlibProvider, method: str) -> dict[str, Any]:
    if method.startswith("RSA-"):
        return {"consumer_key": provider.state.add_consumer(RSA_PUBLIC, rsa=True), "rsa_key": RSA_PRIVATE}
    secret = new_key(30)
    return {"consumer_key": provider.state.add_consumer(secret), "consumer_secret": secret}


@pytest.mark.parametrize("view", ["sync", "async"])
@pytest.mark.parametrize("method", list(OAUTHLIB_METHODS))
def test_every_oauthlib_signature_method(oauthlib_provider: OAuthlibProvider, method: str, view: str) -> None:
    app = _generic_client(
        oauthlib_provider, signature_method=OAUTHLIB_METHODS[method], **_signing(oauthlib_provider, method)
    )
    login = "/login" if view == "sync" else "/alogin"
    try:
        with (
            ServerThread(app, name="compat-oauthlib-client") as client,
            Browser(verify=oauthlib_provider.tls.client_context) as me,
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
    oauthlib_provider: OAuthlibProvider, placement: str
) -> None:
    app = _generic_client(
        oauthlib_provider,
        request_token_params={"signature_type": placement},
        signature_method=oauthlib.oauth1.SIGNATURE_HMAC_SHA256,
        **_signing(oauthlib_provider, "HMAC-SHA256"),
    )
    try:
        with (
            ServerThread(app, name="compat-oauthlib-client") as client,
            Browser(verify=oauthlib_provider.tls.client_context) as me,
        ):
            page = me.login_via(client.url + "/login", user="erin").response
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
