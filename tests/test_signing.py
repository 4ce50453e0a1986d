"""The signer's own output: nonce, consumer-only signing, body hash, wire encoding.

Published test vectors and the cross-checks against other implementations
live in ``test_signing_vectors.py`` and ``test_signing_equivalence.py``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import httpx
import pytest
from oauthlib.oauth1 import RequestValidator

from flask_oauth1_async.errors import ConfigurationError
from flask_oauth1_async.signing import SIGNATURE_METHODS, Signer, new_nonce


def _sent_nonce() -> str:
    request = Signer("key", "secret").sign(httpx.Request("GET", "https://example.test/"))
    fields = dict(part.split("=", 1) for part in request.headers["Authorization"][len("OAuth ") :].split(", "))
    return fields["oauth_nonce"].strip('"')


def test_nonce_passes_oauthlib_default_check() -> None:
    # oauthlib's RequestValidator, untouched: 20-30 ASCII letters and digits.
    validator = RequestValidator()
    for _ in range(200):
        assert validator.check_nonce(_sent_nonce())


def test_nonce_carries_128_random_bits() -> None:
    nonces = {new_nonce() for _ in range(5000)}
    assert len(nonces) == 5000
    # 26 base32 characters: 5 bits each, the last one carrying 3 (16 bytes = 128 bits).
    assert {len(n) for n in nonces} == {26}
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert set().union(*nonces) == alphabet  # every symbol used: no fixed positions


# ---------------------------------------------------------------- consumer-only signing


def _fields(request: httpx.Request) -> dict[str, str]:
    raw = request.headers["Authorization"][len("OAuth ") :].split(", ")
    return {k: v.strip('"') for k, v in (part.split("=", 1) for part in raw)}


def test_no_token_means_no_oauth_token() -> None:
    signed = Signer("key", "secret").sign(httpx.Request("GET", "https://example.test/"))
    assert "oauth_token" not in _fields(signed)


def test_empty_token_is_sent_present_and_empty_and_signed() -> None:
    from flask_oauth1_async.signing import signature_base_string

    signer = Signer("key", "secret")
    signed = signer.sign(httpx.Request("GET", "https://example.test/r?a=1"), token="", nonce="n", timestamp="1")
    fields = _fields(signed)
    assert fields["oauth_token"] == ""
    params = [("a", "1"), *((k, v) for k, v in fields.items() if k != "oauth_signature")]
    base = signature_base_string("GET", "https://example.test/r", params)
    assert "oauth_token%3D%26" in base
    assert fields["oauth_signature"] == quote(signer.signature(base, None), safe="~")


# ---------------------------------------------------------------- oauth_body_hash


@pytest.mark.parametrize(
    ("method", "digest"),
    [
        ("HMAC-SHA1", hashlib.sha1),
        ("PLAINTEXT", hashlib.sha1),
        ("HMAC-SHA256", hashlib.sha256),
        ("HMAC-SHA512", hashlib.sha512),
    ],
)
def test_body_hash_uses_the_hash_of_the_signature_method(method: str, digest: Callable[..., Any]) -> None:
    body = b'{"score": 0.92}'
    request = httpx.Request(
        "POST", "https://lms.test/outcomes", content=body, headers={"Content-Type": "application/json"}
    )
    signed = Signer("key", "secret", signature_method=method, body_hash=True).sign(request)
    expected = base64.b64encode(digest(body).digest()).decode()
    assert unquote(_fields(signed)["oauth_body_hash"]) == expected
    assert signed.content == body  # the body itself is untouched


def test_body_hash_of_a_request_without_body_is_the_hash_of_nothing() -> None:
    signed = Signer("key", "secret", body_hash=True).sign(httpx.Request("GET", "https://example.test/"))
    assert unquote(_fields(signed)["oauth_body_hash"]) == "2jmj7l5rSw0yVb/vlWAYkK/YBwk="  # SHA-1 of b""


def test_body_hash_never_for_form_bodies_and_per_call_override() -> None:
    signer = Signer("key", "secret", body_hash=True)
    form = signer.sign(httpx.Request("POST", "https://example.test/", data={"a": "b"}))
    assert "oauth_body_hash" not in _fields(form)
    off = signer.sign(httpx.Request("POST", "https://example.test/", json={"a": 1}), body_hash=False)
    assert "oauth_body_hash" not in _fields(off)
    on = Signer("key", "secret").sign(httpx.Request("PUT", "https://example.test/", content=b"<x/>"), body_hash=True)
    assert "oauth_body_hash" in _fields(on)


def test_body_hash_is_signed() -> None:
    from flask_oauth1_async.signing import signature_base_string

    signer = Signer("key", "secret")
    signed = signer.sign(httpx.Request("POST", "https://example.test/", json=[1]), body_hash=True)
    fields = {k: unquote(v) for k, v in _fields(signed).items()}
    base = signature_base_string("POST", "https://example.test/", list(fields.items()))
    assert fields["oauth_signature"] == signer.signature(base, None)


# ---------------------------------------------------------------- %20 on the wire


def test_query_spaces_are_sent_as_percent_20_keeping_order_and_repeats() -> None:
    request = httpx.Request("GET", "https://example.test/s", params={"q": "a b"})
    assert request.url.query == b"q=a+b"  # httpx's own form
    assert Signer("key", "secret").sign(request).url.query == b"q=a%20b"
    request = httpx.Request("GET", "https://example.test/s?q=a+b&x=1&q=c%2Bd&e=&f")
    signed = Signer("key", "secret").sign(request)
    assert signed.url.query == b"q=a%20b&x=1&q=c%2Bd&e=&f="


def test_form_body_is_sent_in_rfc3986_form() -> None:
    request = httpx.Request("POST", "https://example.test/", data={"status": "Hi there! (1*2)", "k": ["v 1", "v~2"]})
    signed = Signer("key", "secret").sign(request)
    assert signed.content == b"status=Hi%20there%21%20%281%2A2%29&k=v%201&k=v~2"
    assert signed.headers["content-length"] == str(len(signed.content))
    assert parse_qsl(signed.content.decode()) == parse_qsl(request.content.decode())


def test_query_with_non_utf8_escape_is_left_as_it_was() -> None:
    request = httpx.Request("GET", "https://example.test/?a=%FF+b")
    signed = Signer("key", "secret").sign(request)
    assert signed.url.query == b"a=%FF+b"


# ---------------------------------------------------------------- methods


@pytest.mark.parametrize("method", ["RSA-SHA1", "RSA-SHA256", "RSA-SHA512"])
def test_rsa_methods_need_a_loadable_rsa_key(method: str) -> None:
    with pytest.raises(ConfigurationError, match="rsa_key"):
        Signer("key", signature_method=method)
    with pytest.raises(ConfigurationError, match="PEM"):
        Signer("key", signature_method=method, rsa_key="not a key")


def test_signature_methods_listed() -> None:
    assert set(SIGNATURE_METHODS) == {
        "HMAC-SHA1",
        "HMAC-SHA256",
        "HMAC-SHA512",
        "RSA-SHA1",
        "RSA-SHA256",
        "RSA-SHA512",
        "PLAINTEXT",
    }
