"""Temporary credentials (request tokens) between ``authorize_redirect`` and the callback.

Stored in the session cookie (encrypted) by default, or in a cache given as
``OAuth(cache=...)`` with only a nonce in the session. Checked here, in sync and
async views: one-time use (also against an old copy of the session cookie,
which still lists a login already completed: the process remembers which
logins were consumed), binding to the browser that started the login
(CVE-2025-68158: a callback URL replayed in another browser must not log that
browser in), expiry, the bound on abandoned logins, secrecy of the cookie, and
real caches (cachelib, Flask-Caching, an async cache).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cachelib import FileSystemCache, SimpleCache
from flask import Flask
from flask_caching import Cache

from flask_oauth1_async import CallbackTokenError, ConfigurationError, OAuth, temporary_credentials
from flask_oauth1_async.temporary_credentials import MAX_PENDING_LOGINS, cache_key
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.browser import Browser, approve, start_login
from tests.support.views import PREFIX, VIEW_KINDS, dance_routes, query_of, with_query

SESSION_KEY = "_oauth1_demo"


# ------------------------------------------------------------------ an async cache


class AsyncDictCache:
    """Test double for an async cache client such as ``redis.asyncio.Redis``.

    ``get``/``set``/``delete`` are coroutines, so the library must await them
    (in async views) or run them to completion (in sync views). The dict is
    guarded by a :class:`threading.Lock`, not an :class:`asyncio.Lock`: Flask
    runs every async view in its own event loop and sync views in server
    threads, and the critical sections never await. Every call is recorded.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, tuple[str, float]] = {}
        self.calls: list[tuple[Any, ...]] = []

    async def get(self, key: str) -> str | None:
        await asyncio.sleep(0)  # a real client yields to the loop here
        with self._lock:
            self.calls.append(("get", key))
            item = self._data.get(key)
            if item is None or item[1] <= time.time():
                return None
            return item[0]

    async def set(self, key: str, value: str, expires: int) -> bool:
        await asyncio.sleep(0)
        with self._lock:
            self.calls.append(("set", key, value, expires))
            self._data[key] = (value, time.time() + expires)
        return True

    async def delete(self, key: str) -> bool:
        await asyncio.sleep(0)
        with self._lock:
            self.calls.append(("delete", key))
            return self._data.pop(key, None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def peek(self, key: str) -> str | None:
        """Synchronous look at the stored value (for assertions)."""
        with self._lock:
            item = self._data.get(key)
            return item[0] if item is not None else None


# ------------------------------------------------------------------ storage backends


@dataclass
class Storage:
    """How a test app stores temporary credentials, and how the test looks into that store."""

    name: str
    cache: Any  # None: the session cookie
    init: Callable[[Flask], None]
    peek: Callable[[Flask, str], Any]

    @property
    def is_cache(self) -> bool:
        return self.cache is not None


def _no_init(app: Flask) -> None:
    return None


def _make_storage(name: str, tmp_path: Path) -> Storage:
    if name == "session":
        return Storage(name, None, _no_init, lambda app, key: None)
    if name == "cachelib-simple":
        simple = SimpleCache()
        return Storage(name, simple, _no_init, lambda app, key: simple.get(key))
    if name == "cachelib-filesystem":
        fs = FileSystemCache(str(tmp_path / "oauth-cache"))
        return Storage(name, fs, _no_init, lambda app, key: fs.get(key))
    if name == "flask-caching":
        fc = Cache(config={"CACHE_TYPE": "SimpleCache"})

        def peek(app: Flask, key: str) -> Any:
            with app.app_context():
                return fc.get(key)

        return Storage(name, fc, fc.init_app, peek)
    if name == "async":
        ac = AsyncDictCache()
        return Storage(name, ac, _no_init, lambda app, key: ac.peek(key))
    raise AssertionError(name)


CACHES = ("cachelib-simple", "cachelib-filesystem", "flask-caching", "async")
ALL_STORAGES = ("session", *CACHES)


@pytest.fixture
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Indirectly parametrized: ``@pytest.mark.parametrize("storage", [...], indirect=True)``."""
    return _make_storage(str(request.param), tmp_path)


# ------------------------------------------------------------------ app + helpers


def _app_factory(storage: Storage) -> Callable[[Flask, OAuth], None]:
    def setup(app: Flask, oauth: OAuth) -> None:
        storage.init(app)
        dance_routes(app, oauth)  # errors: JSON with 418, the exceptions kept in app.config["CAUGHT"]

    return setup


def _serve(client_app: ClientAppFactory, provider: FakeProvider, storage: Storage, **register: Any) -> ClientApp:
    oauth_kwargs = {"cache": storage.cache} if storage.is_cache else None
    return client_app(provider, _app_factory(storage), oauth_kwargs=oauth_kwargs, **register)


def _last_error(ca: ClientApp) -> BaseException:
    caught: list[BaseException] = ca.app.config["CAUGHT"]
    assert caught, "no OAuthError was raised"
    return caught[-1]


def _assert_token_error(ca: ClientApp, response: Any, reason: str) -> None:
    assert response.status_code == 418, response.text
    assert response.json()["error"] == "CallbackTokenError"
    exc = _last_error(ca)
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == reason, exc


def _session(ca: ClientApp, browser: Browser) -> dict[str, Any]:
    """The decoded Flask session of *browser* (empty if it has no session cookie)."""
    cookie = browser.cookies.get("session")
    if cookie is None:
        return {}
    serializer = ca.app.session_interface.get_signing_serializer(ca.app)  # type: ignore[attr-defined]
    assert serializer is not None
    with ca.app.app_context():
        data: dict[str, Any] = serializer.loads(cookie)
    return data


def _request_token_secret(provider: FakeProvider, oauth_token: str) -> str:
    secret = provider.token_secret(oauth_token)
    assert secret is not None, "the provider does not know this request token"
    assert len(secret) >= 20
    return secret


class FakeClock:
    """Replaces the ``time`` module inside ``flask_oauth1_async.temporary_credentials``.

    Starts at the real time rounded down to a whole second and advances by
    *step* seconds on every reading (and by :meth:`advance`).
    """

    def __init__(self, step: float = 0.0) -> None:
        self.now = float(int(time.time()))
        self.step = step
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            value = self.now
            self.now += self.step
            return value

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(temporary_credentials, "time", SimpleNamespace(time=clock.time))
    return clock


# ------------------------------------------------------------------ one-time use


@pytest.mark.parametrize("storage", ALL_STORAGES, indirect=True)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_callback_is_one_time_use(
    kind: str, storage: Storage, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, storage)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login", user="alice")
        assert result.response.status_code == 200, result.response.text
        assert result.response.json()["token"]["screen_name"] == "alice"
        assert len(provider.received("access_token")) == 1

        replay = browser.get(result.callback_url)
    _assert_token_error(ca, replay, "unknown")
    assert len(provider.received("access_token")) == 1, "a replayed callback must not reach the provider"


# ------------------------------------------------------------------ replay with an old copy of the session cookie


def _decode_session(ca: ClientApp, cookie: str) -> dict[str, Any]:
    serializer = ca.app.session_interface.get_signing_serializer(ca.app)  # type: ignore[attr-defined]
    assert serializer is not None
    data: dict[str, Any] = serializer.loads(cookie)
    return data


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_callback_replayed_with_an_old_session_cookie_is_refused(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, dance_routes)
    with Browser() as alice:
        start = alice.get(ca.url + PREFIX[mode] + "/login")
        assert start.status_code == 302, start.text
        old_cookie = alice.cookies.get("session")
        assert old_cookie is not None
        oauth_token = query_of(start.headers["Location"])["oauth_token"]
        assert oauth_token in _decode_session(ca, old_cookie)["_oauth1_demo"]

        consent = alice.get(with_query(start.headers["Location"], user="alice"))
        assert consent.status_code == 302, consent.text
        callback_url = consent.headers["Location"]
        done = alice.get(callback_url)
        assert done.status_code == 200, done.text
        assert done.json()["token"]["screen_name"] == "alice"
        new_cookie = alice.cookies.get("session")
        assert new_cookie != old_cookie
        if new_cookie is not None:  # (an emptied session is deleted)
            assert oauth_token not in _decode_session(ca, new_cookie).get("_oauth1_demo", {})
    assert len(provider.received("access_token")) == 1

    # The old copy of the cookie still lists the login; the process remembers it was consumed.
    with Browser() as mallory:
        mallory.cookies.set("session", old_cookie)
        replay = mallory.get(callback_url)
    assert replay.status_code == 418, replay.text
    assert replay.json()["error"] == "CallbackTokenError"
    (exc,) = ca.app.config["CAUGHT"]
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "unknown"
    assert len(provider.received("access_token")) == 1, "the replay must not reach the provider"


# ------------------------------------------------------------------ bound to the browser (CVE-2025-68158)


@pytest.mark.parametrize("storage", ALL_STORAGES, indirect=True)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_callback_replayed_in_another_browser_fails(
    kind: str, storage: Storage, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, storage)
    with Browser() as victim, Browser() as attacker:
        callback_url = approve(victim, start_login(victim, ca.url + PREFIX[kind] + "/login"), user="victim")

        # A fresh cookie jar, then one holding a pending login of its own: both are refused.
        fresh = attacker.get(callback_url)
        _assert_token_error(ca, fresh, "unknown")
        start_login(attacker, ca.url + PREFIX[kind] + "/login")
        assert _session(ca, attacker).get(SESSION_KEY), "the attacker now has a pending login"
        with_own_login = attacker.get(callback_url)
        _assert_token_error(ca, with_own_login, "unknown")
        assert len(provider.received("access_token")) == 0

        # The attempts did not burn the victim's login, which completes normally...
        done = victim.get(callback_url)
        assert done.status_code == 200, done.text
        assert done.json()["token"]["screen_name"] == "victim"
        assert len(provider.received("access_token")) == 1

        # ...and replaying it elsewhere afterwards still fails.
        late = attacker.get(callback_url)
    _assert_token_error(ca, late, "unknown")
    assert len(provider.received("access_token")) == 1


# ------------------------------------------------------------------ expiry


@pytest.mark.parametrize("storage", ["session", "cachelib-simple", "async"], indirect=True)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_expired_login_is_rejected(
    kind: str, storage: Storage, fake_clock: FakeClock, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    # The cache's own expiry runs on the real clock: a TTL long enough for a loaded
    # machine keeps the entry there, and the fake clock makes the login late.
    ca = _serve(client_app, provider, storage, request_token_ttl=60)
    with Browser() as browser:
        authorize_url = start_login(browser, ca.url + PREFIX[kind] + "/login")
        key = cache_key("demo", query_of(authorize_url)["oauth_token"])
        if storage.is_cache:
            assert storage.peek(ca.app, key) is not None
        callback_url = approve(browser, authorize_url)
        fake_clock.advance(61)
        response = browser.get(callback_url)
        session_after = _session(ca, browser)
    _assert_token_error(ca, response, "expired")
    assert "took longer than 60 s" in str(_last_error(ca))
    assert len(provider.received("access_token")) == 0
    assert SESSION_KEY not in session_after, "the expired login is forgotten"
    if storage.is_cache:
        assert storage.peek(ca.app, key) is None, "the expired cache entry is deleted"


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_login_within_ttl_is_accepted(
    kind: str, fake_clock: FakeClock, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, _make_storage("session", Path()), request_token_ttl=5)
    with Browser() as browser:
        callback_url = approve(browser, start_login(browser, ca.url + PREFIX[kind] + "/login"))
        fake_clock.advance(4)
        response = browser.get(callback_url)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("storage", CACHES, indirect=True)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_cache_entry_gone_before_callback_is_expired(
    kind: str, storage: Storage, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    # The cache evicted the entry (its own TTL, memory pressure, a restart) before the user came back.
    ca = _serve(client_app, provider, storage)
    with Browser() as browser:
        authorize_url = start_login(browser, ca.url + PREFIX[kind] + "/login")
        key = cache_key("demo", query_of(authorize_url)["oauth_token"])
        assert storage.peek(ca.app, key) is not None
        if isinstance(storage.cache, Cache):
            with ca.app.app_context():
                storage.cache.delete(key)
        elif isinstance(storage.cache, AsyncDictCache):
            asyncio.run(storage.cache.delete(key))
        else:
            storage.cache.delete(key)
        response = browser.get(approve(browser, authorize_url))
    _assert_token_error(ca, response, "expired")
    assert len(provider.received("access_token")) == 0


# ------------------------------------------------------------------ abandoned logins


@pytest.mark.parametrize("storage", ["session", "cachelib-simple"], indirect=True)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_abandoned_logins_keep_the_cookie_bounded(
    kind: str, storage: Storage, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, storage)
    sizes: list[int] = []
    with Browser() as browser:
        for _ in range(20):
            start_login(browser, ca.url + PREFIX[kind] + "/login")
            cookie = browser.cookies.get("session")
            assert cookie is not None
            sizes.append(len(cookie))
            assert len(_session(ca, browser)[SESSION_KEY]) <= MAX_PENDING_LOGINS
        pending = _session(ca, browser)[SESSION_KEY]
    assert MAX_PENDING_LOGINS == 3
    assert len(pending) == 3
    # Once three logins are pending the cookie stops growing (Fernet/zlib output varies a little).
    assert max(sizes) <= sizes[2] * 1.2, sizes
    assert max(sizes) < 2048, sizes
    assert len(provider.received("request_token")) == 20


@pytest.mark.parametrize("storage", ["session", "cachelib-simple"], indirect=True)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_abandoned_logins_only_the_newest_three_survive(
    kind: str, storage: Storage, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    # 20 logins within one second (a script, or a user hammering the button): the clock
    # advances 1 ms per reading, so "newest" is well defined but whole seconds tie.
    clock = FakeClock(step=0.001)
    monkeypatch.setattr(temporary_credentials, "time", SimpleNamespace(time=clock.time))
    ca = _serve(client_app, provider, storage)
    with Browser() as browser:
        authorize_urls = [start_login(browser, ca.url + PREFIX[kind] + "/login") for _ in range(20)]
        pending = set(_session(ca, browser)[SESSION_KEY])
        newest = [query_of(url)["oauth_token"] for url in authorize_urls[-3:]]
        assert pending == set(newest), "the three newest logins are the ones kept"

        # Each of the three newest completes (order of completion does not matter)...
        for user in ("u18", "u19", "u20"):
            provider.add_user(user)
        for url, user in zip(authorize_urls[-3:], ("u18", "u19", "u20"), strict=True):
            response = browser.get(approve(browser, url, user=user))
            assert response.status_code == 200, response.text
            assert response.json()["token"]["screen_name"] == user
        # ...and an older one was dropped.
        stale = browser.get(approve(browser, authorize_urls[-4]))
    _assert_token_error(ca, stale, "unknown")
    assert len(provider.received("access_token")) == 3


# ------------------------------------------------------------------ secrecy of the session cookie


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_session_mode_never_puts_the_secret_in_the_cookie_in_clear(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, _make_storage("session", Path()))
    with Browser() as browser:
        authorize_url = start_login(browser, ca.url + PREFIX[kind] + "/login")
        oauth_token = query_of(authorize_url)["oauth_token"]
        secret = _request_token_secret(provider, oauth_token)
        raw_cookie = browser.cookies.get("session")
        assert raw_cookie is not None
        decoded = _session(ca, browser)

        entry = decoded[SESSION_KEY][oauth_token]
        assert isinstance(entry.get("sealed"), str), "an encrypted secret is stored"
        assert entry["sealed"]
        assert secret not in entry["sealed"]
        assert set(entry) == {"sealed", "expires", "created"}  # no callback URL: it was never read
        assert secret not in raw_cookie
        assert secret not in json.dumps(decoded)

        # The encrypted value still does its job: the login completes.
        response = browser.get(approve(browser, authorize_url))
    assert response.status_code == 200, response.text
    assert response.json()["token"]["screen_name"] == "alice"


# ------------------------------------------------------------------ cache mode with real caches


@pytest.mark.parametrize("storage", CACHES, indirect=True)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_cache_mode_keeps_the_secret_out_of_the_cookie(
    kind: str, storage: Storage, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, storage, request_token_ttl=321)
    with Browser() as browser:
        authorize_url = start_login(browser, ca.url + PREFIX[kind] + "/login")
        oauth_token = query_of(authorize_url)["oauth_token"]
        secret = _request_token_secret(provider, oauth_token)
        key = cache_key("demo", oauth_token)

        # The cache holds the secret...
        stored = storage.peek(ca.app, key)
        assert stored is not None
        record = json.loads(stored)
        assert record["secret"] == secret
        assert set(record) == {"secret", "nonce", "expires"}  # no callback URL: it was never read
        # ...and the cookie only a nonce and an expiry: no secret, not even encrypted.
        raw_cookie = browser.cookies.get("session")
        assert raw_cookie is not None
        assert secret not in raw_cookie
        decoded = _session(ca, browser)
        assert secret not in json.dumps(decoded)
        assert set(decoded[SESSION_KEY][oauth_token]) == {"nonce", "expires", "created"}
        assert decoded[SESSION_KEY][oauth_token]["nonce"] == record["nonce"]
        assert oauth_token not in key, "cache keys do not expose the token"

        response = browser.get(approve(browser, authorize_url))
        assert response.status_code == 200, response.text
        assert response.json()["token"]["screen_name"] == "alice"

        # Used once, then deleted (from the cache and from the session).
        assert storage.peek(ca.app, key) is None
        assert SESSION_KEY not in _session(ca, browser)
    if isinstance(storage.cache, AsyncDictCache):
        sets = [call for call in storage.cache.calls if call[0] == "set"]
        assert len(sets) == 1
        assert sets[0][1] == key
        assert sets[0][3] == 321
        assert ("delete", key) in storage.cache.calls


@pytest.mark.parametrize("storage", CACHES, indirect=True)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_cache_entry_deleted_after_denial(
    kind: str, storage: Storage, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, storage)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[kind] + "/login", deny=True)
        key = cache_key("demo", result.callback_params["denied"])
        assert result.response.status_code == 418
        assert result.response.json()["error"] == "AccessDeniedError"
        assert storage.peek(ca.app, key) is None
        assert SESSION_KEY not in _session(ca, browser)


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_async_cache_used_by_concurrent_browsers(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    storage = _make_storage("async", Path())
    ca = _serve(client_app, provider, storage)
    results: dict[str, Any] = {}
    for i in range(6):
        provider.add_user(f"user{i}")

    def login(user: str) -> None:
        with Browser() as browser:
            results[user] = browser.login_via(ca.url + PREFIX[kind] + "/login", user=user).response

    threads = [threading.Thread(target=login, args=(f"user{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [f"user{i}" for i in range(6)]
    for user, response in results.items():
        assert response.status_code == 200, response.text
        assert response.json()["token"]["screen_name"] == user
    assert isinstance(storage.cache, AsyncDictCache)
    assert len(storage.cache) == 0, "every entry was consumed"


# ------------------------------------------------------------------ SECRET_KEY rotation


def test_sealer_follows_the_current_key_and_reads_fallbacks() -> None:
    keys: list[str | bytes] = ["old-key"]
    sealer = temporary_credentials.Sealer(lambda: list(keys), max_age=60)
    sealed_old = sealer.seal("request-secret")
    keys[:] = ["new-key", "old-key"]  # rotated at run time, the old key kept as a fallback
    assert sealer.unseal(sealed_old) == "request-secret"  # a login in progress survives
    sealed_new = sealer.seal("request-secret")
    keys[:] = ["new-key"]  # the fallback retired: only what the new key sealed still opens
    assert sealer.unseal(sealed_new) == "request-secret"
    assert sealer.unseal(sealed_old) is None
    keys[:] = []
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        sealer.seal("x")


@pytest.mark.skipif(
    tuple(int(p) for p in importlib.metadata.version("flask").split(".")[:2]) < (3, 1),
    reason="SECRET_KEY_FALLBACKS is a Flask 3.1 feature (older Flask cannot read the rotated session cookie at all)",
)
@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_login_in_progress_survives_a_key_rotation(
    kind: str, provider: FakeProvider, client_app: ClientAppFactory
) -> None:
    ca = _serve(client_app, provider, _make_storage("session", Path()))
    with Browser() as browser:
        authorize_url = start_login(browser, ca.url + PREFIX[kind] + "/login")
        ca.app.config["SECRET_KEY_FALLBACKS"] = [ca.app.secret_key]
        ca.app.secret_key = "a-brand-new-key"
        response = browser.get(approve(browser, authorize_url))
    assert response.status_code == 200, response.text
    assert response.json()["token"]["screen_name"] == "alice"
