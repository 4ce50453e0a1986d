"""Proofs for the "Hardening from review" commit, against real servers, in sync and async views.

One section per fix:

1. shared clients never store response cookies;
2. ``fetch_token`` single-flight survives a cancelled caller;
3. ``PendingCall`` is a coroutine (``create_task``, ``ensure_future``, ``TaskGroup``);
4. re-registering a remote retires its clients only after the calls in flight;
5. ``event_hooks`` / ``async_event_hooks``;
6. empty token pairs are refused;
7. the process-local replay guard of session mode (an old copy of the cookie);
8. percent-encoded secrets are masked in error messages;
9. ``RemoteApp.token`` lives on ``flask.g``;
10. PIN (``oob``) logins;
11. lenient token-response parsing (trailing ``&``);
12. fork-safe locks.

Besides the provider, some tests use a small "side" server (a Flask app on a
:class:`~tests.support.servers.ServerThread`) that sets cookies, echoes the
``Cookie`` header, and has a *gate* endpoint that holds a request until the
test releases it: "a call is in flight" is then a fact the test controls, not
a matter of timing. Everything is counted (requests received, hook runs,
``fetch_token`` runs), never timed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import select
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from authlib.integrations.base_client import OAuthError
from flask import Flask, Response, g, jsonify, request, url_for

from flask_oauth1_async import (
    CallbackTokenError,
    ConfigurationError,
    InvalidTokenResponseError,
    NeverAwaitedWarning,
    OAuth,
    ProviderHTTPError,
    _flow,
)
from flask_oauth1_async._transport import loop_thread
from flask_oauth1_async.registry import EXTENSION_KEY, RemoteState
from tests.conftest import ClientApp, ClientAppFactory, Provider
from tests.support.browser import Browser
from tests.support.servers import ServerThread

MODES = ("sync", "async")
PREFIX = {"sync": "/s", "async": "/a"}


# ====================================================================== helpers


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


def _wait_until(predicate: Callable[[], bool], what: str, limit: float = 15.0) -> None:
    """Poll *predicate* (a counter or a state, never a duration) until it holds."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        time.sleep(0.005)


def _token_headers(token: dict[str, str]) -> dict[str, str]:
    return {"X-Token": token["oauth_token"], "X-Secret": token["oauth_token_secret"]}


def _token_from_headers() -> dict[str, str]:
    return {"oauth_token": request.headers["X-Token"], "oauth_token_secret": request.headers["X-Secret"]}


def _catch_oauth_errors(app: Flask) -> list[BaseException]:
    """Answer every ``OAuthError`` with JSON (HTTP 418) and keep the exception objects."""
    caught: list[BaseException] = []
    app.config["CAUGHT"] = caught

    @app.errorhandler(OAuthError)
    def oauth_error(e: OAuthError) -> tuple[Response, int]:
        caught.append(e)
        return jsonify(error=type(e).__name__, message=str(e)), 418

    return caught


def _remote_state(app: Flask, name: str = "demo") -> RemoteState:
    """The current :class:`RemoteState` of remote *name* in *app*."""
    return app.extensions[EXTENSION_KEY].remotes[name][1]  # type: ignore[no-any-return]


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


class WarningRecorder:
    """Record every warning raised while a view runs (``warnings.catch_warnings`` in the server thread).

    Only one view runs at a time in the tests that use it (the test thread
    waits for the answer), so swapping the process-wide warning filters is safe.
    """

    def __init__(self) -> None:
        self._cm = warnings.catch_warnings(record=True)
        self.caught: list[warnings.WarningMessage] = []

    def __enter__(self) -> WarningRecorder:
        log = self._cm.__enter__()
        assert log is not None
        self.caught = log  # the very list catch_warnings appends to (an empty list is falsy: no 'or')
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc: object) -> None:
        gc.collect()  # a dropped PendingCall/Future/coroutine reports itself now, inside the recorder
        self._cm.__exit__(*exc)

    def messages(self) -> list[str]:
        return [f"{w.category.__name__}: {w.message}" for w in self.caught]


def _never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    gc.collect()
    return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


# ------------------------------------------------------------------ the side server


class SideServer:
    """A tiny app for what the provider cannot do: set cookies, echo them, hold a request open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entered = 0
        self._release = threading.Event()
        app = Flask("side-server")

        @app.get("/set")
        def set_cookie() -> Response:
            resp = jsonify(cookie=request.headers.get("Cookie"))
            resp.set_cookie("sid", request.args["v"], path="/")
            return resp

        @app.get("/echo")
        def echo() -> Response:
            return jsonify(cookie=request.headers.get("Cookie"))

        @app.get("/gate")
        def gate() -> Response:
            with self._lock:
                self._entered += 1
            released = self._release.wait(20)
            return jsonify(gate="passed" if released else "timed-out")

        self.server = ServerThread(app, name="side-server").start()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def entered(self) -> int:
        """Requests that reached ``/gate``."""
        with self._lock:
            return self._entered

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self._release.set()  # never leave a request hanging
        self.server.stop()


@pytest.fixture
def side() -> Iterator[SideServer]:
    server = SideServer()
    try:
        yield server
    finally:
        server.stop()


# ============================================================ 1. response cookies


def _cookie_routes(side_url: str) -> Callable[[Flask, OAuth], None]:
    def setup(app: Flask, oauth: OAuth) -> None:
        @app.route("/s/side/<action>")
        def s_side(action: str) -> Response:
            resp = oauth.demo.get(f"{side_url}/{action}", params={"v": request.args.get("v", "")})
            return jsonify(set_cookie=resp.headers.get_list("set-cookie"), seen=resp.json()["cookie"])

        @app.route("/a/side/<action>")
        async def a_side(action: str) -> Response:
            resp = await oauth.demo.get(f"{side_url}/{action}", params={"v": request.args.get("v", "")})
            return jsonify(set_cookie=resp.headers.get_list("set-cookie"), seen=resp.json()["cookie"])

    return setup


def test_side_server_cookie_is_storable_by_a_plain_client(side: SideServer) -> None:
    """Control: an ordinary httpx client keeps the side server's cookie, so the tests below can fail."""
    with httpx.Client(trust_env=False) as plain:
        plain.get(side.url + "/set", params={"v": "alice-session"})
        assert plain.get(side.url + "/echo").json() == {"cookie": "sid=alice-session"}


@pytest.mark.parametrize("configured", [False, True], ids=["no-client-cookies", "client-cookies"])
@pytest.mark.parametrize("mode", MODES)
def test_shared_client_never_stores_response_cookies(
    mode: str, configured: bool, provider: Provider, client_app: ClientAppFactory, side: SideServer, http: httpx.Client
) -> None:
    tokens = {user: provider.token_for(user) for user in ("alice", "bob")}
    register: dict[str, Any] = {}
    if configured:
        register["client_kwargs"] = {"cookies": {"static": "1"}}
    ca = client_app(
        provider,
        _cookie_routes(side.url),
        oauth_kwargs={"fetch_token": lambda name: tokens[request.headers["X-User"]]},
        **register,
    )
    expected = "static=1" if configured else None
    base = ca.url + PREFIX[mode]

    # Alice's call gets a session cookie from the server...
    resp = http.get(base + "/side/set", params={"v": "alice-session"}, headers={"X-User": "alice"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [c.split(";")[0] for c in body["set_cookie"]] == ["sid=alice-session"]
    assert body["seen"] == expected

    # ...which neither Bob's next call nor Alice's own next call carries.
    for user in ("bob", "alice", "bob"):
        resp = http.get(base + "/side/echo", headers={"X-User": user})
        assert resp.status_code == 200, resp.text
        assert resp.json()["seen"] == expected, f"{user}'s call carried {resp.json()['seen']!r}"


# ============================================================ 2. single-flight and cancellation


def _single_flight_routes(app: Flask, oauth: OAuth) -> None:
    def call(style: str) -> Any:
        return oauth.demo.get_async("me") if style == "get_async" else oauth.demo.get("me")

    @app.route("/a/gather_wait_for")
    async def gather_wait_for() -> Response:
        style = request.args["style"]
        with WarningRecorder() as recorder:
            if request.args["order"] == "timed-out-first":
                # Scheduled before gather's tasks, so the caller that times out is the one
                # running fetch_token (single flight): the other one must take over.
                first_call: Any = asyncio.ensure_future(call(style))
            else:
                first_call = call(style)
            first, second = await asyncio.gather(
                asyncio.wait_for(first_call, 0.05), call(style), return_exceptions=True
            )
        return jsonify(
            first=type(first).__name__,
            first_is_timeout=isinstance(first, asyncio.TimeoutError),  # not the builtin before 3.11
            second=type(second).__name__,
            second_user=second.json()["user"] if isinstance(second, httpx.Response) else repr(second),
            warnings=recorder.messages(),
        )

    @app.route("/a/cancel/<victim>")
    async def cancel(victim: str) -> Response:
        g.hold_first_fetch = True
        g.first_fetch_started = asyncio.Event()
        g.release_first_fetch = asyncio.Event()
        with WarningRecorder() as recorder:
            runner = asyncio.create_task(oauth.demo.get_async("me"))
            await g.first_fetch_started.wait()  # the runner is inside fetch_token
            waiter = asyncio.create_task(oauth.demo.get_async("me"))
            for _ in range(5):
                await asyncio.sleep(0)  # the waiter now waits for the runner's lookup
            if victim == "runner":
                runner.cancel()
            else:
                waiter.cancel()
                g.release_first_fetch.set()
            results = await asyncio.gather(runner, waiter, return_exceptions=True)
        return jsonify(
            results=[r.json()["user"] if isinstance(r, httpx.Response) else type(r).__name__ for r in results],
            fetches=g.get("fetches", 0),
            warnings=recorder.messages(),
        )


@pytest.fixture
def single_flight_app(provider: Provider, client_app: ClientAppFactory) -> tuple[ClientApp, list[str]]:
    fetch_log: list[str] = []
    alice = provider.token_for("alice")

    async def fetch_token(name: str) -> dict[str, str]:
        g.fetches = g.get("fetches", 0) + 1
        fetch_log.append(request.path)
        if g.get("hold_first_fetch") and g.fetches == 1:
            g.first_fetch_started.set()
            await asyncio.wait_for(g.release_first_fetch.wait(), 20)
        elif not g.get("hold_first_fetch"):
            await asyncio.sleep(0.3)  # a slow lookup (a database, a remote vault...)
        return alice

    ca = client_app(provider, _single_flight_routes, oauth_kwargs={"fetch_token": fetch_token})
    return ca, fetch_log


@pytest.mark.parametrize("order", ["as-written", "timed-out-first"])
@pytest.mark.parametrize("style", ["get_async", "get"])
def test_single_flight_survives_a_timed_out_caller(
    style: str,
    order: str,
    single_flight_app: tuple[ClientApp, list[str]],
    provider: Provider,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``gather(wait_for(get(), 0.05), get())`` with a 0.3 s async ``fetch_token``.

    As written, which caller runs ``fetch_token`` depends on the Python version
    (3.11's ``wait_for`` wraps its argument in a task that starts after gather's
    second task; 3.12's awaits it directly). ``timed-out-first`` makes the
    timed-out caller the one running it, so the other caller has to run it again.
    """
    ca, fetch_log = single_flight_app
    resp = http.get(ca.url + "/a/gather_wait_for", params={"style": style, "order": order})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["first_is_timeout"] is True, body
    assert body["second"] == "Response", body
    assert body["second_user"] == "alice"
    assert body["warnings"] == []
    assert provider.state.hits["/api/me"] == 1  # only the second call reached the API
    if order == "timed-out-first":
        assert len(fetch_log) == 2
    else:
        assert 1 <= len(fetch_log) <= 2
    assert _never_retrieved(caplog) == []


@pytest.mark.parametrize("victim", ["runner", "waiter"])
def test_single_flight_when_one_caller_is_cancelled(
    victim: str,
    single_flight_app: tuple[ClientApp, list[str]],
    provider: Provider,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The caller running ``fetch_token`` (runner) or the one waiting for it (waiter) is cancelled.

    Cancelling the runner: the waiter runs ``fetch_token`` itself (2 runs).
    Cancelling the waiter: the runner goes on (1 run).
    """
    ca, _ = single_flight_app
    resp = http.get(ca.url + f"/a/cancel/{victim}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    if victim == "runner":
        assert body["results"] == ["CancelledError", "alice"], body
        assert body["fetches"] == 2
    else:
        assert body["results"] == ["alice", "CancelledError"], body
        assert body["fetches"] == 1
    assert body["warnings"] == []
    assert provider.state.hits["/api/me"] == 1
    assert _never_retrieved(caplog) == []


# ============================================================ 3. PendingCall as a coroutine


def _task_routes(app: Flask, oauth: OAuth) -> None:
    @app.route("/a/create_task")
    async def create_task() -> Response:
        with WarningRecorder() as recorder:
            task = asyncio.create_task(oauth.demo.get("me"))
            task_repr = repr(task)
            created = await task
            future = asyncio.ensure_future(oauth.demo.post("echo", data={"k": "v"}))
            posted = await future
            gathered = await asyncio.gather(oauth.demo.get("me"), oauth.demo.get("text"))
            discarded = oauth.demo.get("me")
            discarded.close()  # the coroutine protocol's way to drop it: no warning, nothing sent
            del discarded
            doomed = asyncio.create_task(oauth.demo.get("me"))
            doomed.cancel()  # before it ever ran
            try:
                await doomed
                doomed_state = "finished"
            except asyncio.CancelledError:
                doomed_state = "cancelled"
        return jsonify(
            task_repr_ok="PendingCall" in task_repr,
            types=[type(r).__name__ for r in (created, posted, *gathered)],
            user=created.json()["user"],
            form=posted.json()["form"],
            text=gathered[1].text,
            doomed=doomed_state,
            warnings=recorder.messages(),
        )

    @app.route("/a/task_group")
    async def task_group() -> Response:
        with WarningRecorder() as recorder:
            async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined,unused-ignore]
                me = tg.create_task(oauth.demo.get("me"))
                echo = tg.create_task(oauth.demo.post("echo", json={"n": 1}))
        return jsonify(
            types=[type(t.result()).__name__ for t in (me, echo)],
            is_response=[isinstance(t.result(), httpx.Response) for t in (me, echo)],
            user=me.result().json()["user"],
            json=echo.result().json()["json"],
            warnings=recorder.messages(),
        )

    @app.route("/a/dropped")
    async def dropped() -> Response:
        with WarningRecorder() as recorder:
            oauth.demo.get("me")  # never awaited: the recorder must see it
        return jsonify(warnings=recorder.messages())


def test_create_task_and_ensure_future_accept_pending_calls(
    provider: Provider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    ca = client_app(provider, _task_routes, fetch_token=_token_from_headers)
    resp = http.get(ca.url + "/a/create_task", headers=_token_headers(provider.token_for("alice")))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "task_repr_ok": True,
        "types": ["Response"] * 4,
        "user": "alice",
        "form": {"k": "v"},
        "text": "hello alice",
        "doomed": "cancelled",
        "warnings": [],
    }
    hits = provider.state.hits
    assert (hits["/api/me"], hits["/api/echo"], hits["/api/text"]) == (2, 1, 1)  # the cancelled task sent nothing


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in Python 3.11")
def test_task_group_accepts_pending_calls(provider: Provider, client_app: ClientAppFactory, http: httpx.Client) -> None:
    ca = client_app(provider, _task_routes, fetch_token=_token_from_headers)
    resp = http.get(ca.url + "/a/task_group", headers=_token_headers(provider.token_for("bob")))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "types": ["Response", "Response"],
        "is_response": [True, True],
        "user": "bob",
        "json": {"n": 1},
        "warnings": [],
    }


def test_warning_recorder_sees_a_dropped_pending_call(
    provider: Provider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    """Control: the "no warnings" checks above would see a NeverAwaitedWarning."""
    ca = client_app(provider, _task_routes, fetch_token=_token_from_headers)
    resp = http.get(ca.url + "/a/dropped", headers=_token_headers(provider.token_for("alice")))
    assert resp.status_code == 200, resp.text
    (message,) = resp.json()["warnings"]
    assert message.startswith(NeverAwaitedWarning.__name__)
    assert provider.state.hits["/api/me"] == 0


_CREATE_TASK_SNIPPET = """\
from __future__ import annotations

import asyncio

import httpx
from flask import Flask

from flask_oauth1_async import OAuth

app = Flask(__name__)
oauth = OAuth(app)
remote = oauth.register("demo", client_id="x")


async def view() -> httpx.Response:
    task = asyncio.create_task(remote.{method}("me"))
    response: httpx.Response = await task
    return response
"""


def _mypy_strict(tmp_path: Path, source: str) -> tuple[int, str]:
    from mypy import api as mypy_api

    path = tmp_path / "snippet.py"
    path.write_text(source)
    root = Path(__file__).resolve().parent.parent
    stdout, stderr, status = mypy_api.run(
        ["--strict", "--config-file", str(root / "pyproject.toml"), "--no-incremental", str(path)]
    )
    return status, stdout + stderr


def test_create_task_of_an_async_variant_type_checks(tmp_path: Path) -> None:
    """Control for the next test: the snippet is clean apart from the call under test."""
    status, output = _mypy_strict(tmp_path, _CREATE_TASK_SNIPPET.format(method="get_async"))
    assert status == 0, output


def test_create_task_of_a_dual_call_needs_the_async_variant_in_typed_code(tmp_path: Path) -> None:
    """Documented limit (docs/sync-and-async.rst): at runtime create_task(get()) works (tested above), but
    the dual methods are typed as "a response that can also be awaited", not as a coroutine, so a type
    checker asks for get_async() there. Typing the dual form as a coroutine would make mypy flag every
    un-awaited sync call such as ``oauth.x.post(...)`` used as a statement."""
    status, output = _mypy_strict(tmp_path, _CREATE_TASK_SNIPPET.format(method="get"))
    assert status == 1, output
    assert "[arg-type]" in output, output


# ============================================================ 4. re-register while in flight


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


@pytest.mark.parametrize("mode", MODES)
def test_reregister_waits_for_the_call_in_flight(
    mode: str, provider: Provider, client_app: ClientAppFactory, side: SideServer, http: httpx.Client
) -> None:
    alice = provider.token_for("alice")
    ca = client_app(provider, _reregister_routes(side.url), oauth_kwargs={"fetch_token": lambda name: alice})
    base = ca.url + PREFIX[mode]

    # Generation 1: /api/me.
    assert http.get(base + "/me").json()["user"] == "alice"
    old = _remote_state(ca.app)

    with ThreadPoolExecutor(max_workers=1) as pool, httpx.Client(timeout=30, trust_env=False) as other:
        in_flight = pool.submit(other.get, base + "/gate")
        try:
            _wait_until(lambda: side.entered == 1, "the gated call to reach the side server")
            old_client: httpx.Client | httpx.AsyncClient | None = old._sync if mode == "sync" else old._async
            assert old_client is not None
            assert not old_client.is_closed

            # Generation 2 while the call is held: "me" now resolves to /api/path/me.
            ca.oauth.register("demo", **provider.settings(api_base_url=provider.url + "/api/path/"))
            resp = http.get(base + "/me")
            assert resp.status_code == 200, resp.text
            assert resp.json() == {"user": "alice", "path": "me"}, "the new settings are used at once"
            new = _remote_state(ca.app)
            assert new is not old
            # The old clients are retired, but not closed under the call that still uses them.
            assert not old_client.is_closed
            assert (old._sync if mode == "sync" else old._async) is old_client
            assert side.entered == 1
        finally:
            side.release()  # let the held call finish (also when an assertion above failed)
        held = in_flight.result(timeout=30)

    assert held.status_code == 200, held.text
    assert held.json() == {"status": 200, "body": {"gate": "passed"}}
    # Once the call has ended, the retired state lets go of its clients and closes them.
    assert old._sync is None
    assert old._async is None
    _wait_until(lambda: old_client.is_closed, "the retired client to be closed")
    # And later calls keep using generation 2.
    assert http.get(base + "/me").json() == {"user": "alice", "path": "me"}
    assert _remote_state(ca.app) is new
    assert provider.state.hits["/api/me"] == 1
    assert provider.state.hits["/api/path/me"] == 2


# ============================================================ 5. event hooks


class HookLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[tuple[str, str]] = []

    def add(self, kind: str, detail: str) -> None:
        with self._lock:
            self.entries.append((kind, detail))

    def kinds(self) -> list[str]:
        with self._lock:
            return [kind for kind, _ in self.entries]


def _hook_routes(app: Flask, oauth: OAuth) -> None:
    _catch_oauth_errors(app)

    @app.route("/s/me")
    def s_me() -> Response:
        return jsonify(user=oauth.demo.get("me").json()["user"])

    @app.route("/a/me")
    async def a_me() -> Response:
        return jsonify(user=(await oauth.demo.get("me")).json()["user"])


def _hook_header(provider: Provider, index: int) -> str | None:
    requests = [r for r in provider.state.requests if r.path == "/api/me"]
    return requests[index].headers.get("X-Hook")


def test_sync_event_hooks_run_in_sync_and_async_calls(
    provider: Provider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    log = HookLog()

    def on_request(req: httpx.Request) -> None:
        log.add("request", req.url.path)
        req.headers["X-Hook"] = "sync-hook"

    def on_response(resp: httpx.Response) -> None:
        log.add("response", str(resp.status_code))

    hooks = {"request": [on_request], "response": [on_response]}
    ca = client_app(provider, _hook_routes, fetch_token=_token_from_headers, client_kwargs={"event_hooks": hooks})
    headers = _token_headers(provider.token_for("alice"))
    for mode in MODES:
        resp = http.get(ca.url + PREFIX[mode] + "/me", headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"user": "alice"}
    assert log.entries == [("request", "/api/me"), ("response", "200")] * 2
    assert [_hook_header(provider, i) for i in range(2)] == ["sync-hook", "sync-hook"]


def test_async_hook_in_event_hooks_is_refused_for_blocking_calls(
    provider: Provider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    log = HookLog()

    async def on_request(req: httpx.Request) -> None:
        await asyncio.sleep(0)
        log.add("async-request", req.url.path)
        req.headers["X-Hook"] = "async-hook"

    ca = client_app(
        provider,
        _hook_routes,
        fetch_token=_token_from_headers,
        client_kwargs={"event_hooks": {"request": [on_request]}},
    )
    headers = _token_headers(provider.token_for("alice"))
    for _ in range(2):  # refused every time, not only when the client is first built
        resp = http.get(ca.url + "/s/me", headers=headers)
        assert resp.status_code == 418, resp.text
        assert resp.json()["error"] == "ConfigurationError"
        assert "async_event_hooks" in resp.json()["message"]
    assert all(isinstance(e, ConfigurationError) for e in ca.app.config["CAUGHT"])
    assert provider.state.hits["/api/me"] == 0
    assert log.entries == []
    # Awaited calls run it.
    resp = http.get(ca.url + "/a/me", headers=headers)
    assert resp.status_code == 200, resp.text
    assert log.kinds() == ["async-request"]
    assert _hook_header(provider, 0) == "async-hook"


def test_async_event_hooks_replace_event_hooks_for_awaited_calls(
    provider: Provider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    log = HookLog()

    def sync_hook(req: httpx.Request) -> None:
        log.add("sync", req.url.path)
        req.headers["X-Hook"] = "sync-hook"

    async def async_hook(req: httpx.Request) -> None:
        await asyncio.sleep(0)
        log.add("async", req.url.path)
        req.headers["X-Hook"] = "async-hook"

    ca = client_app(
        provider,
        _hook_routes,
        fetch_token=_token_from_headers,
        client_kwargs={"event_hooks": {"request": [sync_hook]}, "async_event_hooks": {"request": [async_hook]}},
    )
    headers = _token_headers(provider.token_for("alice"))
    for mode in ("sync", "async", "sync", "async"):
        resp = http.get(ca.url + PREFIX[mode] + "/me", headers=headers)
        assert resp.status_code == 200, resp.text
    assert log.kinds() == ["sync", "async", "sync", "async"]
    assert [_hook_header(provider, i) for i in range(4)] == ["sync-hook", "async-hook"] * 2


# ============================================================ 6. empty token pairs


BAD_TOKENS: dict[str, Any] = {
    "empty-pair": ("", ""),
    "none-pair": (None, None),
    "empty-mapping": {"oauth_token": ""},
    "empty-list": ["", ""],
    "none-token": (None, "secret"),
    "int-token": (123, "secret"),
    "int-secret": ("token", 123),
}


def _token_value(case: str) -> Any:
    if case == "valid-pair":
        return (request.headers["X-Token"], request.headers["X-Secret"])
    if case == "valid-mapping":
        return _token_from_headers()
    return BAD_TOKENS[case]


def _token_routes(app: Flask, oauth: OAuth) -> None:
    _catch_oauth_errors(app)

    @app.route("/s/token/<how>/<case>")
    def s_token(how: str, case: str) -> Response:
        if how == "argument":
            resp = oauth.demo.get("me", token=_token_value(case))
        elif how == "assigned":
            oauth.demo.token = _token_value(case)
            resp = oauth.demo.get("me")
        else:  # fetch_token gives it
            g.fetch_case = case
            resp = oauth.demo.get("me")
        return jsonify(user=resp.json()["user"])

    @app.route("/a/token/<how>/<case>")
    async def a_token(how: str, case: str) -> Response:
        if how == "argument":
            resp = await oauth.demo.get("me", token=_token_value(case))
        elif how == "assigned":
            oauth.demo.token = _token_value(case)
            resp = await oauth.demo.get("me")
        else:
            g.fetch_case = case
            resp = await oauth.demo.get("me")
        return jsonify(user=resp.json()["user"])


@pytest.fixture
def token_app(provider: Provider, client_app: ClientAppFactory) -> ClientApp:
    return client_app(provider, _token_routes, fetch_token=lambda: _token_value(g.fetch_case))


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
@pytest.mark.parametrize("how", ["argument", "assigned", "fetch_token"])
@pytest.mark.parametrize("mode", MODES)
def test_empty_or_malformed_token_is_a_configuration_error(
    mode: str, how: str, case: str, token_app: ClientApp, provider: Provider, http: httpx.Client
) -> None:
    resp = http.get(f"{token_app.url}{PREFIX[mode]}/token/{how}/{case}")
    assert resp.status_code == 418, resp.text
    assert resp.json()["error"] == "ConfigurationError"
    (exc,) = token_app.app.config["CAUGHT"]
    assert isinstance(exc, ConfigurationError)
    assert provider.state.hits["/api/me"] == 0, "nothing may be sent signed with the consumer key alone"


@pytest.mark.parametrize("case", ["valid-pair", "valid-mapping"])
@pytest.mark.parametrize("how", ["argument", "assigned", "fetch_token"])
@pytest.mark.parametrize("mode", MODES)
def test_valid_token_shapes_work(
    mode: str, how: str, case: str, token_app: ClientApp, provider: Provider, http: httpx.Client
) -> None:
    headers = _token_headers(provider.token_for("carol"))
    resp = http.get(f"{token_app.url}{PREFIX[mode]}/token/{how}/{case}", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"user": "carol"}


# ============================================================ 7. replay with an old session cookie


def _dance_routes(app: Flask, oauth: OAuth) -> None:
    _catch_oauth_errors(app)

    @app.route("/s/login")
    def s_login() -> Any:
        return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))

    @app.route("/s/callback")
    def s_callback() -> Response:
        before = oauth.demo.token
        token = oauth.demo.authorize_access_token()
        return jsonify(token=dict(token), before=before, current_is_result=oauth.demo.token is token)

    @app.route("/a/login")
    async def a_login() -> Any:
        return await oauth.demo.authorize_redirect(url_for("a_callback", _external=True))

    @app.route("/a/callback")
    async def a_callback() -> Response:
        before = oauth.demo.token
        token = await oauth.demo.authorize_access_token()
        return jsonify(token=dict(token), before=before, current_is_result=oauth.demo.token is token)


def _decode_session(ca: ClientApp, cookie: str) -> dict[str, Any]:
    serializer = ca.app.session_interface.get_signing_serializer(ca.app)  # type: ignore[attr-defined]
    assert serializer is not None
    data: dict[str, Any] = serializer.loads(cookie)
    return data


@pytest.mark.parametrize("mode", MODES)
def test_callback_replayed_with_an_old_session_cookie_is_refused(
    mode: str, provider: Provider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _dance_routes)
    with Browser() as alice:
        start = alice.get(ca.url + PREFIX[mode] + "/login")
        assert start.status_code == 302, start.text
        old_cookie = alice.cookies.get("session")
        assert old_cookie is not None
        oauth_token = _query_of(start.headers["Location"])["oauth_token"]
        assert oauth_token in _decode_session(ca, old_cookie)["_oauth1_demo"]

        consent = alice.get(_with_query(start.headers["Location"], user="alice"))
        assert consent.status_code == 302, consent.text
        callback_url = consent.headers["Location"]
        done = alice.get(callback_url)
        assert done.status_code == 200, done.text
        assert done.json()["token"]["screen_name"] == "alice"
        new_cookie = alice.cookies.get("session")
        assert new_cookie != old_cookie
        if new_cookie is not None:  # (an emptied session is deleted)
            assert oauth_token not in _decode_session(ca, new_cookie).get("_oauth1_demo", {})
    assert provider.state.hits["/access_token"] == 1

    # The old copy of the cookie still lists the login; the process remembers it was consumed.
    with Browser() as mallory:
        mallory.cookies.set("session", old_cookie)
        replay = mallory.get(callback_url)
    assert replay.status_code == 418, replay.text
    assert replay.json()["error"] == "CallbackTokenError"
    (exc,) = ca.app.config["CAUGHT"]
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "unknown"
    assert provider.state.hits["/access_token"] == 1, "the replay must not reach the provider"


# ============================================================ 8. percent-encoded secrets


SECRET = "SECRETPIN"
MASKING_BODIES = {
    "encoded": f"oauth_problem=signature_invalid&debug=oauth_consumer_key%3Dclient-hmac%26oauth_verifier%3D{SECRET}"
    "%26oauth_version%3D1.0",
    "encoded-lowercase": f"oauth_problem=signature_invalid&debug=oauth_verifier%3d{SECRET}%26oauth_version%3d1.0",
    "encoded-at-end": f"oauth_problem=signature_invalid&debug=oauth_version%3D1.0%26oauth_verifier%3D{SECRET}",
    "double-encoded": "oauth_problem=signature_invalid&oauth_signature_base_string=POST%26http%253A%252F%252F"
    f"127.0.0.1%252Faccess_token%26oauth_token%253Dabc%2526oauth_verifier%253D{SECRET}%2526oauth_version%253D1.0",
    "token-secret": f"oauth_problem=x&debug=oauth_token%3Dabc%26oauth_token_secret%3D{SECRET}%26oauth_version%3D1.0",
    "signature": f"oauth_problem=x&debug=oauth_nonce%3Dn%26oauth_signature%3D{SECRET}%26oauth_version%3D1.0",
}


@pytest.mark.parametrize("status", [401, None], ids=["http-401", "http-200-no-token"])
@pytest.mark.parametrize("body", sorted(MASKING_BODIES))
@pytest.mark.parametrize("mode", MODES)
def test_percent_encoded_secrets_are_masked(
    mode: str, body: str, status: int | None, provider: Provider, client_app: ClientAppFactory
) -> None:
    provider.state.access_token_status = status
    provider.state.access_token_body = MASKING_BODIES[body]
    ca = client_app(provider, _dance_routes)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login")
    assert result.response.status_code == 418, result.response.text
    (exc,) = ca.app.config["CAUGHT"]
    expected_type = ProviderHTTPError if status else InvalidTokenResponseError
    assert type(exc) is expected_type
    excerpt = exc.body_excerpt  # type: ignore[attr-defined]
    for shown in (str(exc), repr(exc), excerpt, str(exc.args), result.response.text):
        assert SECRET not in shown, shown
    assert "oauth_problem" in excerpt, excerpt  # the rest of the body is still quoted
    assert "***" in excerpt, excerpt


# ============================================================ 9. RemoteApp.token


def _token_property_routes(app: Flask, oauth: OAuth) -> None:
    _dance_routes(app, oauth)

    def report(before: Any, resp: httpx.Response) -> Response:
        current = oauth.demo.token
        return jsonify(
            before=before,
            user=resp.json()["user"],
            current=current["oauth_token"] if current else None,
            fetches=g.get("fetches", 0),
        )

    def assign() -> None:
        if request.args.get("assign"):
            oauth.demo.token = {
                "oauth_token": request.headers["X-Token"],
                "oauth_token_secret": request.headers["X-Secret"],
            }
        if request.args.get("clear"):
            oauth.demo.token = None

    @app.route("/s/prop")
    def s_prop() -> Response:
        before = oauth.demo.token
        assign()
        return report(before, oauth.demo.get("me"))

    @app.route("/a/prop")
    async def a_prop() -> Response:
        before = oauth.demo.token
        assign()
        return report(before, await oauth.demo.get("me"))


@pytest.mark.parametrize("mode", MODES)
def test_token_property_lives_on_g(
    mode: str, provider: Provider, client_app: ClientAppFactory, http: httpx.Client
) -> None:
    alice = provider.token_for("alice")
    bob = provider.token_for("bob")

    def fetch_token() -> dict[str, str]:
        g.fetches = g.get("fetches", 0) + 1
        return alice

    ca = client_app(provider, _token_property_routes, fetch_token=fetch_token)
    url = ca.url + PREFIX[mode] + "/prop"

    # Assigned: used without asking fetch_token.
    resp = http.get(url, params={"assign": "1"}, headers=_token_headers(bob))
    assert resp.json() == {"before": None, "user": "bob", "current": bob["oauth_token"], "fetches": 0}
    # The next request starts without it: fetch_token is asked, and its answer becomes the token.
    resp = http.get(url)
    assert resp.json() == {"before": None, "user": "alice", "current": alice["oauth_token"], "fetches": 1}
    # Assigning None forgets an assigned token.
    resp = http.get(url, params={"assign": "1", "clear": "1"}, headers=_token_headers(bob))
    assert resp.json() == {"before": None, "user": "alice", "current": alice["oauth_token"], "fetches": 1}

    # After authorize_access_token(), the property is the token it returned.
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login", user="carol")
    assert result.response.status_code == 200, result.response.text
    body = result.response.json()
    assert body["before"] is None
    assert body["current_is_result"] is True
    assert body["token"]["screen_name"] == "carol"


def test_token_property_outside_a_request_and_unknown_attributes(provider: Provider) -> None:
    app = Flask("token-property")
    app.secret_key = "k"
    oauth = OAuth(app)
    remote = oauth.register("demo", **provider.settings())
    try:
        assert remote.token is None
        with app.app_context():
            assert remote.token is None
            with pytest.raises(RuntimeError, match="inside a request"):
                remote.token = provider.token_for("alice")
        with app.test_request_context("/"):
            remote.token = ("t", "s")
            assert remote.token == {"oauth_token": "t", "oauth_token_secret": "s"}
        with app.test_request_context("/"):
            assert remote.token is None
        with pytest.raises(AttributeError):
            oauth.demo.foo = 1  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):
            remote.tokn = ("t", "s")  # type: ignore[attr-defined]  # a typo must not pass silently
    finally:
        oauth.close()


# ============================================================ 10. PIN (oob) logins


def _pin_routes(app: Flask, oauth: OAuth) -> None:
    _catch_oauth_errors(app)

    @app.route("/s/pin/start")
    def s_start() -> Any:
        return oauth.demo.authorize_redirect()

    @app.route("/s/pin/finish")
    def s_finish() -> Response:
        token = oauth.demo.authorize_access_token(oauth_verifier=request.args["pin"])
        return jsonify(screen_name=token["screen_name"], current=oauth.demo.token is token)

    @app.route("/a/pin/start")
    async def a_start() -> Any:
        return await oauth.demo.authorize_redirect()

    @app.route("/a/pin/finish")
    async def a_finish() -> Response:
        token = await oauth.demo.authorize_access_token(oauth_verifier=request.args["pin"])
        return jsonify(screen_name=token["screen_name"], current=oauth.demo.token is token)


def _pin_start(browser: Browser, url: str, provider: Provider) -> str:
    resp = browser.get(url)
    assert resp.status_code == 302, resp.text
    sent = provider.state.last_request("/request_token")
    assert sent is not None
    assert sent.authorization is not None
    assert 'oauth_callback="oob"' in sent.authorization
    return str(resp.headers["Location"])


@pytest.mark.parametrize("mode", MODES)
def test_pin_login_completes_the_newest_pending_login(
    mode: str, provider: Provider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _pin_routes)
    base = ca.url + PREFIX[mode] + "/pin"
    with Browser() as browser:
        older = _pin_start(browser, base + "/start", provider)
        newer = _pin_start(browser, base + "/start", provider)
        newer_token = _query_of(newer)["oauth_token"]
        assert _query_of(older)["oauth_token"] != newer_token

        # The provider shows the PIN instead of redirecting.
        shown = browser.get(_with_query(newer, user="dave"))
        assert shown.status_code == 200, shown.text
        assert shown.headers["content-type"].startswith("text/plain")
        fields = dict(parse_qsl(shown.text))
        assert fields["oauth_token"] == newer_token

        done = browser.get(base + "/finish", params={"pin": fields["oauth_verifier"]})
    assert done.status_code == 200, done.text
    assert done.json() == {"screen_name": "dave", "current": True}
    assert provider.state.hits["/access_token"] == 1
    exchange = provider.state.last_request("/access_token")
    assert exchange is not None
    assert exchange.authorization is not None
    assert f'oauth_token="{newer_token}"' in exchange.authorization
    assert f'oauth_verifier="{fields["oauth_verifier"]}"' in exchange.authorization


@pytest.mark.parametrize("mode", MODES)
def test_pin_without_a_pending_login_is_a_callback_token_error(
    mode: str, provider: Provider, client_app: ClientAppFactory
) -> None:
    ca = client_app(provider, _pin_routes)
    with Browser() as browser:
        resp = browser.get(ca.url + PREFIX[mode] + "/pin/finish", params={"pin": "123456"})
    assert resp.status_code == 418, resp.text
    (exc,) = ca.app.config["CAUGHT"]
    assert isinstance(exc, CallbackTokenError)
    assert exc.reason == "missing"
    assert provider.state.hits["/access_token"] == 0


# ============================================================ 11. lenient token answers


@pytest.mark.parametrize(
    "answer",
    [
        "oauth_token=a&oauth_token_secret=b&",
        "oauth_token=a&oauth_token_secret=b&&",
        "&oauth_token=a&&oauth_token_secret=b",
        "oauth_token=a&oauth_token_secret=b&\r\n",
    ],
    ids=["trailing", "double-trailing", "leading-and-double", "trailing-crlf"],
)
@pytest.mark.parametrize("mode", MODES)
def test_token_answer_with_stray_ampersands_is_accepted(
    mode: str, answer: str, provider: Provider, client_app: ClientAppFactory
) -> None:
    provider.state.access_token_body = answer
    ca = client_app(provider, _dance_routes)
    with Browser() as browser:
        result = browser.login_via(ca.url + PREFIX[mode] + "/login")
    assert result.response.status_code == 200, result.response.text
    assert result.response.json()["token"] == {"oauth_token": "a", "oauth_token_secret": "b"}
    assert provider.state.hits["/access_token"] == 1


# ============================================================ 12. fork


class ChildDeadlock(BaseException):
    """Raised by SIGALRM in a stuck child (a BaseException, so that no Flask error handler turns it into a 500)."""


def _run_in_child(
    child: Callable[[], dict[str, Any]], hold: list[Any], *, child_limit: int = 10, limit: float = 20.0
) -> dict[str, Any]:
    """Fork while holding the locks in *hold*; run *child* in the child; return what it reported.

    The child never returns into pytest: it reports through a pipe and leaves
    with ``os._exit``. The parent kills it (by its pid) if it outlives *limit*.
    """
    read_fd, write_fd = os.pipe()
    for lock in hold:
        lock.acquire()
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads may deadlock:
            # that risk is exactly what is tested here.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                os.close(read_fd)

                def alarm(signum: int, frame: Any) -> None:
                    raise ChildDeadlock(f"the child was stuck for {child_limit} s")

                signal.signal(signal.SIGALRM, alarm)
                signal.alarm(child_limit)
                report = child()
                signal.alarm(0)
                os.write(write_fd, json.dumps(report).encode())
                code = 0
            except BaseException as exc:
                os.write(write_fd, json.dumps({"error": repr(exc)}).encode())
            finally:
                os._exit(code)
    finally:
        for lock in reversed(hold):
            lock.release()  # in the parent only: the child has left through os._exit

    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + limit
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError("the forked child hung")
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if ready:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    raw = b"".join(chunks)
    assert raw, "the forked child reported nothing"
    return json.loads(raw)  # type: ignore[no-any-return]


@pytest.fixture
def fork_app(provider: Provider) -> Iterator[tuple[Flask, OAuth]]:
    """A client app driven in-process (``test_client``): a forked child cannot use the parent's server threads."""
    app = Flask("fork-app")
    app.secret_key = "fork-secret"
    oauth = OAuth(app)
    oauth.register("demo", **provider.settings())
    oauth.register("other", **provider.settings())

    @app.route("/login")
    def login() -> Any:
        return oauth.demo.authorize_redirect(url_for("callback", _external=True))

    @app.route("/callback")
    def callback() -> Response:
        return jsonify(user=oauth.demo.authorize_access_token()["screen_name"])

    try:
        yield app, oauth
    finally:
        oauth.close()


def _login_in_process(app: Flask) -> str:
    """Play a login against *app* (its test client) and the real provider; return the screen name."""
    client = app.test_client()
    start = client.get("/login")
    assert start.status_code == 302, start.text
    with httpx.Client(trust_env=False, timeout=10) as browser:
        consent = browser.get(_with_query(start.headers["Location"], user="alice"))
    assert consent.status_code == 302, consent.text
    parts = urlsplit(consent.headers["Location"])
    done = client.get(f"{parts.path}?{parts.query}")
    assert done.status_code == 200, done.text
    return str(done.json["user"])  # type: ignore[index]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
def test_child_can_call_after_a_fork_taken_while_locks_were_held(
    fork_app: tuple[Flask, OAuth], provider: Provider
) -> None:
    app, oauth = fork_app
    alice = provider.token_for("alice")
    with app.app_context():  # the parent has both clients and the loop thread
        assert oauth.demo.get_sync("me", token=alice).json()["user"] == "alice"
        assert asyncio.run(oauth.demo.get_async("me", token=alice)).json()["user"] == "alice"
    state = _remote_state(app)
    assert state._sync is not None
    assert state._async is not None

    def child() -> dict[str, Any]:
        with app.app_context():
            sync_user = oauth.demo.get_sync("me", token=alice).json()["user"]
            async_user = asyncio.run(oauth.demo.get_async("me", token=alice)).json()["user"]
        return {"sync": sync_user, "async": async_user, "login": _login_in_process(app), "pid": os.getpid()}

    # As if other threads were inside the remote's lock and starting the loop thread at fork time.
    report = _run_in_child(child, [state._lock, loop_thread._lock])
    assert report.get("error") is None, report
    assert (report["sync"], report["async"], report["login"]) == ("alice", "alice", "alice")
    assert report["pid"] != os.getpid()
    assert provider.state.hits["/api/me"] == 4
    assert provider.state.hits["/access_token"] == 1
    with app.app_context():  # the parent's clients are untouched
        assert oauth.demo.get_sync("me", token=alice).json()["user"] == "alice"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
@pytest.mark.parametrize("which", ["app-state-lock", "replay-guard-lock"])
def test_child_can_call_after_a_fork_taken_while_other_locks_were_held(
    which: str, fork_app: tuple[Flask, OAuth], provider: Provider
) -> None:
    app, oauth = fork_app
    alice = provider.token_for("alice")
    with app.app_context():
        assert oauth.demo.get_sync("me", token=alice).json()["user"] == "alice"

    if which == "app-state-lock":
        lock = app.extensions[EXTENSION_KEY].lock

        def child() -> dict[str, Any]:
            with app.app_context():  # first use of "other" in this app
                return {"user": oauth.other.get_sync("me", token=alice).json()["user"]}

    else:
        lock = _flow._consumed._lock

        def child() -> dict[str, Any]:
            return {"user": _login_in_process(app)}

    report = _run_in_child(child, [lock], child_limit=2)
    assert report.get("error") is None, report
    assert report["user"] == "alice"
