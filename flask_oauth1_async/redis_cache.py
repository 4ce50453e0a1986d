"""A temporary-credential cache on Redis, with an atomic one-time claim.

:class:`RedisCache` wraps a redis-py client, sync (``redis.Redis``) or async
(``redis.asyncio.Redis``), and gives ``OAuth(cache=...)`` what it needs,
plus ``pop``: read and delete in one atomic step (``GETDEL``, or ``GET`` and
``DEL`` in a ``MULTI`` transaction on Redis older than 6.2). When two
processes receive the same callback at the same moment, exactly one of them
gets the pending login; the other answers 400::

    import redis
    from flask_oauth1_async import OAuth
    from flask_oauth1_async.redis_cache import RedisCache

    oauth = OAuth(app, cache=RedisCache(redis.Redis.from_url("redis://localhost:6379/0")))

An async client's connections belong to one event loop, and Flask runs every
``async def`` view on a loop of its own, so the commands of an async client
run on this package's background loop (the one that owns its HTTP clients).

redis-py is not a dependency of this package: install it (``pip install
redis``) to use this module.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any

from ._loop_thread import loop_thread

__all__ = ["RedisCache"]


class RedisCache:
    """``OAuth(cache=...)`` on a redis-py client, with an atomic :meth:`pop`.

    *prefix* is put in front of every key (to share a database with other
    users of it). Keys expire with the pending login.
    """

    def __init__(self, client: Any, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        #: True for a ``redis.asyncio`` client.
        # redis.asyncio's command methods are plain functions returning
        # awaitables; its execute_command is the coroutine function.
        self.is_async = any(
            inspect.iscoroutinefunction(getattr(client, attr, None)) for attr in ("execute_command", "get")
        )
        self._getdel = True
        if self.is_async:  # the protocol methods become coroutines
            self.get = self._aget  # type: ignore[method-assign]
            self.set = self._aset  # type: ignore[method-assign]
            self.delete = self._adelete  # type: ignore[method-assign,assignment]
            self.pop = self._apop  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"<RedisCache {'async' if self.is_async else 'sync'} prefix={self.prefix!r}>"

    def close(self) -> None:
        """Close the client's connections (an async client's on the background loop)."""
        if not self.is_async:
            self.client.close()
            return
        closer = getattr(self.client, "aclose", None) or self.client.close

        async def run() -> None:
            await closer()

        loop_thread.submit(run()).result(timeout=10)

    # -- sync client ---------------------------------------------------------

    def get(self, key: str) -> Any:
        """Return the stored value (bytes), or None."""
        return self.client.get(self.prefix + key)

    def set(self, key: str, value: str, expires: int) -> Any:
        """Store *value* for *expires* seconds."""
        return self.client.set(self.prefix + key, value, ex=expires)

    def delete(self, key: str) -> bool:
        """Delete *key*; True if it existed."""
        return bool(self.client.delete(self.prefix + key))

    def pop(self, key: str) -> Any:
        """Read and delete *key* atomically; None if it was not there (or another process took it)."""
        name = self.prefix + key
        if self._getdel:
            try:
                return self.client.getdel(name)
            except Exception as exc:
                if not _unknown_command(exc):
                    raise
                self._getdel = False
        pipe = self.client.pipeline(transaction=True)
        pipe.get(name)
        pipe.delete(name)
        value, _ = pipe.execute()
        return value

    # -- async client (commands run on the background loop) ------------------

    async def _on_loop(self, make: Any) -> Any:
        async def run() -> Any:
            result = make()
            return await result if isinstance(result, Awaitable) else result

        return await loop_thread.run(run())

    async def _aget(self, key: str) -> Any:
        return await self._on_loop(lambda: self.client.get(self.prefix + key))

    async def _aset(self, key: str, value: str, expires: int) -> Any:
        return await self._on_loop(lambda: self.client.set(self.prefix + key, value, ex=expires))

    async def _adelete(self, key: str) -> bool:
        return bool(await self._on_loop(lambda: self.client.delete(self.prefix + key)))

    async def _apop(self, key: str) -> Any:
        name = self.prefix + key
        if self._getdel:
            try:
                return await self._on_loop(lambda: self.client.getdel(name))
            except Exception as exc:
                if not _unknown_command(exc):
                    raise
                self._getdel = False

        async def transaction() -> Any:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.get(name)
                pipe.delete(name)
                value, _ = await pipe.execute()
            return value

        return await self._on_loop(transaction)


def _unknown_command(exc: Exception) -> bool:
    return type(exc).__name__ == "ResponseError" and "unknown command" in str(exc).lower()
