"""Tokens: the :class:`OAuth1Token` type, and how a signed call finds its token.

A call's token is, in this order: the ``token=`` argument; the token this
request already has for the remote (set by the login callback, by
``remote.token = ...``, or found by an earlier call); the result of
``fetch_token``, looked up once and kept for the request (:class:`TokenSlot`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._effects import Flow, Invoke
from .errors import ConfigurationError, MissingTokenError

__all__ = ["OAuth1Token", "TokenLike", "TokenSlot", "resolve_token", "to_token"]


class OAuth1Token(dict[str, Any]):
    """A token credential: ``oauth_token``, ``oauth_token_secret`` and any extra fields.

    It is a plain :class:`dict` (it serialises to JSON and stores anywhere a
    dict does), except that its :func:`repr` masks ``oauth_token_secret`` so
    that logging a token never leaks the secret. Extra fields the provider
    returned with the access token (``user_id``, ``screen_name``...) are kept.
    """

    @property
    def token(self) -> str:
        """The ``oauth_token`` value."""
        return str(self["oauth_token"])

    @property
    def secret(self) -> str:
        """The ``oauth_token_secret`` value (never shown by ``repr``)."""
        return str(self.get("oauth_token_secret") or "")

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "oauth_token_secret" else v) for k, v in self.items()}
        return f"OAuth1Token({shown!r})"

    __str__ = __repr__


#: What ``token=`` and ``fetch_token`` may give: a mapping with ``oauth_token``
#: and ``oauth_token_secret`` (Authlib's shape), or a ``(token, secret)`` pair
#: (Flask-OAuthlib's shape).
TokenLike = Mapping[str, Any] | tuple[str, str] | list[str]


def to_token(value: object) -> OAuth1Token | None:
    """Convert a :data:`TokenLike` into an :class:`OAuth1Token`; None stays None."""
    if value is None:
        return None
    if isinstance(value, OAuth1Token):
        return value
    if isinstance(value, Mapping):
        if not value.get("oauth_token"):
            raise ConfigurationError("a token mapping needs a non-empty 'oauth_token' key")
        return OAuth1Token(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        token, secret = value
        if not token or not isinstance(token, str):
            raise ConfigurationError("a (token, secret) pair needs a non-empty token string")
        if secret is not None and not isinstance(secret, str):
            raise ConfigurationError("the secret of a (token, secret) pair must be a string")
        return OAuth1Token(oauth_token=token, oauth_token_secret=secret or "")
    raise ConfigurationError(
        f"a token must be a mapping with 'oauth_token' and 'oauth_token_secret', "
        f"or a (token, secret) pair, not {type(value).__name__}"
    )


class TokenSlot:
    """One request's token for one remote app, and the single lookup that fills it.

    The rule, the same for blocking and awaited calls: a signed call without
    ``token=`` uses the slot's value when it has one; otherwise it calls
    ``fetch_token`` through the slot, which keeps the result for the rest of
    the request. Callers that arrive while the lookup runs wait for it
    instead of calling ``fetch_token`` again (threads sharing the request, or
    tasks of one ``asyncio.gather``). :meth:`clear` (``remote.token = None``)
    forgets the value, so the next call looks it up again.

    The remote-app layer keeps one slot per remote on :data:`flask.g`; a call
    outside a request has no slot and calls ``fetch_token`` each time.
    """

    __slots__ = ("_known", "_lock", "_pending", "_value")

    def __init__(self) -> None:
        self._known = False
        self._value: OAuth1Token | None = None
        self._lock = threading.Lock()
        self._pending: dict[asyncio.AbstractEventLoop, asyncio.Future[Any]] = {}

    def __repr__(self) -> str:
        return f"<TokenSlot {'filled' if self._known else 'empty'}>"

    @property
    def known(self) -> bool:
        """True once a value was set or looked up (it may be None: "no token")."""
        return self._known

    @property
    def value(self) -> OAuth1Token | None:
        """The token, or None when unknown or when ``fetch_token`` found none."""
        return self._value

    def set(self, value: object) -> None:
        """Make *value* (token-like, or None for "no token") the slot's value."""
        self._value = to_token(value)
        self._known = True

    def clear(self) -> None:
        """Forget the value: the next signed call looks the token up again."""
        self._known = False
        self._value = None

    def run_sync(self, call: Callable[[], Any]) -> Any:
        """Fill the slot with ``call()`` unless it is filled; return the value's source."""
        with self._lock:
            if self._known:
                return self._value
            result = call()
            self.set(result)
            return result

    async def run_async(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Awaitable form of :meth:`run_sync`; tasks on one loop share one call."""
        loop = asyncio.get_running_loop()
        while True:
            if self._known:
                return self._value
            existing = self._pending.get(loop)
            if existing is None:
                break
            # asyncio.wait never cancels what it waits for: if *this* caller
            # is cancelled, the lookup goes on for the others.
            await asyncio.wait([existing])
            if not existing.cancelled():
                return existing.result()
            # The caller running the lookup was cancelled: take over.
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[loop] = future
        try:
            result = await call()
            self.set(result)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters get it, nobody else must
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            if self._pending.get(loop) is future:
                del self._pending[loop]
        future.set_result(result)
        return result


def resolve_token(
    name: str,
    explicit: object,
    slot: TokenSlot | None,
    fetch: Callable[..., Any] | None,
    fetch_args: tuple[Any, ...],
) -> Flow[OAuth1Token]:
    """Find the token of a signed call: *explicit* (``token=``), then *slot*, then *fetch*."""
    if explicit is not None:
        resolved = to_token(explicit)
        assert resolved is not None
        return resolved
    if slot is not None and slot.known:
        if slot.value is None:
            raise MissingTokenError(f"no token for {name!r}: fetch_token returned None for this request")
        return slot.value
    if fetch is None:
        raise MissingTokenError(
            f"no token for {name!r}: pass token=..., or configure fetch_token on OAuth() or register()"
        )
    value = yield Invoke(fetch, fetch_args, gate=slot)
    token = to_token(value)
    if token is None:
        raise MissingTokenError(f"no token for {name!r}: fetch_token returned None")
    return token
