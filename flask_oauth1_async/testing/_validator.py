"""What the fake provider stores, and the oauthlib ``RequestValidator`` that reads and writes it.

The validator implements only what oauthlib leaves to the application:
looking up consumers, request tokens, verifiers and access tokens, and
remembering nonces. Every policy stays oauthlib's default (key, token, nonce
and verifier formats, signature methods, realms, the timestamp window, TLS),
with two exceptions a test asks for explicitly: plain HTTP (``enforce_ssl``
off, only when the provider serves HTTP) and a skewed clock (the window is
widened by the offset; the provider then checks the timestamp against its own
skewed clock, see ``_app``).
"""

from __future__ import annotations

import functools
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Consumer", "Storage", "make_validator", "new_key"]

_KEY_CHARS = string.ascii_letters + string.digits
#: oauthlib's default window for oauth_timestamp, in seconds either way.
TIMESTAMP_LIFETIME = 600


def new_key(length: int = 24) -> str:
    """A random key, token or secret in oauthlib's default format (20 to 30 letters and digits)."""
    return "".join(secrets.choice(_KEY_CHARS) for _ in range(length))


@functools.lru_cache(maxsize=1)
def _nobodys_public_key() -> str:
    """An RSA public key no consumer holds the private half of (checked against when none is registered)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


@dataclass(frozen=True)
class Consumer:
    """A registered client: a shared secret (HMAC, PLAINTEXT), an RSA public key (RSA-*), or both."""

    secret: str | None
    rsa_public_key: str | None = None


@dataclass
class Storage:
    """Consumers, tokens and nonces; every access holds :attr:`lock`."""

    consumers: dict[str, Consumer] = field(default_factory=dict)
    #: request token -> {"client", "secret", "callback", "verifier", "user"}
    request_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: access token -> {"client", "secret", "user"}
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    nonces: set[tuple[str, str, str, str]] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def issue_access_token(self, client: str, user: str | None) -> dict[str, str]:
        token = {"oauth_token": new_key(30), "oauth_token_secret": new_key(30)}
        with self.lock:
            self.access_tokens[token["oauth_token"]] = {
                "client": client,
                "secret": token["oauth_token_secret"],
                "user": user,
            }
        return token


def make_validator(
    storage: Storage, *, enforce_ssl: bool, clock_offset: Callable[[], int], realms: tuple[str, ...] = ()
) -> Any:
    """A ``RequestValidator`` over *storage*; *clock_offset* is read on every request.

    *realms* are the realms the provider has: oauthlib refuses a request-token
    request for any other (with none, any ``realm`` at all is refused).
    """
    from oauthlib.oauth1 import RequestValidator

    # oauthlib wants "dummy" values of a valid format, to answer unknown keys as slowly as known ones.
    dummy_secret = new_key(30)

    class StorageValidator(RequestValidator):  # type: ignore[misc]
        dummy_client = "fakeproviderdummyclient"
        dummy_request_token = "fakeproviderdummyrequest"  # noqa: S105 - not a secret
        dummy_access_token = "fakeproviderdummyaccess"  # noqa: S105 - not a secret

        @property
        def enforce_ssl(self) -> bool:
            return enforce_ssl

        @property
        def realms(self) -> list[str]:
            return list(realms)

        @property
        def timestamp_lifetime(self) -> int:
            # A skewed provider clock is checked by the app; oauthlib's own window must not refuse first.
            return TIMESTAMP_LIFETIME + abs(clock_offset())

        # -- consumers

        def validate_client_key(self, client_key: str, req: Any) -> bool:
            with storage.lock:
                return client_key in storage.consumers

        def get_client_secret(self, client_key: str, req: Any) -> str:
            with storage.lock:
                consumer = storage.consumers.get(client_key)
            if consumer is None or consumer.secret is None:
                return dummy_secret  # an RSA-only consumer has no shared secret to sign with
            return consumer.secret

        def get_rsa_key(self, client_key: str, req: Any) -> str:
            with storage.lock:
                consumer = storage.consumers.get(client_key)
            if consumer is None or consumer.rsa_public_key is None:
                return _nobodys_public_key()
            return consumer.rsa_public_key

        # -- realms (oauthlib checks a requested realm against ``realms``) and callbacks: anything goes

        def get_default_realms(self, client_key: str, req: Any) -> list[str]:
            return []

        def validate_requested_realms(self, client_key: str, realms: list[str], req: Any) -> bool:
            return True

        def get_realms(self, token: str, req: Any) -> list[str]:
            return []

        def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
            return True

        def verify_realms(self, token: str, realms: list[str], req: Any) -> bool:
            return True

        def validate_redirect_uri(self, client_key: str, redirect_uri: str, req: Any) -> bool:
            return True

        def get_redirect_uri(self, token: str, req: Any) -> str:
            with storage.lock:
                return str(storage.request_tokens[token]["callback"])

        # -- request tokens and verifiers

        def save_request_token(self, token: dict[str, str], req: Any) -> None:
            with storage.lock:
                storage.request_tokens[token["oauth_token"]] = {
                    "client": req.client_key,
                    "secret": token["oauth_token_secret"],
                    "callback": req.redirect_uri,
                    "verifier": None,
                    "user": None,
                    "created": time.monotonic(),
                }

        def verify_request_token(self, token: str, req: Any) -> bool:
            with storage.lock:
                return token in storage.request_tokens

        def validate_request_token(self, client_key: str, token: str, req: Any) -> bool:
            with storage.lock:
                record = storage.request_tokens.get(token)
                return record is not None and record["client"] == client_key

        def get_request_token_secret(self, client_key: str, token: str, req: Any) -> str:
            with storage.lock:
                record = storage.request_tokens.get(token)
                return str(record["secret"]) if record else dummy_secret

        def save_verifier(self, token: str, verifier: dict[str, str], req: Any) -> None:
            with storage.lock:
                storage.request_tokens[token]["verifier"] = verifier["oauth_verifier"]

        def validate_verifier(self, client_key: str, token: str, verifier: str, req: Any) -> bool:
            with storage.lock:
                record = storage.request_tokens.get(token)
                if record is None or not record["verifier"]:
                    return False
                req.fake_user = record["user"]
                return secrets.compare_digest(str(record["verifier"]), verifier)

        def invalidate_request_token(self, client_key: str, request_token: str, req: Any) -> None:
            with storage.lock:
                storage.request_tokens.pop(request_token, None)

        # -- access tokens

        def save_access_token(self, token: dict[str, str], req: Any) -> None:
            with storage.lock:
                storage.access_tokens[token["oauth_token"]] = {
                    "client": req.client_key,
                    "secret": token["oauth_token_secret"],
                    "user": getattr(req, "fake_user", None),
                }

        def validate_access_token(self, client_key: str, token: str, req: Any) -> bool:
            with storage.lock:
                record = storage.access_tokens.get(token)
                return record is not None and record["client"] == client_key

        def get_access_token_secret(self, client_key: str, token: str, req: Any) -> str:
            with storage.lock:
                record = storage.access_tokens.get(token)
                return str(record["secret"]) if record else dummy_secret

        # -- nonces: each one once per consumer, timestamp and token

        def validate_timestamp_and_nonce(
            self,
            client_key: str,
            timestamp: str,
            nonce: str,
            req: Any,
            request_token: str | None = None,
            access_token: str | None = None,
        ) -> bool:
            entry = (client_key, timestamp, nonce, request_token or access_token or "")
            with storage.lock:
                if entry in storage.nonces:
                    return False
                storage.nonces.add(entry)
                return True

    return StorageValidator()
