"""Providers on the move: E*TRADE's token renewal, Garmin's OAuth 1 -> OAuth 2 exchange, NetSuite's SHA-256.

Against the fake provider (``flask_oauth1_async.testing.FakeProvider``,
oauthlib's endpoints checking every signature): a user logs in through the
preset (its endpoints pointed at the fake), then the one-line helper makes
its signed call with that user's access token, from a plain view and from an
``async def`` view; the fake records the call and checks the signature. The
exact production URLs are checked with an ``httpx.MockTransport`` that
answers in place of the network, so no real host is ever contacted.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask import Flask, session, url_for

from flask_oauth1_async import ConfigurationError, OAuth, providers
from flask_oauth1_async.testing import FakeProvider, login

pytest_plugins = ["flask_oauth1_async.testing.pytest_plugin"]

VIEW_KINDS = ["sync", "async"]


def _app(fake: FakeProvider, name: str, preset: dict[str, Any], api_path: str, helper: Any) -> tuple[Flask, OAuth]:
    """An app with remote *name* from *preset*, its endpoints and API base on the fake, and two helper views."""
    app = Flask(f"news-{name}")
    app.secret_key = "provider-news"
    oauth = OAuth(app)
    overrides = {
        **fake.register_kwargs(),
        "api_base_url": fake.url + "/api/" + api_path,  # the fake's API, shaped like the provider's base
    }
    remote = providers.register(oauth, name, preset, **overrides)

    @app.get("/sync/login")
    def sync_login() -> Any:
        return remote.authorize_redirect(url_for("sync_callback", _external=True))

    @app.get("/sync/callback")
    def sync_callback() -> Any:
        session["token"] = dict(remote.authorize_access_token())
        return {"ok": True}

    @app.get("/async/login")
    async def async_login() -> Any:
        return await remote.authorize_redirect(url_for("async_callback", _external=True))

    @app.get("/async/callback")
    async def async_callback() -> Any:
        session["token"] = dict(await remote.authorize_access_token())
        return {"ok": True}

    @app.get("/sync/helper")
    def sync_helper() -> Any:
        resp = helper(remote, token=session["token"])
        return {"status": resp.status_code, "body": resp.json()}

    @app.get("/async/helper")
    async def async_helper() -> Any:
        resp = await helper(remote, token=session["token"])
        return {"status": resp.status_code, "body": resp.json()}

    return app, oauth


# ------------------------------------------------------------------ E*TRADE


def _etrade_for_the_fake() -> dict[str, Any]:
    # The fake's authorize page takes oauth_token, not E*TRADE's key/token pair.
    return providers.merge(providers.etrade(), authorize_token_param="oauth_token", authorize_consumer_key_param=None)


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_etrade_renewal_is_one_signed_call_with_the_access_token(kind: str, oauth1_provider: FakeProvider) -> None:
    fake = oauth1_provider
    fake.respond("oauth/renew_access_token", "Access Token has been renewed", method="GET")
    app, oauth = _app(fake, "etrade", _etrade_for_the_fake(), "v1/", providers.renew_etrade_token)
    try:
        client = app.test_client()
        assert login(client, f"/{kind}/login", user="bob", provider=fake).get_json() == {"ok": True}
        (bobs_token,) = fake.access_tokens("bob")
        assert client.get(f"/{kind}/helper").get_json() == {"status": 200, "body": "Access Token has been renewed"}
        (call,) = fake.calls
        assert (call.method, call.path, call.args) == ("GET", "oauth/renew_access_token", {})
        assert (call.signed, call.valid) == (True, True)
        assert (call.user, call.token) == ("bob", bobs_token)
        # A token the provider no longer knows (past midnight): the provider's answer, not an exception.
        fake.revoke("bob")
        assert client.get(f"/{kind}/helper").get_json()["status"] == 401
    finally:
        oauth.close()


def _production_call(preset: dict[str, Any], helper: Any, answer: Any) -> httpx.Request:
    """Call *helper* on a remote registered from *preset* as it is, with a mock transport instead of the network."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    transport = httpx.MockTransport(handler)
    app = Flask("news-production-urls")
    oauth = OAuth(app)
    remote = providers.register(
        oauth,
        "remote",
        preset,
        client_id="consumer-key",
        client_secret="consumer-secret",
        client_kwargs={"transport": transport},
    )
    try:
        with app.test_request_context("/"):
            resp = helper(remote, token={"oauth_token": "access-token", "oauth_token_secret": "token-secret"})
        assert resp.status_code == 200
        assert resp.json() == answer
    finally:
        oauth.close()
    (request,) = seen
    authorization = request.headers["Authorization"]
    assert 'oauth_token="access-token"' in authorization
    assert 'oauth_consumer_key="consumer-key"' in authorization
    assert "token-secret" not in authorization
    return request


@pytest.mark.parametrize(
    ("sandbox", "url"),
    [
        (False, "https://api.etrade.com/oauth/renew_access_token"),
        (True, "https://apisb.etrade.com/oauth/renew_access_token"),
    ],
    ids=["live", "sandbox"],
)
def test_etrade_renewal_url_live_and_sandbox(sandbox: bool, url: str) -> None:
    request = _production_call(providers.etrade(sandbox=sandbox), providers.renew_etrade_token, "renewed")
    assert (request.method, str(request.url)) == ("GET", url)


# ------------------------------------------------------------------ Garmin


OAUTH2_ANSWER = {"access_token": "oauth2-access", "refresh_token": "oauth2-refresh", "expires_in": 86400}


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_garmin_token_exchange_is_a_post_signed_with_the_oauth1_token(kind: str, oauth1_provider: FakeProvider) -> None:
    fake = oauth1_provider
    fake.respond("partner-gateway/rest/user/token-exchange", OAUTH2_ANSWER, method="POST")
    app, oauth = _app(fake, "garmin", providers.GARMIN, "wellness-api/rest/", providers.exchange_garmin_token)
    try:
        client = app.test_client()
        assert login(client, f"/{kind}/login", user="alice", provider=fake).get_json() == {"ok": True}
        (alices_token,) = fake.access_tokens("alice")
        assert client.get(f"/{kind}/helper").get_json() == {"status": 200, "body": OAUTH2_ANSWER}
        (call,) = fake.calls
        assert (call.method, call.path) == ("POST", "partner-gateway/rest/user/token-exchange")
        assert (call.signed, call.valid) == (True, True)
        assert (call.user, call.token) == ("alice", alices_token)
    finally:
        oauth.close()


def test_garmin_token_exchange_url() -> None:
    request = _production_call(providers.GARMIN, providers.exchange_garmin_token, OAUTH2_ANSWER)
    assert (request.method, str(request.url)) == (
        "POST",
        "https://apis.garmin.com/partner-gateway/rest/user/token-exchange",
    )


def test_the_helpers_need_an_api_base_url() -> None:
    app = Flask("news-no-base")
    oauth = OAuth(app)
    remote = oauth.register("etrade", client_id="k", client_secret="s")
    try:
        with app.test_request_context("/"), pytest.raises(ConfigurationError, match="has no api_base_url"):
            providers.renew_etrade_token(remote, token=("t", "s"))
    finally:
        oauth.close()


# ------------------------------------------------------------------ NetSuite


def test_netsuite_signs_with_hmac_sha256_and_the_account_realm() -> None:
    def customer(remote: Any, token: Any) -> Any:
        return remote.get("record/v1/customer/1", token=token)

    request = _production_call(providers.netsuite("1234567_SB1"), customer, {"id": "1"})
    assert str(request.url) == "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/customer/1"
    authorization = request.headers["Authorization"]
    assert 'oauth_signature_method="HMAC-SHA256"' in authorization
    assert "HMAC-SHA1" not in authorization
    assert 'realm="1234567_SB1"' in authorization
