"""An OAuth 1.0a provider built on oauthlib's endpoints, at oauthlib's defaults.

The :class:`StorageValidator` implements only the storage methods that
``oauthlib.oauth1.RequestValidator`` leaves abstract (client, token, verifier
and nonce lookups). It overrides none of the ``check_*`` methods, none of the
length or safe-character settings, nor ``enforce_ssl`` or the timestamp
window: every default check of oauthlib applies, which is the point of the
exercise. Because ``enforce_ssl`` is on, serve it over HTTPS
(:func:`tests.support.servers.make_tls`).

Keys and tokens fit oauthlib's default formats (20 to 30 ASCII letters and
digits). RSA consumers are registered with their public key.

Typical use::

    app, state = create_oauthlib_provider()
    with make_tls() as tls, ServerThread(app, ssl_context=tls.server_context) as server:
        ...  # register a remote with state.consumers[...] and client_kwargs={"verify": tls.client_context}

Routes: ``/request_token``, ``/authorize`` (auto-approves ``?user=NAME``),
``/access_token`` and ``/api/<anything>`` (any method; a valid signature
answers 200 with JSON describing what the provider decoded).
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)

__all__ = ["OAuthlibProviderState", "StorageValidator", "create_oauthlib_provider", "new_key"]

_ALPHANUMERIC = string.ascii_letters + string.digits


def new_key(length: int = 24) -> str:
    """A random key, token or secret in oauthlib's default format."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


@dataclass
class OAuthlibProviderState:
    """Everything the provider stores; all access under :attr:`lock`."""

    #: client key -> client secret (HMAC/PLAINTEXT) or PEM public key (RSA)
    consumers: dict[str, str] = field(default_factory=dict)
    rsa_consumers: set[str] = field(default_factory=set)
    #: request token -> {"client": ..., "secret": ..., "callback": ..., "verifier": ..., "user": ...}
    request_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: access token -> {"client": ..., "secret": ..., "user": ...}
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    nonces: set[tuple[str, str, str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_consumer(self, secret_or_public_key: str, *, rsa: bool = False) -> str:
        key = new_key()
        with self.lock:
            self.consumers[key] = secret_or_public_key
            if rsa:
                self.rsa_consumers.add(key)
        return key


class StorageValidator(RequestValidator):
    """Storage only; every policy of ``RequestValidator`` is left at its default."""

    def __init__(self, state: OAuthlibProviderState) -> None:
        super().__init__()
        self.state = state

    # dummies (used by oauthlib to keep timing constant for unknown keys)
    @property
    def dummy_client(self) -> str:
        return "dummyclientkeyzzzzzzzzz"

    @property
    def dummy_request_token(self) -> str:
        return "dummyrequesttokenzzzzzz"

    @property
    def dummy_access_token(self) -> str:
        return "dummyaccesstokenzzzzzzz"

    # clients
    def validate_client_key(self, client_key: str, request: Any) -> bool:
        with self.state.lock:
            return client_key in self.state.consumers

    def get_client_secret(self, client_key: str, request: Any) -> str:
        with self.state.lock:
            if client_key in self.state.rsa_consumers:
                return ""
            return self.state.consumers.get(client_key, "dummysecret")

    def get_rsa_key(self, client_key: str, request: Any) -> str:
        with self.state.lock:
            return self.state.consumers[client_key]

    # realms and callbacks
    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def validate_requested_realms(self, client_key: str, realms: list[str], request: Any) -> bool:
        return True

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def verify_realms(self, token: str, realms: list[str], request: Any) -> bool:
        return True

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        return True

    def get_redirect_uri(self, token: str, request: Any) -> str:
        with self.state.lock:
            return str(self.state.request_tokens[token]["callback"])

    # request tokens
    def save_request_token(self, token: dict[str, str], request: Any) -> None:
        with self.state.lock:
            self.state.request_tokens[token["oauth_token"]] = {
                "client": request.client_key,
                "secret": token["oauth_token_secret"],
                "callback": request.redirect_uri,
                "verifier": None,
            }

    def verify_request_token(self, token: str, request: Any) -> bool:
        with self.state.lock:
            return token in self.state.request_tokens

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        with self.state.lock:
            record = self.state.request_tokens.get(token)
            return record is not None and record["client"] == client_key

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        with self.state.lock:
            record = self.state.request_tokens.get(token)
            return str(record["secret"]) if record else "dummysecret"

    def save_verifier(self, token: str, verifier: dict[str, str], request: Any) -> None:
        with self.state.lock:
            record = self.state.request_tokens[token]
            record["verifier"] = verifier["oauth_verifier"]
            record["user"] = verifier.get("user")

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        with self.state.lock:
            record = self.state.request_tokens.get(token)
            if record is None or record["verifier"] is None:
                return False
            request.user = record.get("user")
            return secrets.compare_digest(str(record["verifier"]), verifier)

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        with self.state.lock:
            self.state.request_tokens.pop(request_token, None)

    # access tokens
    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        with self.state.lock:
            self.state.access_tokens[token["oauth_token"]] = {
                "client": request.client_key,
                "secret": token["oauth_token_secret"],
                "user": getattr(request, "user", None),
            }

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        with self.state.lock:
            record = self.state.access_tokens.get(token)
            return record is not None and record["client"] == client_key

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        with self.state.lock:
            record = self.state.access_tokens.get(token)
            return str(record["secret"]) if record else "dummysecret"

    # nonces
    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        entry = (client_key, timestamp, nonce, request_token or access_token or "")
        with self.state.lock:
            if entry in self.state.nonces:
                return False
            self.state.nonces.add(entry)
            return True


def _raw_uri() -> str:
    """The request URI exactly as sent (werkzeug's ``request.url`` re-encodes it)."""
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    return f"{request.scheme}://{request.host}{target}"


def _wire() -> tuple[str, str, str, dict[str, str]]:
    return _raw_uri(), request.method, request.get_data(as_text=True), dict(request.headers)


def _answer(headers: dict[str, str], body: str | None, status: int) -> Response:
    return Response(body or "", status=status, headers=headers)


def create_oauthlib_provider() -> tuple[Flask, OAuthlibProviderState]:
    """A Flask app wrapping oauthlib's four endpoints, and its state."""
    state = OAuthlibProviderState()
    validator = StorageValidator(state)
    request_endpoint = RequestTokenEndpoint(validator)
    authorization_endpoint = AuthorizationEndpoint(validator)
    access_endpoint = AccessTokenEndpoint(validator)
    resource_endpoint = ResourceEndpoint(validator)
    app = Flask("oauthlib-provider")

    @app.post("/request_token")
    def request_token() -> Response:
        return _answer(*request_endpoint.create_request_token_response(*_wire()))

    @app.get("/authorize")
    def authorize() -> Response:
        user = request.args.get("user")
        if not user:
            return Response("consent needed: add ?user=NAME", status=400)
        uri, method, body, headers = _wire()
        return _answer(
            *authorization_endpoint.create_authorization_response(
                uri, method, body, headers, credentials={"user": user}
            )
        )

    @app.post("/access_token")
    def access_token() -> Response:
        return _answer(*access_endpoint.create_access_token_response(*_wire()))

    @app.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def api(rest: str) -> Response:
        ok, oauth_request = resource_endpoint.validate_protected_resource_request(*_wire())
        if not ok:
            return Response("invalid signature or token", status=401)
        with state.lock:
            user = state.access_tokens.get(oauth_request.resource_owner_key, {}).get("user")
        return jsonify(
            path=rest,
            method=request.method,
            user=user,
            args=list(request.args.items(multi=True)),
            form=list(request.form.items(multi=True)),
            body=request.get_data(as_text=True) if not request.form else None,
            signature_method=oauth_request.signature_method,
        )

    return app, state
