"""A real OAuth 1.0a provider for tests, built on Authlib's Flask integration.

``create_provider()`` returns ``(flask_app, ProviderState)``; serve the app
with :class:`tests.support.servers.ServerThread`. Every request is verified by
Authlib's :class:`~authlib.integrations.flask_oauth1.AuthorizationServer` /
:class:`~authlib.integrations.flask_oauth1.ResourceProtector` (subclassed
here): consumer lookup, timestamp (at most ``timestamp_expiry`` seconds old),
nonce (never seen before for that timestamp/consumer/token) and signature.
Storage is in memory, guarded by a lock.

Consumers (:func:`default_consumers`)
    ``client-hmac`` / ``secret-hmac``: HMAC-SHA1, HMAC-SHA256 and PLAINTEXT.
    ``client-rsa``: RSA-SHA1; its private key is ``state.rsa_private_key_pem``
    (a 2048-bit key generated once per process, see :func:`rsa_key_pair`).

Endpoints
    ``POST /request_token``  temporary credentials (``oauth_callback`` required)
    ``GET|POST /authorize``   ``?oauth_token=..&user=alice`` grants,
                              ``&deny=1`` denies, neither shows an HTML form
    ``POST /access_token``   token credentials + ``user_id`` + ``screen_name``
    ``GET /api/me``, ``POST|PUT|PATCH|DELETE /api/echo``, ``GET /api/slow?ms=``,
    ``GET /api/xml``, ``GET /api/form``, ``GET /api/text``,
    ``GET /api/path/<anything>``, ``GET /api/status/<code>``  protected resources
    ``GET|POST /public``      unprotected; says whether ``Authorization`` was sent

Transport: Authlib (>= 1.9) accepts plain ``http://`` only for loopback hosts
(RFC 8252), which is all the tests use; ``AUTHLIB_INSECURE_TRANSPORT`` is not set.

RFC 5849 strictness (``stock_authlib=False``, the default). Stock Authlib
(1.9.10) has three interoperability bugs, fixed here by overriding the request
adapter and the verifiers while keeping Authlib's validation flow:

* it percent-decodes ``oauth_*`` values twice when building the base string,
  so an RFC-correct signature over an ``oauth_callback`` that contains ``%``
  (``...?next=%2Fhome``) is rejected (and Authlib's own signer is accepted);
* it signs ``request.url``, which werkzeug turns into an IRI (``%C3%A9`` ->
  ``é``, ``%2F`` -> ``/``, ``%27`` -> ``'``): non-ASCII or ``'`` in a query
  makes ``OAuth1Request`` raise ``ValueError`` (a 500), non-ASCII paths fail;
* it signs ``request.form`` for POST/PUT only and collapses repeated keys
  (``to_dict(flat=True)``), and also signs multipart form fields.

Here the raw request target is signed, the raw body is signed whenever the
content type is ``application/x-www-form-urlencoded`` (any method, repeated
keys kept, never multipart/JSON), and ``oauth_*`` values are decoded once.
``create_provider(stock_authlib=True)`` restores Authlib's own behaviour.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import quote, urlsplit

from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri, url_encode
from authlib.integrations.flask_oauth1 import (
    AuthorizationServer,
    ResourceProtector,
)
from authlib.oauth1 import ClientMixin, OAuth1Request, TemporaryCredential
from authlib.oauth1.rfc5849.base_server import BaseServer
from authlib.oauth1.rfc5849.errors import (
    AccessDeniedError,
    InvalidRequestError,
    InvalidTokenError,
    OAuth1Error,
)
from authlib.oauth1.rfc5849.models import TokenCredentialMixin
from authlib.oauth1.rfc5849.rsa import verify_sha1
from authlib.oauth1.rfc5849.signature import (
    normalize_base_string_uri,
    normalize_parameters,
)
from authlib.oauth1.rfc5849.util import escape
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Request, Response, g, jsonify, request
from markupsafe import escape as html_escape

__all__ = [
    "DEFAULT_SIGNATURE_METHODS",
    "HMAC_CLIENT_ID",
    "HMAC_CLIENT_SECRET",
    "RSA_CLIENT_ID",
    "AccessToken",
    "Consumer",
    "ProviderState",
    "RecordedRequest",
    "create_provider",
    "default_consumers",
    "rfc5849_base_string",
    "rsa_key_pair",
]

HMAC_CLIENT_ID = "client-hmac"
HMAC_CLIENT_SECRET = "secret-hmac"
RSA_CLIENT_ID = "client-rsa"
DEFAULT_SIGNATURE_METHODS: tuple[str, ...] = ("HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1", "PLAINTEXT")
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

T = TypeVar("T")


# ------------------------------------------------------------------ keys & models


@functools.lru_cache(maxsize=1)
def rsa_key_pair() -> tuple[str, str]:
    """``(private_pem, public_pem)`` of the RSA consumer; generated once per process."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


@dataclass(frozen=True)
class Consumer(ClientMixin):  # type: ignore[misc]
    """A registered client: a shared secret (HMAC/PLAINTEXT) and/or an RSA public key."""

    client_id: str
    client_secret: str | None = None
    rsa_public_key: str | None = None
    default_redirect_uri: str | None = None

    def get_default_redirect_uri(self) -> str | None:
        return self.default_redirect_uri

    def get_client_secret(self) -> str | None:
        return self.client_secret

    def get_rsa_public_key(self) -> str | None:
        return self.rsa_public_key


def default_consumers() -> list[Consumer]:
    """The consumers registered when ``create_provider(consumers=None)``."""
    return [
        Consumer(HMAC_CLIENT_ID, client_secret=HMAC_CLIENT_SECRET),
        Consumer(RSA_CLIENT_ID, rsa_public_key=rsa_key_pair()[1]),
    ]


@dataclass(frozen=True)
class AccessToken(TokenCredentialMixin):  # type: ignore[misc]
    """Token credentials issued to ``client_id`` on behalf of ``user``."""

    oauth_token: str
    oauth_token_secret: str
    client_id: str
    user: str

    def get_oauth_token(self) -> str:
        return self.oauth_token

    def get_oauth_token_secret(self) -> str:
        return self.oauth_token_secret


@dataclass(frozen=True)
class RecordedRequest:
    """What the provider received (recorded before any verification)."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header, if any."""
        return self.headers.get("Authorization")


@dataclass(frozen=True)
class _Override:
    status: int | None
    body: str | None
    content_type: str | None


# ------------------------------------------------------------------------- state


class _Guarded(Generic[T]):
    """A ``ProviderState`` attribute read and written under the state's lock."""

    def __init__(self, default: T) -> None:
        self.default = default
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_guarded_{name}"

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Guarded[T]: ...

    @overload
    def __get__(self, obj: ProviderState, objtype: type | None = None) -> T: ...

    def __get__(self, obj: ProviderState | None, objtype: type | None = None) -> T | _Guarded[T]:
        if obj is None:
            return self
        with obj._lock:
            value: T = getattr(obj, self.slot, self.default)
            return value

    def __set__(self, obj: ProviderState, value: T) -> None:
        with obj._lock:
            setattr(obj, self.slot, value)

    def reset(self, obj: ProviderState) -> None:
        with obj._lock:
            obj.__dict__.pop(self.slot, None)


class ProviderState:
    """Everything the provider stores, plus test hooks; all methods are thread-safe.

    Misbehaviour switches (settable at any time; :meth:`reset_misbehaviour`):

    * ``callback_confirmed``: ``True`` -> ``oauth_callback_confirmed=true``,
      ``False`` -> ``=false``, ``None`` -> field omitted.
    * ``request_token_status`` / ``request_token_body`` /
      ``request_token_content_type`` and the same three for ``access_token``:
      when a status or a body is set, the endpoint answers it without doing
      anything else (no credential is created or consumed). A status without
      a body answers ``error=forced_error&...``; a body without a status is
      sent with 200. The content type defaults to ``text/html; charset=utf-8``
      for bodies starting with ``<``, else form-urlencoded.

    Counters: :attr:`hits` (``Counter`` of request paths, every request incl.
    rejected ones) and :attr:`requests` (``RecordedRequest`` list);
    :meth:`reset_counters` clears both.
    """

    callback_confirmed: _Guarded[bool | None] = _Guarded(True)
    request_token_status: _Guarded[int | None] = _Guarded(None)
    request_token_body: _Guarded[str | None] = _Guarded(None)
    request_token_content_type: _Guarded[str | None] = _Guarded(None)
    access_token_status: _Guarded[int | None] = _Guarded(None)
    access_token_body: _Guarded[str | None] = _Guarded(None)
    access_token_content_type: _Guarded[str | None] = _Guarded(None)

    _SWITCHES = (
        "callback_confirmed",
        "request_token_status",
        "request_token_body",
        "request_token_content_type",
        "access_token_status",
        "access_token_body",
        "access_token_content_type",
    )

    def __init__(self, consumers: Iterable[Consumer]) -> None:
        self._lock = threading.RLock()
        self._consumers: dict[str, Consumer] = {c.client_id: c for c in consumers}
        self._temporary: dict[str, TemporaryCredential] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._nonces: set[tuple[str, str, str, str]] = set()
        self._hits: Counter[str] = Counter()
        self._requests: list[RecordedRequest] = []
        self.rsa_private_key_pem: str = rsa_key_pair()[0]
        self.rsa_public_key_pem: str = rsa_key_pair()[1]

    # -- consumers --------------------------------------------------------------

    def get_consumer(self, client_id: str | None) -> Consumer | None:
        """The registered consumer *client_id*, or ``None``."""
        with self._lock:
            return self._consumers.get(client_id or "")

    def add_consumer(self, consumer: Consumer) -> None:
        """Register (or replace) a consumer at runtime."""
        with self._lock:
            self._consumers[consumer.client_id] = consumer

    # -- nonces -------------------------------------------------------------------

    def exists_nonce(self, nonce: str, timestamp: str | None, client_id: str | None, token: str | None) -> bool:
        """Atomically check-and-remember a nonce; ``True`` means it is a replay."""
        key = (client_id or "", token or "", timestamp or "", nonce)
        with self._lock:
            if key in self._nonces:
                return True
            self._nonces.add(key)
            return False

    @property
    def nonce_count(self) -> int:
        """How many distinct nonces were accepted."""
        with self._lock:
            return len(self._nonces)

    # -- temporary credentials ----------------------------------------------------

    def create_temporary(self, client_id: str, callback: str | None) -> TemporaryCredential:
        """Create and store request-token credentials."""
        credential = TemporaryCredential(
            oauth_token=generate_token(32),
            oauth_token_secret=generate_token(40),
            client_id=client_id,
            oauth_callback=callback,
        )
        with self._lock:
            self._temporary[credential["oauth_token"]] = credential
        return TemporaryCredential(credential)

    def get_temporary(self, oauth_token: str | None) -> TemporaryCredential | None:
        """A copy of the stored request token, or ``None``."""
        with self._lock:
            found = self._temporary.get(oauth_token or "")
            return TemporaryCredential(found) if found is not None else None

    def has_request_token(self, oauth_token: str) -> bool:
        """Whether *oauth_token* is a live (not yet exchanged/denied) request token."""
        with self._lock:
            return oauth_token in self._temporary

    def delete_temporary(self, oauth_token: str | None) -> None:
        """Forget a request token (no-op when unknown)."""
        with self._lock:
            self._temporary.pop(oauth_token or "", None)

    def authorize_temporary(self, oauth_token: str, user: str, verifier: str) -> None:
        """Record the user's consent: bind *user* and *verifier* to the request token."""
        with self._lock:
            credential = self._temporary.get(oauth_token)
            if credential is None:
                raise InvalidTokenError()
            credential["oauth_verifier"] = verifier
            credential["user_id"] = user

    # -- token credentials --------------------------------------------------------

    def issue_access_token(self, user: str, client_id: str = HMAC_CLIENT_ID) -> AccessToken:
        """Create token credentials directly (lets tests skip the dance)."""
        token = AccessToken(generate_token(32), generate_token(40), client_id, user)
        with self._lock:
            self._tokens[token.oauth_token] = token
        return token

    def get_access_token(self, client_id: str | None, oauth_token: str | None) -> AccessToken | None:
        """The token credentials *oauth_token* if they belong to *client_id*."""
        with self._lock:
            token = self._tokens.get(oauth_token or "")
        if token is None or token.client_id != client_id:
            return None
        return token

    def revoke_access_token(self, oauth_token: str) -> None:
        """Invalidate token credentials (later API calls get 401 invalid_token)."""
        with self._lock:
            self._tokens.pop(oauth_token, None)

    @staticmethod
    def user_id_for(user: str) -> str:
        """The deterministic numeric ``user_id`` returned for *user*."""
        return str(1_000_000 + zlib.crc32(user.encode("utf-8")) % 9_000_000)

    # -- counters -----------------------------------------------------------------

    def record(self, req: Request) -> None:
        """Count and remember an incoming request (called before any checks)."""
        recorded = RecordedRequest(
            method=req.method,
            path=req.path,
            query_string=req.query_string.decode("latin-1"),
            headers=dict(req.headers.items()),
            body=req.get_data(cache=True),
        )
        with self._lock:
            self._hits[req.path] += 1
            self._requests.append(recorded)

    @property
    def hits(self) -> Counter[str]:
        """A copy of the per-path hit counter (missing paths read as 0)."""
        with self._lock:
            return Counter(self._hits)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received since the last reset."""
        with self._lock:
            return list(self._requests)

    def last_request(self, path: str) -> RecordedRequest | None:
        """The most recent request to *path*, if any."""
        with self._lock:
            for recorded in reversed(self._requests):
                if recorded.path == path:
                    return recorded
        return None

    def reset_counters(self) -> None:
        """Clear :attr:`hits` and :attr:`requests`."""
        with self._lock:
            self._hits.clear()
            self._requests.clear()

    def reset_misbehaviour(self) -> None:
        """Put every misbehaviour switch back to its default."""
        for name in self._SWITCHES:
            descriptor = type(self).__dict__[name]
            assert isinstance(descriptor, _Guarded)
            descriptor.reset(self)

    def override_for(self, endpoint: Literal["request_token", "access_token"]) -> _Override | None:
        """The forced answer configured for *endpoint*, read atomically."""
        with self._lock:
            status: int | None = getattr(self, f"{endpoint}_status")
            body: str | None = getattr(self, f"{endpoint}_body")
            content_type: str | None = getattr(self, f"{endpoint}_content_type")
        if status is None and body is None:
            return None
        return _Override(status, body, content_type)


# --------------------------------------------------------- RFC 5849 verification


def rfc5849_base_string(req: OAuth1Request) -> str:
    """Signature base string per RFC 5849 3.4.1, each value decoded exactly once.

    Parameters come from the query, the form body (``req.body_params``) and the
    ``Authorization`` header without ``realm``; ``oauth_signature`` is left out.
    """
    params = [*req.query_params, *req.body_params]
    params += [(k, v) for k, v in req.auth_params if k != "realm"]
    params = [(k, v) for k, v in params if k != "oauth_signature"]
    base_uri = normalize_base_string_uri(req.uri, req.headers.get("Host"))
    return "&".join([escape(req.method.upper()), escape(base_uri), escape(normalize_parameters(params))])


def _same(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _hmac_verifier(digestmod: Callable[[], Any]) -> Callable[[OAuth1Request], bool]:
    def verify(req: OAuth1Request) -> bool:
        secret = req.client_secret
        if not secret:
            return False
        key = f"{escape(secret)}&{escape(req.token_secret or '')}"
        digest = hmac.new(key.encode(), rfc5849_base_string(req).encode(), digestmod).digest()
        return _same(base64.b64encode(digest).decode("ascii"), req.signature)

    return verify


def _verify_rsa_sha1(req: OAuth1Request) -> bool:
    public_key = req.rsa_public_key
    if not public_key or not req.signature:
        return False
    try:
        signature = base64.b64decode(req.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    return bool(verify_sha1(signature, rfc5849_base_string(req).encode(), public_key))


def _verify_plaintext(req: OAuth1Request) -> bool:
    secret = req.client_secret
    if not secret:
        return False
    return _same(f"{escape(secret)}&{escape(req.token_secret or '')}", req.signature)


_RFC_VERIFIERS: dict[str, Callable[[OAuth1Request], bool]] = {
    "HMAC-SHA1": _hmac_verifier(hashlib.sha1),
    "HMAC-SHA256": _hmac_verifier(hashlib.sha256),
    "RSA-SHA1": _verify_rsa_sha1,
    "PLAINTEXT": _verify_plaintext,
}


def _raw_request_uri(req: Request) -> str:
    """The absolute URI exactly as the client sent it (not werkzeug's IRI)."""
    target = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI")
    if target and not target.startswith("/"):
        parts = urlsplit(target)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target:
        target = quote(req.root_path + req.path, safe="/!$&'()*+,;=:@")
        if req.query_string:
            target += "?" + req.query_string.decode("latin-1")
    return f"{req.scheme}://{req.host}{target}"


def _signed_form_body(req: Request) -> str | None:
    """The body whose parameters are signed: form-urlencoded bodies only."""
    if req.mimetype != FORM_CONTENT_TYPE:
        return None
    return req.get_data(cache=True).decode("utf-8", "replace")


def _strict_oauth1_request(req: Request) -> OAuth1Request:
    try:
        return OAuth1Request(req.method, _raw_request_uri(req), _signed_form_body(req), req.headers)
    except ValueError as exc:  # malformed Authorization header or query string
        raise InvalidRequestError(f"malformed request: {exc}") from exc


def _configure_verification(server: BaseServer, methods: Sequence[str], expiry: int, stock: bool) -> None:
    server.SUPPORTED_SIGNATURE_METHODS = list(methods)
    server.EXPIRY_TIME = expiry
    if not stock:  # an instance attribute: never touch Authlib's class-level dict
        server.SIGNATURE_METHODS = dict(_RFC_VERIFIERS)


# ---------------------------------------------------------- the Authlib servers


class ProviderAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's Flask ``AuthorizationServer`` wired to a :class:`ProviderState`."""

    def __init__(
        self,
        app: Flask,
        state: ProviderState,
        *,
        methods: Sequence[str],
        expiry: int,
        stock: bool,
    ) -> None:
        self.state = state
        self.stock = stock
        super().__init__(app, query_client=state.get_consumer)
        _configure_verification(self, methods, expiry, stock)

    def create_oauth1_request(self, req: Any) -> OAuth1Request:
        if not self.stock:
            return _strict_oauth1_request(request)
        try:
            return super().create_oauth1_request(req)
        except ValueError as exc:
            raise InvalidRequestError(f"malformed request: {exc}") from exc

    def exists_nonce(self, nonce: str, req: OAuth1Request) -> bool:
        return self.state.exists_nonce(nonce, req.timestamp, req.client_id, req.token)

    def create_temporary_credential(self, req: OAuth1Request) -> TemporaryCredential:
        return self.state.create_temporary(req.client_id, req.redirect_uri)

    def get_temporary_credential(self, req: OAuth1Request) -> TemporaryCredential | None:
        return self.state.get_temporary(req.token)

    def delete_temporary_credential(self, req: OAuth1Request) -> None:
        self.state.delete_temporary(req.token)

    def create_authorization_verifier(self, req: OAuth1Request) -> str:
        verifier: str = generate_token(24)
        self.state.authorize_temporary(req.token, str(req.user), verifier)
        return verifier

    def create_token_credential(self, req: OAuth1Request) -> AccessToken:
        credential = req.credential
        return self.state.issue_access_token(credential.get_user_id(), credential.get_client_id())

    def validate_token_request(self, req: OAuth1Request) -> OAuth1Request:
        super().validate_token_request(req)
        # Authlib does not check that the request token belongs to this consumer.
        if req.credential.get_client_id() != req.client_id:
            raise InvalidTokenError()
        return req


class ProviderResourceProtector(ResourceProtector):  # type: ignore[misc]
    """Authlib's Flask ``ResourceProtector`` wired to a :class:`ProviderState`."""

    def __init__(
        self,
        app: Flask,
        state: ProviderState,
        *,
        methods: Sequence[str],
        expiry: int,
        stock: bool,
    ) -> None:
        self.stock = stock
        super().__init__(
            app,
            query_client=state.get_consumer,
            query_token=state.get_access_token,
            exists_nonce=state.exists_nonce,
        )
        _configure_verification(self, methods, expiry, stock)

    def acquire_credential(self) -> AccessToken:
        if self.stock:
            try:
                credential: AccessToken = super().acquire_credential()
            except ValueError as exc:
                raise InvalidRequestError(f"malformed request: {exc}") from exc
            return credential
        try:
            oauth_req = self.validate_request(
                request.method,
                _raw_request_uri(request),
                _signed_form_body(request),
                request.headers,
            )
        except ValueError as exc:  # malformed Authorization header or query string
            raise InvalidRequestError(f"malformed request: {exc}") from exc
        token: AccessToken = oauth_req.credential
        g.authlib_server_oauth1_credential = token  # what current_credential reads
        return token


# --------------------------------------------------------------------- the app


_AUTHORIZE_FORM = """<!doctype html>
<html><head><title>Authorize {client}</title></head>
<body>
<h1>{client} wants to access your account</h1>
<form method="post" action="/authorize">
  <input type="hidden" name="oauth_token" value="{token}">
  <label>User name <input type="text" name="user" autofocus></label>
  <button type="submit" name="action" value="approve">Approve</button>
  <button type="submit" name="action" value="deny">Deny</button>
</form>
</body></html>
"""


@dataclass
class _Options:
    methods: tuple[str, ...]
    expiry: int
    stock: bool
    deny_style: Literal["twitter", "authlib"]


def _current_token() -> AccessToken:
    token = g.get("authlib_server_oauth1_credential")
    assert isinstance(token, AccessToken)
    return token


def _public_params(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k: v for k, v in items if not k.startswith("oauth_")}


def _forced(override: _Override) -> Response:
    status = override.status or 200
    body = override.body
    if body is None:
        body = url_encode([("error", "forced_error"), ("error_description", f"provider forced HTTP {status}")])
    content_type = override.content_type
    if content_type is None:
        content_type = "text/html; charset=utf-8" if body.lstrip().startswith("<") else FORM_CONTENT_TYPE
    return Response(body, status=status, content_type=content_type)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def create_provider(
    *,
    consumers: Iterable[Consumer] | None = None,
    signature_methods: Sequence[str] = DEFAULT_SIGNATURE_METHODS,
    timestamp_expiry: int = 300,
    deny_style: Literal["twitter", "authlib"] = "twitter",
    stock_authlib: bool = False,
) -> tuple[Flask, ProviderState]:
    """Build the provider app and its state.

    :param consumers: registered consumers (default: :func:`default_consumers`).
    :param signature_methods: methods the server accepts (Authlib's
        ``SUPPORTED_SIGNATURE_METHODS``); HMAC-SHA256 only works when
        ``stock_authlib`` is false.
    :param timestamp_expiry: maximum age of ``oauth_timestamp`` in seconds
        (Authlib only rejects *old* timestamps, never future ones).
    :param deny_style: ``"twitter"`` redirects a denial to
        ``callback?denied=<oauth_token>``; ``"authlib"`` to
        ``callback?error=access_denied&error_description=...``.
    :param stock_authlib: verify exactly like unmodified Authlib (see the
        module docstring for the differences).
    """
    state = ProviderState(default_consumers() if consumers is None else consumers)
    options = _Options(tuple(signature_methods), timestamp_expiry, stock_authlib, deny_style)

    app = Flask("oauth1_test_provider")
    app.config["OAUTH1_SUPPORTED_SIGNATURE_METHODS"] = list(options.methods)
    server = ProviderAuthorizationServer(
        app, state, methods=options.methods, expiry=options.expiry, stock=options.stock
    )
    protector = ProviderResourceProtector(
        app, state, methods=options.methods, expiry=options.expiry, stock=options.stock
    )
    require_oauth: Callable[[Callable[..., Response]], Callable[..., Response]] = protector()
    app.extensions["oauth1_provider_state"] = state

    @app.before_request
    def _count() -> None:
        state.record(request)

    # -- the three OAuth endpoints -------------------------------------------------

    @app.post("/request_token")
    def request_token() -> Response:
        override = state.override_for("request_token")
        if override is not None:
            return _forced(override)
        try:
            oauth_req = server.create_oauth1_request(None)
            server.validate_temporary_credentials_request(oauth_req)
        except OAuth1Error as error:
            return server.handle_error_response(error)  # type: ignore[no-any-return]
        credential = server.create_temporary_credential(oauth_req)
        payload = [
            ("oauth_token", credential.get_oauth_token()),
            ("oauth_token_secret", credential.get_oauth_token_secret()),
        ]
        confirmed = state.callback_confirmed
        if confirmed is not None:
            # Authlib itself would send the Python repr "True".
            payload.append(("oauth_callback_confirmed", "true" if confirmed else "false"))
        return server.handle_response(200, payload, server.TOKEN_RESPONSE_HEADER)  # type: ignore[no-any-return]

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Response | str:
        try:
            oauth_req = server.check_authorization_request()
        except OAuth1Error as error:
            return server.handle_error_response(error)  # type: ignore[no-any-return]
        token: str = oauth_req.token
        credential: TemporaryCredential = oauth_req.credential
        callback = credential.get_redirect_uri()
        user = (request.values.get("user") or "").strip()
        deny = _truthy(request.values.get("deny")) or request.values.get("action") == "deny"

        if deny:
            state.delete_temporary(token)
            if callback in (None, "oob"):
                return Response("access denied", status=200, content_type="text/plain")
            params: list[tuple[str, str]] = (
                [("denied", token)] if options.deny_style == "twitter" else list(AccessDeniedError().get_body())
            )
            return Response(status=302, headers={"Location": add_params_to_uri(callback, params)})

        if not user:
            consumer = state.get_consumer(credential.get_client_id())
            page = _AUTHORIZE_FORM.format(
                client=html_escape(consumer.client_id if consumer else "?"),
                token=html_escape(token),
            )
            return Response(page, content_type="text/html; charset=utf-8")

        if callback == "oob":  # PIN flow: show the verifier instead of redirecting
            oauth_req.user = user
            verifier = server.create_authorization_verifier(oauth_req)
            body = url_encode([("oauth_token", token), ("oauth_verifier", verifier)])
            return Response(body, content_type="text/plain; charset=utf-8")
        return server.create_authorization_response(grant_user=user)  # type: ignore[no-any-return]

    @app.post("/access_token")
    def access_token() -> Response:
        override = state.override_for("access_token")
        if override is not None:
            return _forced(override)
        try:
            oauth_req = server.create_oauth1_request(None)
        except OAuth1Error as error:
            return server.handle_error_response(error)  # type: ignore[no-any-return]
        try:
            server.validate_token_request(oauth_req)
        except OAuth1Error as error:
            # Like Authlib: any failed exchange burns the request token.
            server.delete_temporary_credential(oauth_req)
            return server.handle_error_response(error)  # type: ignore[no-any-return]
        token = server.create_token_credential(oauth_req)
        server.delete_temporary_credential(oauth_req)  # request tokens are single-use
        payload = [
            ("oauth_token", token.oauth_token),
            ("oauth_token_secret", token.oauth_token_secret),
            ("user_id", state.user_id_for(token.user)),
            ("screen_name", token.user),
        ]
        return server.handle_response(200, payload, server.TOKEN_RESPONSE_HEADER)  # type: ignore[no-any-return]

    # -- protected resources -------------------------------------------------------

    @app.get("/api/me")
    @require_oauth
    def api_me() -> Response:
        token = _current_token()
        return jsonify(
            user=token.user,
            user_id=state.user_id_for(token.user),
            client_id=token.client_id,
            args=_public_params(request.args.items()),
        )

    @app.route("/api/echo", methods=["POST", "PUT", "PATCH", "DELETE"])
    @require_oauth
    def api_echo() -> Response:
        token = _current_token()
        return jsonify(
            user=token.user,
            method=request.method,
            args=_public_params(request.args.items()),
            form=_public_params(request.form.items()),
            json=request.get_json(silent=True) if request.is_json else None,
            raw=request.get_data(as_text=True),
            content_type=request.content_type,
        )

    @app.get("/api/slow")
    @require_oauth
    def api_slow() -> Response:
        delay_ms = max(0, min(int(request.args.get("ms", "200")), 10_000))
        started = time.perf_counter()
        time.sleep(delay_ms / 1000.0)
        return jsonify(user=_current_token().user, slept_ms=delay_ms, started=started)

    @app.get("/api/xml")
    @require_oauth
    def api_xml() -> Response:
        user = html_escape(_current_token().user)
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<user><name>{user}</name></user>\n'
        return Response(body, content_type="application/xml")

    @app.get("/api/form")
    @require_oauth
    def api_form() -> Response:
        body = url_encode([("user", _current_token().user), ("status", "ok")])
        return Response(body, content_type=FORM_CONTENT_TYPE)

    @app.get("/api/text")
    @require_oauth
    def api_text() -> Response:
        return Response(f"hello {_current_token().user}", content_type="text/plain; charset=utf-8")

    @app.get("/api/path/<path:rest>")
    @require_oauth
    def api_path(rest: str) -> Response:
        return jsonify(user=_current_token().user, path=rest)

    @app.get("/api/status/<int:code>")
    @require_oauth
    def api_status(code: int) -> Response:
        response = jsonify(user=_current_token().user, status=code)
        response.status_code = code
        return response

    @app.route("/public", methods=["GET", "POST"])
    def public() -> Response:
        return jsonify(
            authorization="Authorization" in request.headers,
            args=dict(request.args.items()),
        )

    return app, state
