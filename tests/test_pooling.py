"""Connection pooling and client lifecycle, measured by counting (never timing).

Connections are counted at the HTTPS provider (``ServerThread.connections``):
a pooled client re-uses one keep-alive TLS connection, so 100 calls - each in
its own Flask request, or all in one - must open fewer than 2 new
connections, for sync views (shared ``httpx.Client``) and async views
(``httpx.AsyncClient`` living on the background loop thread) alike.

Life cycle: ``close()`` / ``aclose()`` and later calls, a forked child, and
re-registering a remote while one of its calls is in flight (held open at the
side server's gate): the new settings apply at once, and the old clients are
closed only after that call has ended.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from flask import Flask, Response, current_app, jsonify, request

import flask_oauth1_async._backends as backends_mod
import flask_oauth1_async._tls as tls_mod
from flask_oauth1_async import OAuth, TransportError
from flask_oauth1_async._loop_thread import loop_thread
from flask_oauth1_async._tls import default_ssl_context
from flask_oauth1_async.testing import FakeProvider
from tests.conftest import ClientApp, ClientAppFactory
from tests.support.fake import register_settings
from tests.support.side_server import SideServer
from tests.support.views import PREFIX, VIEW_KINDS, remote_state

N_CALLS = 100


def _ids() -> dict[str, int]:
    state = remote_state(current_app)  # type: ignore[arg-type]
    return {"sync_client": id(state.sync_client()), "async_client": id(state.async_client(loop_thread.home()))}


def _routes(app: Flask, oauth: OAuth) -> None:
    @app.route("/s/me")
    def s_me() -> Response:
        n = int(request.args.get("n", "1"))
        users = [oauth.demo.get("me").json()["user"] for _ in range(n)]
        return jsonify(users=users, **_ids())

    @app.route("/a/me")
    async def a_me() -> Response:
        n = int(request.args.get("n", "1"))
        users = []
        for _ in range(n):
            resp = await oauth.demo.get("me")
            users.append(resp.json()["user"])
        return jsonify(users=users, **_ids())

    @app.route("/a/close")
    async def a_close() -> Response:
        resp = await oauth.demo.get("me")
        await oauth.aclose()
        return jsonify(user=resp.json()["user"])


def _serve(client_app: ClientAppFactory, provider: FakeProvider, user: str = "alice") -> ClientApp:
    tok = provider.issue_token(user)
    return client_app(provider, _routes, oauth_kwargs={"fetch_token": lambda name: tok})


# ------------------------------------------------------------------ connection counts


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_one_call_per_request_reuses_tls_connection(
    mode: str, provider_tls: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider_tls)
    url = f"{ca.url}/{mode[0]}/me"
    warm = http.get(url)  # opens the pooled connection
    assert warm.json()["users"] == ["alice"]
    provider_tls.reset_counters()
    before = len(provider_tls.received("api", "me"))
    client_ids = set()
    for _ in range(N_CALLS):
        resp = http.get(url)
        assert resp.status_code == 200, resp.text
        assert resp.json()["users"] == ["alice"]
        client_ids.add(resp.json()[f"{mode}_client"])
    new_connections = provider_tls.connections
    served = len(provider_tls.received("api", "me")) - before
    print(f"\n[pooling] {mode} views, {N_CALLS} requests x 1 call over HTTPS: {new_connections} new TCP connections")
    assert served == N_CALLS
    assert new_connections < 2
    assert len(client_ids) == 1  # the same client object served every request


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_many_calls_in_one_request_reuse_tls_connection(
    mode: str, provider_tls: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider_tls)
    url = f"{ca.url}/{mode[0]}/me"
    http.get(url)
    provider_tls.reset_counters()
    before = len(provider_tls.received("api", "me"))
    resp = http.get(url, params={"n": N_CALLS})
    assert resp.status_code == 200, resp.text
    assert resp.json()["users"] == ["alice"] * N_CALLS
    new_connections = provider_tls.connections
    print(f"\n[pooling] {mode} view, 1 request x {N_CALLS} calls over HTTPS: {new_connections} new TCP connections")
    assert new_connections < 2
    assert len(provider_tls.received("api", "me")) - before == N_CALLS


def test_clients_are_shared_across_requests(
    provider_tls: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider_tls)
    seen = [http.get(f"{ca.url}/{m}/me").json() for m in ("s", "a", "s", "a")]
    state = remote_state(ca.app)
    sync_client, async_client = state.sync_client(), state.async_client(loop_thread.home())
    assert isinstance(sync_client, httpx.Client)
    assert isinstance(async_client, httpx.AsyncClient)
    assert {s["sync_client"] for s in seen} == {id(sync_client)}
    assert {s["async_client"] for s in seen} == {id(async_client)}
    assert state.sync_client() is sync_client
    assert state.async_client(loop_thread.home()) is async_client


def test_clients_closed_underneath_are_replaced(
    provider_tls: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    # Someone closes the pooled clients (a teardown hook, a library shutting
    # down its clients): the next call gets new ones instead of httpx's
    # untyped RuntimeError.
    ca = _serve(client_app, provider_tls)
    assert http.get(f"{ca.url}/s/me").status_code == 200
    assert http.get(f"{ca.url}/a/me").status_code == 200
    state = remote_state(ca.app)
    old_sync, old_async = state.sync_client(), state.async_client(loop_thread.home())
    old_sync.close()
    loop_thread.submit(old_async.aclose()).result(timeout=10)
    for mode in ("s", "a", "s", "a"):
        answer = http.get(f"{ca.url}/{mode}/me")
        assert answer.status_code == 200, answer.text
    assert state.sync_client() is not old_sync
    assert state.async_client(loop_thread.home()) is not old_async
    assert not state.sync_client().is_closed


def test_ssl_context_is_built_once(monkeypatch: pytest.MonkeyPatch, provider: FakeProvider) -> None:
    """Several apps x several remotes x (sync + async clients): one CA-bundle load."""
    monkeypatch.setattr(tls_mod, "_shared", None)
    built: list[Any] = []
    real_create = httpx.create_ssl_context

    def counting_create(*args: Any, **kwargs: Any) -> Any:
        ctx = real_create(*args, **kwargs)
        built.append(ctx)
        return ctx

    monkeypatch.setattr(httpx, "create_ssl_context", counting_create)
    # What every httpx transport receives as `verify` (its own create_ssl_context call).
    transport_verify: list[Any] = []
    import httpx._transports.default as httpx_default

    real_transport_create = httpx_default.create_ssl_context

    def recording_transport_create(verify: Any = True, *args: Any, **kwargs: Any) -> Any:
        transport_verify.append(verify)
        return real_transport_create(verify, *args, **kwargs)

    monkeypatch.setattr(httpx_default, "create_ssl_context", recording_transport_create)

    tok = provider.issue_token("alice")
    registries = []
    for i in range(3):
        app = Flask(f"ssl-count-{i}")
        app.secret_key = "k"
        oauth = OAuth(app)
        registries.append(oauth)
        for name in ("one", "two"):
            settings = register_settings(provider)
            settings.pop("client_kwargs", None)  # default verification
            oauth.register(name, **settings)
        with app.test_request_context():
            for name in ("one", "two"):
                remote = oauth.create_client(name)
                assert remote.get_sync("me", token=tok).json()["user"] == "alice"
                assert asyncio.run(remote.get_async("me", token=tok)).json()["user"] == "alice"
    try:
        ctx = default_ssl_context()
        assert default_ssl_context() is ctx
        print(f"\n[pooling] httpx.create_ssl_context calls for 3 apps x 2 remotes x 2 clients: {len(built)}")
        assert len(built) == 1
        assert built[0] is ctx
        # 12 clients were built, each handed the shared context (no CA load of their own); on the
        # aiohttp backend the 6 async ones get no httpx transport (their connector holds the context).
        assert len(transport_verify) >= (12 if backends_mod.default_async_transport == "httpx" else 6)
        assert all(v is ctx for v in transport_verify)
    finally:
        for oauth in registries:
            oauth.close()


# ------------------------------------------------------------------ lifecycle


def test_close_then_call_recreates_clients(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    assert http.get(ca.url + "/s/me").json()["users"] == ["alice"]
    assert http.get(ca.url + "/a/me").json()["users"] == ["alice"]
    state = remote_state(ca.app)
    old_sync, old_async = state.sync_client(), state.async_client(loop_thread.home())

    ca.oauth.close()
    assert old_sync.is_closed
    assert old_async.is_closed
    ca.oauth.close()  # idempotent

    for mode in ("s", "a"):
        resp = http.get(f"{ca.url}/{mode}/me")
        assert resp.status_code == 200, resp.text
        assert resp.json()["users"] == ["alice"]
    new_sync, new_async = state.sync_client(), state.async_client(loop_thread.home())
    assert new_sync is not old_sync
    assert new_async is not old_async
    assert not new_sync.is_closed
    assert not new_async.is_closed


def test_aclose_inside_async_view(provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client) -> None:
    ca = _serve(client_app, provider)
    assert http.get(ca.url + "/s/me").json()["users"] == ["alice"]
    assert http.get(ca.url + "/a/me").json()["users"] == ["alice"]
    state = remote_state(ca.app)
    old_sync, old_async = state.sync_client(), state.async_client(loop_thread.home())

    resp = http.get(ca.url + "/a/close")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"user": "alice"}
    assert old_async.is_closed
    assert old_sync.is_closed

    after = http.get(ca.url + "/a/me")
    assert after.status_code == 200, after.text
    assert after.json()["users"] == ["alice"]
    assert state.async_client(loop_thread.home()) is not old_async
    assert http.get(ca.url + "/s/me").json()["users"] == ["alice"]
    assert state.sync_client() is not old_sync


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_fork_child_gets_fresh_clients_and_loop(
    provider: FakeProvider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = _serve(client_app, provider)
    # The parent has live clients, pooled connections and a running loop thread.
    assert http.get(ca.url + "/s/me").json()["users"] == ["alice"]
    assert http.get(ca.url + "/a/me").json()["users"] == ["alice"]
    state = remote_state(ca.app)
    parent_sync, parent_async = state.sync_client(), state.async_client(loop_thread.home())
    parent_loop = loop_thread.get_loop()
    tok = provider.issue_token("erin")
    hits_before = len(provider.received("api", "me"))

    def child() -> int:
        with ca.app.test_request_context():
            sync_resp = ca.oauth.demo.get("me", token=tok)
            if sync_resp.json().get("user") != "erin":
                return 10
            if state.sync_client() is parent_sync:
                return 11
            async_resp = asyncio.run(ca.oauth.demo.get_async("me", token=tok))
            if async_resp.json().get("user") != "erin":
                return 12
            if state.async_client(loop_thread.home()) is parent_async:
                return 13
            if loop_thread.get_loop() is parent_loop:
                return 14
        ca.oauth.close()  # closes the child's clients only, never the parent's sockets
        return 0

    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a multi-threaded process.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            signal.alarm(30)  # never hang the test run
            code = child()
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    assert exit_code == 0, f"fork child failed with exit code {exit_code}"
    assert len(provider.received("api", "me")) == hits_before + 2  # the child's two calls reached the provider

    # The parent's clients, loop and pooled connections are untouched and still work.
    assert state.sync_client() is parent_sync
    assert state.async_client(loop_thread.home()) is parent_async
    assert loop_thread.get_loop() is parent_loop
    provider.reset_counters()
    assert http.get(ca.url + "/s/me").json()["users"] == ["alice"]
    assert http.get(ca.url + "/a/me").json()["users"] == ["alice"]
    print(f"\n[fork] parent's calls after the child exited opened {provider.connections} new connections")
    assert provider.connections == 0


# ------------------------------------------------------------------ re-registering while a call is in flight


def _wait_until(predicate: Callable[[], bool], what: str, limit: float = 15.0) -> None:
    """Poll *predicate* (a counter or a state, never a duration) until it holds."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        time.sleep(0.005)


def _reregister_routes(side_url: str) -> Callable[[Flask, OAuth], None]:
    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/s/gate")
        def s_gate() -> Response:
            resp = oauth.demo.get(side_url + "/gate")
            return jsonify(status=resp.status_code, body=resp.json())

        @app.route("/a/gate")
        async def a_gate() -> Response:
            resp = await oauth.demo.get(side_url + "/gate")
            return jsonify(status=resp.status_code, body=resp.json())

        @app.route("/s/me")
        def s_me() -> Response:
            return jsonify(oauth.demo.get("me").json())

        @app.route("/a/me")
        async def a_me() -> Response:
            return jsonify((await oauth.demo.get("me")).json())

    return setup


@pytest.mark.parametrize("mode", VIEW_KINDS)
def test_reregister_waits_for_the_call_in_flight(
    mode: str, provider: FakeProvider, client_app: ClientAppFactory, side: SideServer, http: httpx.Client
) -> None:
    alice = provider.issue_token("alice")
    provider.respond("path/me", handler=lambda call: {"user": call.user, "path": "me"})
    ca = client_app(
        provider,
        _reregister_routes(side.url),
        oauth_kwargs={"fetch_token": lambda name: alice},
        allowed_origins=[side.url],  # the gated call is signed, and goes to the side server
    )
    base = ca.url + PREFIX[mode]

    # Generation 1: /api/me.
    assert http.get(base + "/me").json()["user"] == "alice"
    old = remote_state(ca.app)

    with ThreadPoolExecutor(max_workers=1) as pool, httpx.Client(timeout=30, trust_env=False) as other:
        in_flight = pool.submit(other.get, base + "/gate")
        try:
            _wait_until(lambda: side.entered == 1, "the gated call to reach the side server")
            old_clients = old._clients.get()
            # The async client of the loop that served the calls: the background loop, or the runner's.
            (async_client,) = old_clients.by_home.values() if mode == "async" else (None,)
            old_client: httpx.Client | httpx.AsyncClient | None = old_clients.sync if mode == "sync" else async_client
            assert old_client is not None
            assert not old_client.is_closed

            # Generation 2 while the call is held: "me" now resolves to /api/path/me.
            ca.oauth.register(
                "demo",
                **register_settings(provider, api_base_url=provider.url + "/api/path/", allowed_origins=[side.url]),
            )
            resp = http.get(base + "/me")
            assert resp.status_code == 200, resp.text
            assert resp.json() == {"user": "alice", "path": "me"}, "the new settings are used at once"
            new = remote_state(ca.app)
            assert new is not old
            # The old clients are retired, but not closed under the call that still uses them.
            assert not old_client.is_closed
            assert (old_clients.sync if mode == "sync" else async_client) is old_client
            assert side.entered == 1
        finally:
            side.release()  # let the held call finish (also when an assertion above failed)
        held = in_flight.result(timeout=30)

    assert held.status_code == 200, held.text
    assert held.json() == {"status": 200, "body": {"gate": "passed"}}
    # Once the call has ended, the retired state lets go of its clients and closes them.
    assert old_clients.sync is None
    assert not old_clients.by_home
    _wait_until(lambda: old_client.is_closed, "the retired client to be closed")
    # And later calls keep using generation 2.
    assert http.get(base + "/me").json() == {"user": "alice", "path": "me"}
    assert remote_state(ca.app) is new
    assert len(provider.received("api", "me")) == 1
    assert len(provider.received("api", "path/me")) == 2


def test_a_loop_that_is_shutting_down_is_never_handed_out() -> None:
    # The window between run_forever() returning and the loop being closed: a
    # call arriving then must get a new loop, not wait on one that will never
    # run its task (it used to hang).
    from flask_oauth1_async._loop_thread import LoopThread

    lt = LoopThread("test-dying-loop")
    try:

        async def main() -> None:
            old = lt.get_loop()
            started = lt._state.get().current
            assert started is not None
            started.dead = True  # as the loop thread marks it when run_forever() returns
            assert await lt.run(asyncio.sleep(0, result=7)) == 7
            assert lt.get_loop() is not old
            assert lt.generation == 2
            old.call_soon_threadsafe(old.stop)

        asyncio.run(main())
    finally:
        lt.stop()


def test_a_dying_loop_fails_only_its_own_waiters() -> None:
    from flask_oauth1_async._loop_thread import LoopThread

    lt = LoopThread("test-own-waiters")
    try:

        async def main() -> None:
            lt.get_loop()
            first = lt._state.get().current
            assert first is not None
            current = asyncio.get_running_loop()
            mine: asyncio.Future[Any] = current.create_future()
            other: asyncio.Future[Any] = current.create_future()
            second = type(first)(first.generation + 1)  # another loop's bookkeeping
            try:
                first.waiters[mine] = current
                second.waiters[other] = current
                first.fail_waiters()
                await asyncio.sleep(0.05)
                assert mine.done()
                assert isinstance(mine.exception(), TransportError)
                assert not other.done()  # a waiter of another loop is left alone
                assert other in second.waiters
            finally:
                first.waiters.clear()
                second.waiters.clear()

        asyncio.run(main())
    finally:
        lt.stop()
