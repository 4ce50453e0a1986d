""":class:`~flask_oauth1_async.redis_cache.RedisCache` on a real ``redis-server``.

The protocol methods and the atomic ``pop`` with a sync and an async
redis-py client, and a whole login through it in a ``def`` and an
``async def`` view. The session's server comes from
:mod:`tests.support.redis_server`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

from flask_oauth1_async._drivers import call_async, call_sync
from flask_oauth1_async.redis_cache import RedisCache
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientAppFactory
from tests.support.browser import Browser
from tests.support.redis_server import RedisServer
from tests.support.views import PREFIX, VIEW_KINDS, dance_routes

KINDS = ("sync-client", "async-client")


_opened: list[RedisCache] = []


@pytest.fixture(autouse=True)
def _close_caches() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _cache(server: RedisServer, kind: str, prefix: str) -> RedisCache:
    if kind == "async-client":
        cache = RedisCache(redis.asyncio.Redis.from_url(server.url), prefix=prefix)
    else:
        cache = RedisCache(redis.Redis.from_url(server.url), prefix=prefix)
    _opened.append(cache)
    return cache


def _keys(server: RedisServer, pattern: str) -> Any:
    with redis.Redis.from_url(server.url) as client:
        return client.keys(pattern)


def _ttl(server: RedisServer, key: str) -> Any:
    with redis.Redis.from_url(server.url) as client:
        return client.ttl(key)


@pytest.mark.parametrize("kind", KINDS)
def test_protocol_methods_and_atomic_pop(kind: str, redis_server: RedisServer) -> None:
    cache = _cache(redis_server, kind, f"unit-{kind}:")
    assert cache.is_async == (kind == "async-client")
    assert call_sync(cache.set, ("k", '{"a": 1}', 30)) is True
    assert call_sync(cache.get, ("k",)) == b'{"a": 1}'
    assert call_sync(cache.pop, ("k",)) == b'{"a": 1}'
    assert call_sync(cache.pop, ("k",)) is None  # gone: a second claim finds nothing
    assert call_sync(cache.delete, ("k",)) is False

    async def awaited() -> Any:
        await call_async(cache.set, ("k2", "v", 30))
        return await call_async(cache.pop, ("k2",)), await call_async(cache.get, ("k2",))

    assert asyncio.run(awaited()) == (b"v", None)
    # Keys expire with the pending login.
    call_sync(cache.set, ("k3", "v", 30))
    ttl = _ttl(redis_server, f"unit-{kind}:k3")
    assert 0 < ttl <= 30


@pytest.mark.parametrize("kind", KINDS)
def test_pop_races_have_one_winner(kind: str, redis_server: RedisServer) -> None:
    cache = _cache(redis_server, kind, f"race-{kind}:")
    for round_ in range(20):
        call_sync(cache.set, (f"r{round_}", "secret", 30))
        barrier = threading.Barrier(4)
        got: list[Any] = []

        def claim(key: str, barrier: threading.Barrier = barrier, got: list[Any] = got) -> None:
            barrier.wait()
            got.append(call_sync(cache.pop, (key,)))

        threads = [threading.Thread(target=claim, args=(f"r{round_}",)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(got, key=repr) == [None, None, None, b"secret"], got


@pytest.mark.parametrize("mode", VIEW_KINDS)
@pytest.mark.parametrize("kind", KINDS)
def test_login_through_the_redis_cache(
    kind: str, mode: str, redis_server: RedisServer, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    cache = _cache(redis_server, kind, f"login-{kind}-{mode}:")
    ca = client_app(provider, dance_routes, oauth_kwargs={"cache": cache})
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login")
        assert result.response.status_code == 200, result.response.text
        replay = browser.get(result.callback_url)
    # Claimed once: the replay is refused (dance_routes answers errors as JSON with 418).
    assert replay.status_code == 418
    assert replay.json()["error"] == "CallbackTokenError"
    leftover = _keys(redis_server, f"login-{kind}-{mode}:*")
    assert leftover == []
