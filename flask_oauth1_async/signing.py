"""RFC 5849 request signing.

:class:`Signer` adds OAuth 1.0a protocol parameters and a signature to an
:class:`httpx.Request`. Everything is computed here: the
signature base string, HMAC-SHA1/-SHA256/-SHA512, PLAINTEXT, and
RSA-SHA1/-SHA256/-SHA512 (RSASSA-PKCS1-v1_5 through :mod:`cryptography`).
The test suite checks, with hypothesis, that base strings and signatures are
identical to those of ``authlib.oauth1`` and ``oauthlib`` for the same inputs,
pins them against published vectors, and runs them against independent
servers (oauthlib, stock Authlib, npm ``oauth-sign``).

Body handling follows RFC 5849 section 3.4.1.3: the parameters of a
``application/x-www-form-urlencoded`` body are signed; any other body (JSON,
XML, binary, multipart) is sent untouched and left out of the base string.
With ``body_hash`` on, such a body is covered by ``oauth_body_hash`` instead
(see :class:`Signer`).

What is sent is what is signed: the query string and a form body are
re-written in the same RFC 3986 encoding the base string uses (a space is
``%20``, never ``+``; only ``A-Z a-z 0-9 - . _ ~`` are left as they are),
with repeated keys and their order kept. httpx writes spaces as ``+``, which
is valid form encoding but is not read as a space by every server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Final
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ._http import httpx
from .errors import ConfigurationError, SecretValues

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
HMAC_SHA512: Final = "HMAC-SHA512"
RSA_SHA1: Final = "RSA-SHA1"
RSA_SHA256: Final = "RSA-SHA256"
RSA_SHA512: Final = "RSA-SHA512"
PLAINTEXT: Final = "PLAINTEXT"

#: Signature methods :class:`Signer` implements.
SIGNATURE_METHODS: Final = (HMAC_SHA1, HMAC_SHA256, HMAC_SHA512, RSA_SHA1, RSA_SHA256, RSA_SHA512, PLAINTEXT)
_HMAC_DIGESTS: Final = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256", HMAC_SHA512: "sha512"}
_RSA_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    RSA_SHA1: hashes.SHA1,
    RSA_SHA256: hashes.SHA256,
    RSA_SHA512: hashes.SHA512,
}
# oauth_body_hash uses the hash of the signature method (SHA-1 for PLAINTEXT); see Signer.
_BODY_HASH_DIGESTS: Final = {
    HMAC_SHA1: "sha1",
    RSA_SHA1: "sha1",
    PLAINTEXT: "sha1",
    HMAC_SHA256: "sha256",
    RSA_SHA256: "sha256",
    HMAC_SHA512: "sha512",
    RSA_SHA512: "sha512",
}
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


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: ASCII characters outside the unreserved set, mapped to their percent-encoding.
_ASCII_ESCAPES = {c: f"%{c:02X}" for c in range(128) if chr(c) not in _UNRESERVED}


def escape(value: str) -> str:
    """Percent-encode *value* as RFC 5849 section 3.6 requires (UTF-8, unreserved kept)."""
    if _all_unreserved(value):  # the common case (keys, tokens, nonces): nothing to encode
        return value
    if value.isascii():  # base string URIs and normalised parameters: one C-level pass
        return value.translate(_ASCII_ESCAPES)
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


def _decode_pairs(text: str) -> tuple[list[tuple[str, str]], bool]:
    """Decode a query or form body; the flag says whether it may be re-encoded.

    A ``%XX`` sequence that is not UTF-8 is decoded with U+FFFD (as before) and
    the flag is False: re-encoding would change the octets the server sees, so
    such a string is sent as the caller wrote it.
    """
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict"), True
    except UnicodeDecodeError:
        return parse_qsl(text, keep_blank_values=True), False


def _load_rsa_key(rsa_key: str | bytes, method: str) -> rsa.RSAPrivateKey:
    data = rsa_key.encode() if isinstance(rsa_key, str) else rsa_key
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:  # not PEM, encrypted, or unsupported
        raise ConfigurationError(
            f"rsa_key for {method} must be an unencrypted PEM private key ({type(exc).__name__})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"rsa_key for {method} must be an RSA private key, not {type(key).__name__}")
    return key


def _with_content(request: httpx.Request, content: bytes, content_type: str | None = None) -> httpx.Request:
    """A copy of *request* with another body (and a Content-Length to match)."""
    headers = httpx.Headers(request.headers)
    headers.pop("content-length", None)
    headers.pop("transfer-encoding", None)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return httpx.Request(request.method, request.url, headers=headers, content=content, extensions=request.extensions)


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

    :param body_hash: add ``oauth_body_hash`` to every request whose body is
        not form-encoded (OAuth Request Body Hash, draft-eaton-oauth-bodyhash;
        used by LTI 1.1 outcomes and Mastercard). A request without a body is
        hashed as the empty string, as the extension says. Form-encoded
        requests never get one: the extension forbids it, their parameters are
        signed already. :meth:`sign` can override it per call.

    The body hash uses the hash function of the signature method: SHA-1 for
    HMAC-SHA1, RSA-SHA1 (and PLAINTEXT, for which the extension names none),
    SHA-256 for HMAC-SHA256 and RSA-SHA256, SHA-512 for the -SHA512 methods.
    The extension ties the body hash algorithm to the signature method (it
    defines the SHA-1 case); LTI 1.1 uses HMAC-SHA1 with a SHA-1 body hash,
    and Mastercard's published signers use RSA-SHA256 with a SHA-256 body hash,
    so both conventions are the same rule.
    """

    __slots__ = (
        "_client_secret",
        "_rsa_key",
        "body_hash",
        "client_id",
        "realm",
        "signature_method",
        "signature_type",
        "timestamp_offset",
    )

    def __init__(
        self,
        client_id: str,
        client_secret: str | None = None,
        *,
        signature_method: str = HMAC_SHA1,
        signature_type: str = "header",
        realm: str | None = None,
        rsa_key: str | bytes | None = None,
        body_hash: bool = False,
        timestamp_offset: int = 0,
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
        loaded_key: rsa.RSAPrivateKey | None = None
        if method in _RSA_HASHES:
            if not rsa_key:
                raise ConfigurationError(
                    f"signature_method {method!r} needs an rsa_key (a PEM private key) in client_kwargs"
                )
            loaded_key = _load_rsa_key(rsa_key, method)
        if realm is not None and not _realm_is_valid(realm):
            raise ConfigurationError("realm may only contain printable ASCII characters, without quotes or backslashes")
        #: The consumer key, sent as ``oauth_consumer_key``.
        self.client_id = client_id
        self._client_secret = client_secret or ""
        #: One of :data:`SIGNATURE_METHODS`.
        self.signature_method = method
        #: ``header``, ``query`` or ``body``.
        self.signature_type = stype
        #: Optional ``realm`` for the ``Authorization`` header.
        self.realm = realm
        #: Add ``oauth_body_hash`` to requests with a non-form body (see above).
        self.body_hash = bool(body_hash)
        if not isinstance(timestamp_offset, int) or isinstance(timestamp_offset, bool):
            raise ConfigurationError("timestamp_offset must be a whole number of seconds")
        #: Seconds added to our clock for ``oauth_timestamp`` (a provider whose clock is off).
        self.timestamp_offset = timestamp_offset
        self._rsa_key = loaded_key

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
        """Return the ``oauth_*`` parameters, without the signature, in wire order.

        ``token=None`` leaves ``oauth_token`` out (consumer-only, "two-legged"
        signing); ``token=""`` sends it present and empty, which some
        providers want for consumer-only calls.
        """
        params = [
            ("oauth_nonce", nonce if nonce is not None else new_nonce()),
            ("oauth_timestamp", timestamp if timestamp is not None else str(int(time.time()) + self.timestamp_offset)),
            ("oauth_version", "1.0"),
            ("oauth_signature_method", self.signature_method),
            ("oauth_consumer_key", self.client_id),
        ]
        if token is not None:
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
        digest = _HMAC_DIGESTS.get(method)
        if digest is not None:
            return _hmac(digest, base_string, key)
        if method == PLAINTEXT:
            return key
        assert self._rsa_key is not None
        # The base string is ASCII by construction (everything in it is percent-encoded).
        raw = self._rsa_key.sign(base_string.encode("ascii"), padding.PKCS1v15(), _RSA_HASHES[method]())
        return base64.b64encode(raw).decode("ascii")

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
        body_hash: bool | None = None,
        extra_params: Iterable[tuple[str, str]] = (),
        secrets: SecretValues | None = None,
    ) -> httpx.Request:
        """Return *request* signed; it may be the same object, modified, or a new one.

        The request must have been built with its body already in memory (as
        ``httpx.Client.build_request`` does for ``data=``, ``json=`` and
        ``content=`` bytes). Streaming bodies are sent but never signed.

        ``token=None`` signs without ``oauth_token`` (consumer-only);
        ``token=""`` sends an empty ``oauth_token``. ``body_hash`` overrides
        the signer's ``body_hash`` setting for this call. *extra_params* are
        signed but not added to the request: the text fields of a multipart
        body, for providers that sign them (Flickr's upload API).

        The signature base string is left in
        ``request.extensions["oauth1_base_string"]`` (it holds no secret but
        the verifier, which :func:`~.errors.mask_secrets` hides), so that a
        refused request can be explained. With *secrets*, the values that
        must never be quoted back (the consumer secret, *token_secret*,
        *verifier* and the signature) are added to it.

        The query string and a form body are re-encoded in RFC 3986 form (see
        the module docstring), so the server decodes exactly the values that
        were signed.
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
        escaped: list[tuple[str, str]] = []
        if query:
            pairs, exact = _decode_pairs(query)
            escaped = [(escape(k), escape(v)) for k, v in pairs]
            if exact:
                wire_query = "&".join([f"{k}={v}" for k, v in escaped])
                if wire_query != query:
                    query = wire_query
                    request.url = request.url.copy_with(query=query.encode("ascii"))

        content_type = request.headers.get("content-type")
        is_form = _is_form(content_type)
        body: bytes = b""
        hash_body = self.body_hash if body_hash is None else body_hash
        if is_form or self.signature_type == "body" or hash_body:
            try:
                body = request.content
            except httpx.RequestNotRead:
                body = request.read()
        if is_form and body:
            pairs, exact = _decode_pairs(body.decode())
            escaped_body = [(escape(k), escape(v)) for k, v in pairs]
            escaped.extend(escaped_body)
            if exact:
                wire_body = "&".join([f"{k}={v}" for k, v in escaped_body]).encode("ascii")
                if wire_body != body:
                    body = wire_body
                    request = _with_content(request, body)
        elif self.signature_type == "body" and body:
            raise ConfigurationError(
                "signature_type 'body' needs a form-encoded body, but this request has "
                f"Content-Type {content_type!r}; use signature_type 'header' for it"
            )
        escaped.extend((escape(k), escape(v)) for k, v in extra_params)
        if hash_body and not is_form:
            digest = hashlib.new(_BODY_HASH_DIGESTS[self.signature_method], body).digest()
            oauth.append(("oauth_body_hash", base64.b64encode(digest).decode("ascii")))

        # Protocol parameter names never need escaping; values are escaped once
        # and reused for the base string and the Authorization header.
        escaped_oauth = [(k, escape(v)) for k, v in oauth]
        if self.signature_method == PLAINTEXT:
            base = ""
        else:
            escaped.extend(escaped_oauth)
            base_uri = _cached_base_uri(url.split("#", 1)[0].split("?", 1)[0])
            base = _base_string(request.method, base_uri, escaped)
        signature = self.signature(base, token_secret)
        if secrets is not None:
            secrets.add(self._client_secret, token_secret, verifier, signature)
        escaped_oauth.append(("oauth_signature", escape(signature)))
        request.extensions["oauth1_base_string"] = base

        if self.signature_type == "header":
            fields = ", ".join([f'{k}="{v}"' for k, v in escaped_oauth])
            if self.realm:
                fields = f'realm="{self.realm}", {fields}'
            request.headers["Authorization"] = f"OAuth {fields}"
            return request
        encoded = "&".join([f"{k}={v}" for k, v in escaped_oauth])
        if self.signature_type == "query":
            request.url = request.url.copy_with(query=(f"{query}&{encoded}" if query else encoded).encode("ascii"))
            return request
        text = body.decode()
        new_body = f"{text}&{encoded}" if text else encoded
        return _with_content(request, new_body.encode(), FORM_CONTENT_TYPE)
