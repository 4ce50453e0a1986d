"""RFC 5849 request signing.

:class:`Signer` adds OAuth 1.0a protocol parameters and a signature to an
:class:`httpx.Request`. The signature base string and the HMAC/PLAINTEXT
signatures are computed here (they are the hot path of every API call);
RSA-SHA1 is delegated to :mod:`authlib.oauth1`. The test suite checks, with
hypothesis, that base strings and signatures are identical to those of
``authlib.oauth1`` and ``oauthlib`` for the same inputs.

Body handling follows RFC 5849 section 3.4.1.3: the parameters of a
``application/x-www-form-urlencoded`` body are signed; any other body (JSON,
XML, binary, multipart) is sent untouched and left out of the base string.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Final
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import httpx

from .errors import ConfigurationError

__all__ = [
    "SIGNATURE_METHODS",
    "SIGNATURE_TYPES",
    "Signer",
    "base_string_uri",
    "escape",
    "new_nonce",
    "normalize_parameters",
    "signature_base_string",
]

HMAC_SHA1: Final = "HMAC-SHA1"
HMAC_SHA256: Final = "HMAC-SHA256"
RSA_SHA1: Final = "RSA-SHA1"
PLAINTEXT: Final = "PLAINTEXT"

#: Signature methods :class:`Signer` implements.
SIGNATURE_METHODS: Final = (HMAC_SHA1, HMAC_SHA256, RSA_SHA1, PLAINTEXT)
#: Where the protocol parameters go: ``Authorization`` header, URL query or form body.
SIGNATURE_TYPES: Final = ("header", "query", "body")

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


_all_unreserved = re.compile(r"[A-Za-z0-9._~-]*").fullmatch


def new_nonce() -> str:
    """Return a fresh ``oauth_nonce``: 26 letters and digits carrying 128 random bits.

    Base32 of 16 random bytes, padding removed. The shape is chosen to pass
    every common server's check: oauthlib's default ``RequestValidator``
    accepts 20 to 30 ASCII letters and digits and refuses anything else
    (a 32-character hex nonce fails there on every request).
    """
    return base64.b32encode(os.urandom(16)).rstrip(b"=").decode("ascii")


def escape(value: str) -> str:
    """Percent-encode *value* as RFC 5849 section 3.6 requires (UTF-8, unreserved kept)."""
    if _all_unreserved(value):  # the common case (keys, tokens, nonces): nothing to encode
        return value
    return quote(value, safe="~")


def base_string_uri(url: str) -> str:
    """Return the base string URI of *url* (RFC 5849 section 3.4.1.2).

    Scheme and host are lower-cased, a default port is dropped, an empty path
    becomes ``/``, and the query and fragment are removed. Any ``user:pass@``
    is dropped too, since the authority must match the ``Host`` header, and an
    IPv6 literal keeps its brackets.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname  # lower-cased, without userinfo and IPv6 brackets
    if not scheme or not host:
        raise ValueError("a URL to sign needs a scheme and a host")
    port = parts.port  # raises ValueError for a port that is not a number in 0-65535
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def normalize_parameters(params: Iterable[tuple[str, str]]) -> str:
    """Encode, sort and join request parameters (RFC 5849 section 3.4.1.3.2)."""
    pairs = sorted((escape(k), escape(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Build the signature base string (RFC 5849 section 3.4.1).

    *params* are the decoded query, form-body and protocol parameters;
    ``oauth_signature`` is skipped if present. A ``realm`` query or body
    parameter is signed like any other: only the ``realm`` of the
    ``Authorization`` header is left out (section 3.4.1.3.1), and that one is
    not a protocol parameter, so callers do not pass it here.
    """
    kept = [(escape(k), escape(v)) for k, v in params if k != "oauth_signature"]
    return _base_string(method, base_string_uri(url), kept)


def _base_string(method: str, base_uri: str, escaped: list[tuple[str, str]]) -> str:
    """Join method, base string URI and already-escaped parameters (sorted in place)."""
    escaped.sort()
    normalized = "&".join([f"{k}={v}" for k, v in escaped])
    return f"{escape(method.upper())}&{escape(base_uri)}&{escape(normalized)}"


@lru_cache(maxsize=512)
def _cached_base_uri(url_without_query: str) -> str:
    return base_string_uri(url_without_query)


def _hmac(digest: str, base_string: str, key: str) -> str:
    mac = hmac.new(key.encode(), base_string.encode(), digest)
    return base64.b64encode(mac.digest()).decode()


def _is_form(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE


def _decode_form(data: bytes | str) -> list[tuple[str, str]]:
    text = data.decode() if isinstance(data, bytes) else data
    return parse_qsl(text, keep_blank_values=True)


def _with_authority(url: str, host: str | None) -> str:
    """Put the ``Host`` header's authority into *url* (RFC 5849 section 3.4.1.2, item 2)."""
    if not host:
        return url
    return urlunsplit(urlsplit(url)._replace(netloc=host))


def _realm_is_valid(realm: str) -> bool:
    # An RFC 2617 quoted-string without escapes: printable ASCII or tab, no '"' or '\\'.
    return all(c == "\t" or (" " <= c <= "~" and c not in '"\\') for c in realm)


class Signer:
    """Signs requests for one consumer (client) with one signature method.

    The consumer secret, token secrets and RSA key are kept in private
    attributes and never shown by :func:`repr`.
    """

    __slots__ = ("_client_secret", "_rsa_key", "client_id", "realm", "signature_method", "signature_type")

    def __init__(
        self,
        client_id: str,
        client_secret: str | None = None,
        *,
        signature_method: str = HMAC_SHA1,
        signature_type: str = "header",
        realm: str | None = None,
        rsa_key: str | bytes | None = None,
    ) -> None:
        method = signature_method.upper()
        if method not in SIGNATURE_METHODS:
            raise ConfigurationError(
                f"unsupported signature_method {signature_method!r}; use one of {', '.join(SIGNATURE_METHODS)}"
            )
        stype = signature_type.lower()
        if stype not in SIGNATURE_TYPES:
            raise ConfigurationError(
                f"unsupported signature_type {signature_type!r}; use one of {', '.join(SIGNATURE_TYPES)}"
            )
        if method == RSA_SHA1 and not rsa_key:
            raise ConfigurationError(
                "signature_method 'RSA-SHA1' needs an rsa_key (a PEM private key) in client_kwargs"
            )
        if realm is not None and not _realm_is_valid(realm):
            raise ConfigurationError("realm may only contain printable ASCII characters, without quotes or backslashes")
        #: The consumer key, sent as ``oauth_consumer_key``.
        self.client_id = client_id
        self._client_secret = client_secret or ""
        #: ``HMAC-SHA1``, ``HMAC-SHA256``, ``RSA-SHA1`` or ``PLAINTEXT``.
        self.signature_method = method
        #: ``header``, ``query`` or ``body``.
        self.signature_type = stype
        #: Optional ``realm`` for the ``Authorization`` header.
        self.realm = realm
        self._rsa_key = rsa_key

    def __repr__(self) -> str:
        return (
            f"Signer(client_id={self.client_id!r}, signature_method={self.signature_method!r}, "
            f"signature_type={self.signature_type!r})"
        )

    def protocol_params(
        self,
        *,
        token: str | None = None,
        callback: str | None = None,
        verifier: str | None = None,
        nonce: str | None = None,
        timestamp: str | None = None,
    ) -> list[tuple[str, str]]:
        """Return the ``oauth_*`` parameters, without the signature, in wire order."""
        params = [
            ("oauth_nonce", nonce if nonce is not None else new_nonce()),
            ("oauth_timestamp", timestamp if timestamp is not None else str(int(time.time()))),
            ("oauth_version", "1.0"),
            ("oauth_signature_method", self.signature_method),
            ("oauth_consumer_key", self.client_id),
        ]
        if token:
            params.append(("oauth_token", token))
        if callback:
            params.append(("oauth_callback", callback))
        if verifier:
            params.append(("oauth_verifier", verifier))
        return params

    def signature(self, base_string: str, token_secret: str | None) -> str:
        """Compute ``oauth_signature`` for *base_string* with the current method."""
        key = f"{escape(self._client_secret)}&{escape(token_secret or '')}"
        method = self.signature_method
        if method == HMAC_SHA1:
            return _hmac("sha1", base_string, key)
        if method == HMAC_SHA256:
            return _hmac("sha256", base_string, key)
        if method == PLAINTEXT:
            return key
        from authlib.oauth1.rfc5849.signature import rsa_sha1_signature

        assert self._rsa_key is not None
        return rsa_sha1_signature(base_string, self._rsa_key)

    def sign(
        self,
        request: httpx.Request,
        *,
        token: str | None = None,
        token_secret: str | None = None,
        callback: str | None = None,
        verifier: str | None = None,
        nonce: str | None = None,
        timestamp: str | None = None,
    ) -> httpx.Request:
        """Return *request* signed; it may be the same object, modified.

        The request must have been built with its body already in memory (as
        ``httpx.Client.build_request`` does for ``data=``, ``json=`` and
        ``content=`` bytes). Streaming bodies are sent but never signed.
        """
        oauth = self.protocol_params(
            token=token, callback=callback, verifier=verifier, nonce=nonce, timestamp=timestamp
        )
        # The base string URI takes its authority from the Host header
        # (section 3.4.1.2); httpx derives that header from the URL unless the
        # caller sets it, and never puts a user:pass@ in it.
        url = str(request.url)
        host = request.headers.get("host")
        if host is not None and host != request.url.netloc.decode("ascii"):
            url = _with_authority(url, host)
        query = request.url.query.decode("ascii")
        params = parse_qsl(query, keep_blank_values=True) if query else []

        content_type = request.headers.get("content-type")
        is_form = _is_form(content_type)
        body: bytes = b""
        if is_form or self.signature_type == "body":
            try:
                body = request.content
            except httpx.RequestNotRead:
                body = request.read()
            if body and not is_form:
                raise ConfigurationError(
                    "signature_type 'body' needs a form-encoded body, but this request has "
                    f"Content-Type {content_type!r}; use signature_type 'header' for it"
                )
            if body:
                params.extend(_decode_form(body))

        # Protocol parameter names never need escaping; values are escaped once
        # and reused for the base string and the Authorization header.
        escaped_oauth = [(k, escape(v)) for k, v in oauth]
        if self.signature_method == PLAINTEXT:
            base = ""
        else:
            escaped = [(escape(k), escape(v)) for k, v in params]
            escaped.extend(escaped_oauth)
            base_uri = _cached_base_uri(url.split("#", 1)[0].split("?", 1)[0])
            base = _base_string(request.method, base_uri, escaped)
        signature = self.signature(base, token_secret)
        escaped_oauth.append(("oauth_signature", escape(signature)))

        if self.signature_type == "header":
            fields = ", ".join([f'{k}="{v}"' for k, v in escaped_oauth])
            if self.realm:
                fields = f'realm="{self.realm}", {fields}'
            request.headers["Authorization"] = f"OAuth {fields}"
            return request
        encoded = "&".join([f"{k}={v}" for k, v in escaped_oauth])
        if self.signature_type == "query":
            extra = encoded
            request.url = request.url.copy_with(query=(f"{query}&{extra}" if query else extra).encode("ascii"))
            return request
        text = body.decode()
        new_body = f"{text}&{encoded}" if text else encoded
        headers = httpx.Headers(request.headers)
        headers.pop("content-length", None)
        headers.pop("transfer-encoding", None)
        headers["Content-Type"] = FORM_CONTENT_TYPE
        return httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=new_body.encode(),
            extensions=request.extensions,
        )
