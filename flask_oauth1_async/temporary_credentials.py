"""Temporary credentials: the request token kept between the redirect and the callback.

A login starts with a request token and its secret, which must survive until
the browser comes back. Two stores keep them, behind one small interface
(:meth:`~PendingLogins.save`, :meth:`~PendingLogins.claim`,
:meth:`~PendingLogins.discard`, :meth:`~PendingLogins.newest`):

* :class:`SessionStore` (the default): the secret is sealed (encrypted and
  authenticated with a key derived from the app's ``SECRET_KEY``) into the
  session cookie;
* :class:`CacheStore` (``OAuth(cache=...)``): the secret is in the cache, and
  the cookie only holds a random nonce that the cache entry must match, so a
  callback replayed in another browser is refused (CVE-2025-68158).

In both, a pending login is bound to the browser session, expires after the
remote's ``request_token_ttl``, and is claimed at most once. At most
:data:`MAX_PENDING_LOGINS` are kept per remote and session (the newest).

The stores take plain inputs: the session is any mutable mapping (the remote
layer passes :data:`flask.session`), and cache calls are
:class:`~._effects.Invoke` effects, so sync and async caches both work.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, NamedTuple, Protocol, TypedDict, cast

from ._effects import Flow, Invoke
from ._process import ProcessLock
from .errors import CallbackTokenError, ConfigurationError

__all__ = [
    "MAX_PENDING_LOGINS",
    "CacheStore",
    "CachedLogin",
    "Claimed",
    "PendingLogin",
    "PendingLogins",
    "ReplayGuard",
    "Sealer",
    "SessionStore",
    "TemporaryCredentialCache",
    "cache_key",
    "session_key",
]

#: Pending logins kept per remote app and browser session; older ones are dropped.
MAX_PENDING_LOGINS = 3


class TemporaryCredentialCache(Protocol):
    """What ``OAuth(cache=...)`` needs: ``get``, ``set`` and ``delete``.

    Each method may be a plain function or an ``async def``. ``set`` is called
    as ``set(key, value, expires)`` with the expiry in seconds as the third
    *positional* argument, so cachelib caches, Flask-Caching's ``Cache``
    (whose parameter is named ``timeout``) and redis-py clients (``ex``) all
    fit. Values are JSON strings.

    The one-time claim reads the entry, then deletes it and checks what
    ``delete`` returned: a false value or ``0`` means another process deleted
    it first, and the callback is refused. Caches that report it (redis-py,
    cachelib, Flask-Caching) make the claim atomic across processes; with a
    cache whose ``delete`` returns None, two processes receiving the same
    callback at the same instant may both proceed (the provider's own
    one-time request token still stops the second exchange). A cache with a
    ``pop(key)`` method that reads and deletes in one atomic step (such as
    :class:`~flask_oauth1_async.redis_cache.RedisCache`) is used for the claim
    instead.
    """

    def get(self, key: str) -> Any:
        """Return the stored string (or bytes), or None."""

    def set(self, key: str, value: str, expires: int) -> Any:
        """Store *value* under *key* for *expires* seconds."""

    def delete(self, key: str) -> Any:
        """Remove *key*; ideally return whether it existed."""


class PendingLogin(TypedDict, total=False):
    """What the session cookie holds for one pending login."""

    #: Session store: the request-token secret, sealed by :class:`Sealer`.
    sealed: str
    #: Cache store: the random value the cache entry must match.
    nonce: str
    #: Unix time after which the login is refused.
    expires: int
    #: Unix time (sub-second) when the login started: orders the pending logins.
    created: float
    #: Where to send the user after the login (checked by the remote layer; not a secret).
    next: str


class Claimed(NamedTuple):
    """What a one-time claim gives back."""

    #: The request-token secret.
    secret: str
    #: The "next" URL stored with the login, if any.
    next_url: str | None


class CachedLogin(TypedDict):
    """What the cache holds for one pending login (as JSON)."""

    secret: str
    nonce: str
    expires: int


def session_key(name: str) -> str:
    """The session key under which remote *name* keeps its pending logins."""
    return f"_oauth1_{name}"


def cache_key(name: str, oauth_token: str) -> str:
    """The cache key of a pending login (the token is hashed: keys stay short and safe)."""
    digest = hashlib.sha256(oauth_token.encode()).hexdigest()[:40]
    return f"flask_oauth1_async:{name}:{digest}"


class Sealer:
    """Encrypts request-token secrets for the session cookie.

    The key is derived from the app's current ``SECRET_KEY`` each time it is
    needed, so a key rotated at run time is used at once; unsealing also
    tries the ``SECRET_KEY_FALLBACKS`` (Flask 3.1), so logins started before a
    rotation still complete. *keys* returns the current key first, then the
    fallbacks.
    """

    def __init__(self, keys: Callable[[], list[str | bytes]], max_age: int) -> None:
        self._keys = keys
        self._max_age = max_age
        self._cache: tuple[tuple[bytes, ...], Any] | None = None

    def __repr__(self) -> str:
        return "<Sealer>"

    def _fernet(self) -> Any:
        from cryptography.fernet import Fernet, MultiFernet

        raw = tuple(k.encode() if isinstance(k, str) else bytes(k) for k in self._keys() if k)
        if not raw:
            raise ConfigurationError("the Flask app has no SECRET_KEY; sessions (and so the OAuth 1 login) need one")
        cached = self._cache
        if cached is not None and cached[0] == raw:
            return cached[1]
        fernets = []
        for key in raw:
            derived = hashlib.sha256(b"flask_oauth1_async temporary credentials\x00" + key).digest()
            fernets.append(Fernet(base64.urlsafe_b64encode(derived)))
        multi = MultiFernet(fernets)
        self._cache = (raw, multi)  # one assignment: racing threads each store a valid pair
        return multi

    def seal(self, secret: str) -> str:
        """Encrypt *secret* with the current key."""
        return str(self._fernet().encrypt(secret.encode()).decode())

    def unseal(self, blob: str) -> str | None:
        """Decrypt what :meth:`seal` made (current key or a fallback); None if it is not ours."""
        from cryptography.fernet import InvalidToken

        try:
            return str(self._fernet().decrypt(blob.encode(), ttl=self._max_age).decode())
        except (InvalidToken, ValueError, TypeError):
            return None


class ReplayGuard:
    """Pending logins this process has already claimed, kept until they expire.

    The session is a cookie: a browser (or an attacker holding an old copy of
    it) can send an earlier version that still lists a used login. The guard
    stops such a replay before it reaches the provider, within one process;
    a cache (``OAuth(cache=...)``) does it across processes. One guard
    belongs to one app's registry state, so separate apps and registries
    (such as test suites) never see each other's logins.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._lock = ProcessLock()
        self._seen: dict[str, float] = {}
        self._limit = limit

    def __repr__(self) -> str:
        return f"<ReplayGuard {len(self._seen)} claimed>"

    def claim(self, key: str, expires: float) -> bool:
        """Record *key*; False if it was already recorded (a replay)."""
        now = time.time()
        with self._lock:
            if key in self._seen and self._seen[key] > now:
                return False
            if len(self._seen) >= self._limit:
                self._seen = {k: e for k, e in self._seen.items() if e > now}
                while len(self._seen) >= self._limit:
                    self._seen.pop(next(iter(self._seen)))
            self._seen[key] = expires
            return True


def _unknown() -> CallbackTokenError:
    return CallbackTokenError(
        "the callback's oauth_token does not match a login started in this browser session "
        "(already used, never issued here, or started in another browser)",
        reason="unknown",
    )


def _expired(name: str, ttl: int) -> CallbackTokenError:
    return CallbackTokenError(
        f"the login for {name!r} took longer than {ttl} s; please start it again", reason="expired"
    )


class PendingLogins(ABC):
    """The session side of both stores: which logins are pending in this browser."""

    def __init__(self, name: str, ttl: int, guard: ReplayGuard) -> None:
        self.name = name
        self.ttl = ttl
        self.guard = guard
        self._key = session_key(name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def pending(self, session: MutableMapping[str, Any]) -> dict[str, PendingLogin]:
        """The unexpired pending logins of *session*, by ``oauth_token``."""
        raw = session.get(self._key)
        if not isinstance(raw, dict):
            return {}
        now = time.time()
        return {
            k: cast(PendingLogin, v)
            for k, v in raw.items()
            if isinstance(v, dict) and isinstance(v.get("expires"), (int, float)) and v["expires"] > now
        }

    def _store(self, session: MutableMapping[str, Any], pending: dict[str, PendingLogin]) -> list[str]:
        """Save *pending* (newest :data:`MAX_PENDING_LOGINS` only); return the evicted tokens."""
        evicted: list[str] = []
        if len(pending) > MAX_PENDING_LOGINS:
            # The creation time orders them; the dict's key order cannot be
            # trusted (the session serializer sorts keys).
            by_age = sorted(pending.items(), key=_age)
            evicted = [token for token, _ in by_age[:-MAX_PENDING_LOGINS]]
            pending = dict(by_age[-MAX_PENDING_LOGINS:])
        if pending:
            session[self._key] = pending
        else:
            session.pop(self._key, None)
        return evicted

    def newest(self, session: MutableMapping[str, Any]) -> str | None:
        """The ``oauth_token`` of the newest pending login, or None."""
        pending = self.pending(session)
        if not pending:
            return None
        return max(pending.items(), key=_age)[0]

    def _take_marker(self, session: MutableMapping[str, Any], oauth_token: str) -> PendingLogin:
        """Remove the login from the session and return its marker, checked for expiry and replay."""
        raw = session.get(self._key)
        marker = raw.get(oauth_token) if isinstance(raw, dict) else None
        self._forget(session, oauth_token)
        if not isinstance(marker, dict):
            raise _unknown()
        expires = marker.get("expires")
        if not isinstance(expires, (int, float)) or expires <= time.time():
            raise _expired(self.name, self.ttl)
        if not self.guard.claim(cache_key(self.name, oauth_token), float(expires) + 60):
            raise _unknown()
        return marker  # type: ignore[return-value]

    def _forget(self, session: MutableMapping[str, Any], oauth_token: str) -> bool:
        """Remove the login from *session*; True if it was pending there."""
        pending = self.pending(session)
        known = pending.pop(oauth_token, None) is not None
        self._store(session, pending)
        return known

    def _new_marker(self, next_url: str | None) -> PendingLogin:
        now = time.time()
        marker: PendingLogin = {"expires": int(now) + self.ttl, "created": round(now, 6)}
        if next_url:
            marker["next"] = next_url
        return marker

    @abstractmethod
    def save(
        self, session: MutableMapping[str, Any], oauth_token: str, secret: str, next_url: str | None = None
    ) -> Flow[None]:
        """Remember a request token (and where to go afterwards) until the callback, bound to *session*."""

    @abstractmethod
    def claim(self, session: MutableMapping[str, Any], oauth_token: str) -> Flow[Claimed]:
        """Consume the pending login (one-time) and return its secret, or raise :class:`CallbackTokenError`."""

    @abstractmethod
    def discard(self, session: MutableMapping[str, Any], oauth_token: str) -> Flow[None]:
        """Forget a pending login (after a denial), ignoring unknown tokens."""


def _next_of(marker: PendingLogin) -> str | None:
    value = marker.get("next")
    return value if isinstance(value, str) and value else None


def _age(item: tuple[str, PendingLogin]) -> tuple[float, float]:
    record = item[1]
    return (record.get("created", record.get("expires", 0)), record.get("expires", 0))


class SessionStore(PendingLogins):
    """Pending logins kept in the session cookie, their secrets sealed."""

    def __init__(self, name: str, ttl: int, guard: ReplayGuard, sealer: Sealer) -> None:
        super().__init__(name, ttl, guard)
        self.sealer = sealer

    def save(
        self, session: MutableMapping[str, Any], oauth_token: str, secret: str, next_url: str | None = None
    ) -> Flow[None]:
        """Seal *secret* into the session under *oauth_token*."""
        pending = self.pending(session)
        marker = self._new_marker(next_url)
        marker["sealed"] = self.sealer.seal(secret)
        pending[oauth_token] = marker
        self._store(session, pending)
        yield from ()  # a flow that needs no effect

    def claim(self, session: MutableMapping[str, Any], oauth_token: str) -> Flow[Claimed]:
        """Take the login out of the session and unseal its secret."""
        yield from ()  # a flow that needs no effect
        marker = self._take_marker(session, oauth_token)
        secret = self.sealer.unseal(str(marker.get("sealed", "")))
        if secret is None:
            raise _unknown()
        return Claimed(secret, _next_of(marker))

    def discard(self, session: MutableMapping[str, Any], oauth_token: str) -> Flow[None]:
        """Remove the login from the session."""
        self._forget(session, oauth_token)
        yield from ()  # a flow that needs no effect


class CacheStore(PendingLogins):
    """Pending logins kept in a cache; the session only holds a nonce per login."""

    def __init__(self, name: str, ttl: int, guard: ReplayGuard, cache: TemporaryCredentialCache) -> None:
        super().__init__(name, ttl, guard)
        self.cache = cache

    def save(
        self, session: MutableMapping[str, Any], oauth_token: str, secret: str, next_url: str | None = None
    ) -> Flow[None]:
        """Store the secret in the cache and a matching nonce in *session*."""
        pending = self.pending(session)
        marker = self._new_marker(next_url)
        nonce = secrets.token_urlsafe(16)
        entry: CachedLogin = {"secret": secret, "nonce": nonce, "expires": marker["expires"]}
        yield Invoke(self.cache.set, (cache_key(self.name, oauth_token), json.dumps(entry), self.ttl))
        marker["nonce"] = nonce
        pending[oauth_token] = marker
        yield from self._delete_all(self._store(session, pending))

    def _delete_all(self, tokens: Iterable[str]) -> Flow[None]:
        for token in tokens:  # abandoned logins: free their cache entries now
            yield Invoke(self.cache.delete, (cache_key(self.name, token),))

    def claim(self, session: MutableMapping[str, Any], oauth_token: str) -> Flow[Claimed]:
        """Take the entry out of the cache, atomically where the cache allows it."""
        key = cache_key(self.name, oauth_token)
        try:
            marker = self._take_marker(session, oauth_token)
        except CallbackTokenError as exc:
            if exc.reason == "expired":
                yield Invoke(self.cache.delete, (key,))
            raise
        pop = getattr(self.cache, "pop", None)
        if callable(pop):
            stored = yield Invoke(pop, (key,))
        else:
            stored = yield Invoke(self.cache.get, (key,))
            if stored is not None:
                deleted = yield Invoke(self.cache.delete, (key,))
                if deleted is not None and not deleted:
                    raise _unknown()  # another process claimed it between our get and delete
        if stored is None:
            raise _expired(self.name, self.ttl)
        try:
            data = json.loads(stored.decode() if isinstance(stored, bytes) else stored)
        except (ValueError, TypeError, AttributeError):
            raise _unknown() from None
        if not isinstance(data, dict) or not secrets.compare_digest(
            str(data.get("nonce", "")), str(marker.get("nonce", ""))
        ):
            raise _unknown()
        if not isinstance(data.get("expires"), (int, float)) or data["expires"] <= time.time():
            raise _expired(self.name, self.ttl)
        return Claimed(str(data.get("secret", "")), _next_of(marker))

    def discard(self, session: MutableMapping[str, Any], oauth_token: str) -> Flow[None]:
        """Remove the login from the session and its entry from the cache."""
        if self._forget(session, oauth_token):
            yield Invoke(self.cache.delete, (cache_key(self.name, oauth_token),))
