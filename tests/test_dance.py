"""The whole OAuth 1.0a dance, in sync and async views, through real servers and a scripted browser.

* the basic dance: two logins in a row on one client app, a ``def`` view and
  an ``async def`` view;
* the token returned by ``authorize_access_token()`` (extra fields, masked
  ``repr``, the secret present) and its reuse by a later call of the same
  request without ``fetch_token``;
* every signature method (HMAC-SHA1, HMAC-SHA256, RSA-SHA1, PLAINTEXT) with
  every signature type (header, query, body), over HTTP and HTTPS, checking
  where the provider actually received the protocol parameters;
* PIN logins (no callback URL, so ``oauth_callback="oob"``): the provider
  shows the verifier, the user types it in, and the newest pending login is
  completed with it; a PIN without any pending login is a
  ``CallbackTokenError``;
* token answers with stray ``&`` separators (leading, doubled, trailing, with
  a line break) are parsed, not refused.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from flask import Flask, Response, jsonify, request

from flask_oauth1_async import CallbackTokenError, OAuth, OAuth1Token
from flask_oauth1_async.testing import FakeProvider, ProviderCall
from tests.conftest import ClientAppFactory
from tests.support.browser import Browser
from tests.support.fake import last, register_settings
from tests.support.insecure import plaintext_opt_out, warns_insecure
from tests.support.keys import RSA_PRIVATE, RSA_PUBLIC
from tests.support.views import PREFIX, VIEW_KINDS, catch_oauth_errors, dance_routes, query_of, with_query

SIGNATURE_METHODS = ("HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1", "PLAINTEXT")
SIGNATURE_TYPES = ("header", "query", "body")

_HEADER_PARAM = re.compile(r'([A-Za-z_]+)="([^"]*)"')


def _oauth_params(recorded: ProviderCall) -> tuple[str, dict[str, str]]:
    """Where the request carried its ``oauth_*`` parameters, and those parameters (decoded)."""
    header = recorded.authorization
    query = dict(parse_qsl(urlsplit(recorded.url).query, keep_blank_values=True))
    body = dict(parse_qsl(recorded.body, keep_blank_values=True))
    found: list[tuple[str, dict[str, str]]] = []
    if header is not None:
        assert header.startswith("OAuth "), header
        found.append(("header", {k: unquote(v) for k, v in _HEADER_PARAM.findall(header)}))
    if "oauth_signature" in query:
        found.append(("query", {k: v for k, v in query.items() if k.startswith("oauth_")}))
    if "oauth_signature" in body:
        found.append(("body", {k: v for k, v in body.items() if k.startswith("oauth_")}))
    assert len(found) == 1, f"protocol parameters expected in exactly one place, got {found!r}"
    return found[0]


# ------------------------------------------------------------------ the basic dance


def test_sync_and_async_dance(provider: FakeProvider, client_app: ClientAppFactory) -> None:
    """One client app, two logins in a row: a ``def`` view for alice, then an ``async def`` view for bob."""
    ca = client_app(provider, functools.partial(dance_routes, me=True))
    for kind, user in (("sync", "alice"), ("async", "bob")):
        with Browser() as browser:
            result = browser.login_via(ca.url + PREFIX[kind] + "/login", user=user)
            assert result.response.status_code == 200, result.response.text
            body = result.response.json()
            assert body["token"]["screen_name"] == user
            assert body["me"]["user"] == user
    assert len(provider.received("access_token")) == 2


# ------------------------------------------------------------------ the token


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_dance_returns_full_token_and_reuses_it_in_the_same_request(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    fetch_calls: list[str] = []

    def fetch_token(name: str) -> None:  # must never be consulted: the dance's token is used
        fetch_calls.append(name)
        return None

    ca = client_app(provider, functools.partial(dance_routes, me=True), oauth_kwargs={"fetch_token": fetch_token})
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login", user="alice")
    assert result.response.status_code == 200, result.response.text
    assert urlsplit(result.callback_url).path == PREFIX[kind] + "/callback"
    body = result.response.json()

    token = body["token"]
    assert body["token_class"] == "OAuth1Token"
    assert token["screen_name"] == "alice"
    assert token["user_id"] == provider.users["alice"]["user_id"]
    secret = token["oauth_token_secret"]
    assert secret, "the token secret must be returned"
    # The token is the one the provider issued (not the request token).
    assert provider.user_of(token["oauth_token"]) == "alice"
    assert provider.token_secret(token["oauth_token"]) == secret
    assert token["oauth_token"] != result.callback_params["oauth_token"]

    # repr/str mask the secret but show the rest.
    for shown in (body["token_repr"], body["token_str"]):
        assert secret not in shown
        assert "'oauth_token_secret': '***'" in shown
        assert token["oauth_token"] in shown
        assert "alice" in shown

    # The later call of the same request was signed with that token, without fetch_token.
    assert body["me_status"] == 200
    assert body["me"]["user"] == "alice"
    assert fetch_calls == []
    me_request = last(provider, "api", "me")
    _, params = _oauth_params(me_request)
    assert params["oauth_token"] == token["oauth_token"]
    assert len(provider.received("request_token")) == 1
    assert len(provider.received("access_token")) == 1


def test_oauth1_token_repr_masks_secret() -> None:
    token = OAuth1Token(oauth_token="tok", oauth_token_secret="very-secret", screen_name="bob")
    assert "very-secret" not in repr(token)
    assert "very-secret" not in str(token)
    assert token.secret == "very-secret"
    assert token.token == "tok"
    assert token == {"oauth_token": "tok", "oauth_token_secret": "very-secret", "screen_name": "bob"}


# ------------------------------------------------------- signature methods x types


def _signature_settings(p: FakeProvider, method: str, sig_type: str) -> dict[str, Any]:
    client_kwargs: dict[str, Any] = dict(register_settings(p).get("client_kwargs", {}))  # TLS verify, if any
    client_kwargs["signature_type"] = sig_type
    client_kwargs["signature_method"] = method
    settings: dict[str, Any] = {"client_kwargs": client_kwargs}
    if method == "RSA-SHA1":
        client_kwargs["rsa_key"] = RSA_PRIVATE
        settings.update(client_id=p.add_consumer(rsa_public_key=RSA_PUBLIC), client_secret=None)
    return settings


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("method", SIGNATURE_METHODS)
@pytest.mark.parametrize("sig_type", SIGNATURE_TYPES)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_dance_with_every_signature_method_and_type(
    kind: str,
    sig_type: str,
    method: str,
    scheme: str,
    request: pytest.FixtureRequest,
    client_app: ClientAppFactory,
) -> None:
    p: FakeProvider = request.getfixturevalue("provider" if scheme == "http" else "provider_tls")
    assert p.url.startswith(scheme + "://")
    settings = {**_signature_settings(p, method, sig_type), **plaintext_opt_out(method, p.url)}
    with warns_insecure(sig_type == "query", match="signature_type='query'"):
        ca = client_app(p, functools.partial(dance_routes, me=True), **settings)
    with Browser(verify=p.ssl_context or True) as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login", user="carol")
    assert result.response.status_code == 200, result.response.text
    body = result.response.json()
    assert body["token"]["screen_name"] == "carol"
    assert body["me"]["user"] == "carol"
    client_id = settings.get("client_id", p.client_id)
    assert body["me"]["client_id"] == client_id

    callback_token = result.callback_params["oauth_token"]
    expectations: dict[tuple[str, str | None], dict[str, str]] = {
        ("request_token", None): {"oauth_callback": ca.url + PREFIX[kind] + "/callback"},
        ("access_token", None): {
            "oauth_token": callback_token,
            "oauth_verifier": result.callback_params["oauth_verifier"],
        },
        ("api", "me"): {"oauth_token": body["token"]["oauth_token"]},
    }
    for (endpoint, path), expected in expectations.items():
        recorded = last(p, endpoint, path)
        assert recorded.valid, (endpoint, "the provider verified the signature")
        location, params = _oauth_params(recorded)
        assert location == sig_type, (path, location)
        assert params["oauth_signature_method"] == method, path
        assert params["oauth_consumer_key"] == client_id, path
        assert params["oauth_signature"], path
        for key, value in expected.items():
            assert params[key] == value, (path, key)
        if sig_type == "body":
            assert recorded.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
    # Each endpoint was hit exactly once: nothing was retried or rejected.
    assert len(p.received("request_token")) == 1
    assert len(p.received("access_token")) == 1
    assert len(p.received("api", "me")) == 1


# ------------------------------------------------------------------ PIN (oob) logins


def _pin_routes(app: Flask, oauth: OAuth) -> None:
    catch_oauth_errors(app)

    @app.route("/s/pin/start")
    def s_start() -> Any:
        return oauth.demo.authorize_redirect()

    @app.route("/s/pin/finish")
    def s_finish() -> Response:
        token = oauth.demo.authorize_access_token(oauth_verifier=request.args["pin"])
        return jsonify(screen_name=token["screen_name"], current=oauth.demo.token is token)

    @app.route("/a/pin/start")
    async def a_start() -> Any:
        return await oauth.demo.authorize_redirect()

    @app.route("/a/pin/finish")
    async def a_finish() -> Response:
        token = await oauth.demo.authorize_access_token(oauth_verifier=request.args["pin"])
        return jsonify(screen_name=token["screen_name"], current=oauth.demo.token is token)


def _pin_start(browser: Browser, url: str, provider: FakeProvider) -> str:
    resp = browser.get(url)
    assert resp.status_code == 302, resp.text
    sent = last(provider, "request_token")
    assert sent.authorization is not None
    assert 'oauth_callback="oob"' in sent.authorization
    return str(resp.headers["Location"])


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_pin_login_completes_the_newest_pending_login(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _pin_routes)
    base = ca.url + PREFIX[mode] + "/pin"
    with Browser() as browser:
        older = _pin_start(browser, base + "/start", provider)
        newer = _pin_start(browser, base + "/start", provider)
        newer_token = query_of(newer)["oauth_token"]
        assert query_of(older)["oauth_token"] != newer_token

        # The provider shows the PIN instead of redirecting (oauthlib answers it form-encoded).
        shown = browser.get(with_query(newer, user="dave"))
        assert shown.status_code == 200, shown.text
        assert shown.headers["content-type"].startswith("application/x-www-form-urlencoded")
        fields = dict(parse_qsl(shown.text))
        assert fields["oauth_token"] == newer_token

        done = browser.get(base + "/finish", params={"pin": fields["oauth_verifier"]})
    assert done.status_code == 200, done.text
    assert done.json() == {"screen_name": "dave", "current": True}
    assert len(provider.received("access_token")) == 1
    exchange = last(provider, "access_token")
    assert exchange.authorization is not None
    assert f'oauth_token="{newer_token}"' in exchange.authorization
    assert f'oauth_verifier="{fields["oauth_verifier"]}"' in exchange.authorization


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_pin_without_a_pending_login_is_a_callback_token_error(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _pin_routes)
    with Browser() as browser:
        resp = browser.get(ca.url + PREFIX[mode] + "/pin/finish", params={"pin": "123456"})
    assert resp.status_code == 418, resp.text
    (exc,) = ca.app.config["CAUGHT"]
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "missing"
    assert len(provider.received("access_token")) == 0


# ------------------------------------------------------------------ lenient token answers


@pytest.mark.parametrize(
    "answer",
    [
        "oauth_token=a&oauth_token_secret=b&",
        "oauth_token=a&oauth_token_secret=b&&",
        "&oauth_token=a&&oauth_token_secret=b",
        "oauth_token=a&oauth_token_secret=b&\r\n",
    ],
    ids=["trailing", "double-trailing", "leading-and-double", "trailing-crlf"],
)
@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_token_answer_with_stray_ampersands_is_accepted(
    mode: str, answer: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    provider.answer_next("access_token", answer)
    ca = client_app(provider, dance_routes)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login")
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["token"] == {"oauth_token": "a", "oauth_token_secret": "b"}
    assert len(provider.received("access_token")) == 1
