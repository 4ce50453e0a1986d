"""Our client against oauthlib's provider endpoints at their defaults: the public FakeProvider.

:class:`flask_oauth1_async.testing.FakeProvider` is oauthlib's endpoints with a
storage-only ``RequestValidator``, so every default check applies: nonce,
key and token formats and lengths, the 10-minute timestamp window and
``enforce_ssl`` (it serves HTTPS with a trustme CA). It
supports every signature method we do (HMAC-SHA1/-SHA256/-SHA512,
RSA-SHA1/-SHA256/-SHA512, PLAINTEXT; its RSA code needs PyJWT) and all three
placements. Each case runs the whole dance (request token, authorize, access
token) and the signed calls of :mod:`tests.interop._client`, in a sync or an
async view, through the public API only.

Known oauthlib quirk (NOTES.md section 9): it decodes ``oauth_*`` values in a
query or body twice. Our keys, tokens and secrets are alphanumeric (oauthlib's
default format), so the quirk cannot change them here.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from flask_oauth1_async.testing import FakeProvider
from tests.interop._client import ODD_QUERY, calls_for, make_client_app
from tests.support.browser import Browser
from tests.support.fake import answer_what_was_verified
from tests.support.keys import RSA_PRIVATE, RSA_PUBLIC
from tests.support.servers import ServerThread
from tests.support.views import PREFIX, VIEW_KINDS

METHODS = ["HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA512", "RSA-SHA1", "RSA-SHA256", "RSA-SHA512", "PLAINTEXT"]
PLACEMENTS = ["header", "query", "body"]


@pytest.mark.parametrize("view", VIEW_KINDS)
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("method", METHODS)
def test_dance_and_calls(provider_tls: FakeProvider, method: str, placement: str, view: str) -> None:
    provider = provider_tls
    answer_what_was_verified(provider)
    is_rsa = method.startswith("RSA-")
    secret = secrets.token_urlsafe(24)
    client_key = provider.add_consumer(rsa_public_key=RSA_PUBLIC) if is_rsa else provider.add_consumer(secret)
    client_kwargs: dict[str, Any] = {
        "signature_method": method,
        "signature_type": placement,
        **provider.client_kwargs(),
    }
    if is_rsa:
        client_kwargs["rsa_key"] = RSA_PRIVATE
    register = {
        "client_id": client_key,
        "client_secret": None if is_rsa else secret,
        "request_token_url": provider.request_token_url,
        "authorize_url": provider.authorize_url,
        "access_token_url": provider.access_token_url,
        "api_base_url": provider.url + "/",
        "client_kwargs": client_kwargs,
    }
    app, oauth = make_client_app(register, placement, ODD_QUERY)
    with ServerThread(app, name="interop-client") as client, Browser(verify=provider.ssl_context or True) as browser:
        try:
            login = browser.login_via(client.url + PREFIX[view] + "/login", user="alice")
            assert login.response.status_code == 200, login.response.text
            token = login.response.json()
            assert len(token["oauth_token"]) >= 20
            calls = browser.get(
                client.url + PREFIX[view] + "/calls",
                params={"t": token["oauth_token"], "s": token["oauth_token_secret"]},
            )
            assert calls.status_code == 200, calls.text
            results = calls.json()
        finally:
            oauth.close()
    expected = calls_for(placement, ODD_QUERY)
    assert [r["method"] for r in results] == [m for m, _ in expected]
    for result, (_, kwargs) in zip(results, expected, strict=True):
        assert result["status"] == 200, result
        body = result["body"]
        assert body["user"] == "alice"
        assert body["signature_method"] == method
        if "params" in kwargs:
            # what the provider decoded is what we meant to send (spaces, "+", unicode, reserved)
            got = {k: v for k, v in body["args"] if not k.startswith("oauth_")}
            assert got == kwargs["params"]
        if "data" in kwargs:
            got = {k: v for k, v in body["form"] if not k.startswith("oauth_")}
            assert got == kwargs["data"]
