"""Our client against oauthlib's provider endpoints at their defaults (tests/support/oauthlib_provider.py).

oauthlib's ``RequestValidator`` is used with every default check: nonce,
key and token formats and lengths, the 10-minute timestamp window and
``enforce_ssl`` (so the provider is served over HTTPS with a trustme CA). It
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

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.interop._client import ODD_QUERY, calls_for, make_client_app
from tests.support.browser import Browser
from tests.support.oauthlib_provider import OAuthlibProviderState, create_oauthlib_provider, new_key
from tests.support.servers import ServerThread, TLSMaterial, make_tls

METHODS = ["HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA512", "RSA-SHA1", "RSA-SHA256", "RSA-SHA512", "PLAINTEXT"]
PLACEMENTS = ["header", "query", "body"]

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PRIVATE = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
RSA_PUBLIC = (
    _KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
)


@pytest.fixture(scope="module")
def oauthlib_server() -> Iterator[tuple[ServerThread, OAuthlibProviderState, TLSMaterial]]:
    app, state = create_oauthlib_provider()
    with make_tls() as tls, ServerThread(app, ssl_context=tls.server_context, name="oauthlib-provider") as server:
        yield server, state, tls


@pytest.mark.parametrize("view", ["sync", "async"])
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("method", METHODS)
def test_dance_and_calls(
    oauthlib_server: tuple[ServerThread, OAuthlibProviderState, TLSMaterial], method: str, placement: str, view: str
) -> None:
    server, state, tls = oauthlib_server
    is_rsa = method.startswith("RSA-")
    secret = new_key(30)
    client_key = state.add_consumer(RSA_PUBLIC if is_rsa else secret, rsa=is_rsa)
    client_kwargs: dict[str, Any] = {
        "signature_method": method,
        "signature_type": placement,
        "verify": tls.client_context,
    }
    if is_rsa:
        client_kwargs["rsa_key"] = RSA_PRIVATE
    register = {
        "client_id": client_key,
        "client_secret": None if is_rsa else secret,
        "request_token_url": server.url + "/request_token",
        "authorize_url": server.url + "/authorize",
        "access_token_url": server.url + "/access_token",
        "api_base_url": server.url + "/",
        "client_kwargs": client_kwargs,
    }
    app, oauth = make_client_app(register, placement, ODD_QUERY)
    prefix = "" if view == "sync" else "a"
    with ServerThread(app, name="interop-client") as client, Browser(verify=tls.client_context) as browser:
        try:
            login = browser.login_via(f"{client.url}/{prefix}login", user="alice")
            assert login.response.status_code == 200, login.response.text
            token = login.response.json()
            assert len(token["oauth_token"]) >= 20
            calls = browser.get(
                f"{client.url}/calls/{view}", params={"t": token["oauth_token"], "s": token["oauth_token_secret"]}
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
