"""Fork safety: a child forked while other threads held the library's locks can still make calls.

Each test forks while the test thread holds one or more locks, as if other
threads were inside them at fork time: a remote's lock, the background loop
thread's lock, the app state's lock, the replay guard's lock. The child makes
signed calls (blocking and awaited) or plays a whole login (in-process with the
app's test client, since a forked child cannot use the parent's server
threads), reports through a pipe and leaves with ``os._exit``; it never
returns into pytest. A child that gets stuck is stopped by ``SIGALRM`` and, as
a last resort, killed by the parent (by its pid). The parent's own clients
keep working afterwards.

The fresh clients and loop a child gets are checked in ``test_pooling.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask, Response, jsonify, request, url_for

from flask_oauth1_async import OAuth
from flask_oauth1_async._loop_thread import loop_thread
from flask_oauth1_async.registry import EXTENSION_KEY
from flask_oauth1_async.testing import FakeProvider
from tests import conftest
from tests.support.fake import register_settings
from tests.support.views import remote_state, with_query


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
def fork_app(provider: FakeProvider) -> Iterator[tuple[Flask, OAuth]]:
    """A client app driven in-process (``test_client``): a forked child cannot use the parent's server threads."""
    app = Flask("fork-app")
    app.secret_key = "fork-secret"
    oauth = OAuth(app)
    oauth.register("demo", **register_settings(provider))
    oauth.register("other", **register_settings(provider))

    @app.route("/s/login")
    def s_login() -> Any:
        return oauth.demo.authorize_redirect(url_for("s_callback", _external=True))

    @app.route("/s/callback")
    def s_callback() -> Response:
        return jsonify(user=oauth.demo.authorize_access_token()["screen_name"])

    @app.route("/ame")
    async def ame() -> Response:  # Flask's own runner: the call hops to the background loop
        token = {"oauth_token": request.args["t"], "oauth_token_secret": request.args["s"]}
        return jsonify(user=(await oauth.demo.get("me", token=token)).json()["user"])

    try:
        yield app, oauth
    finally:
        oauth.close()


def _login_in_process(app: Flask) -> str:
    """Play a login against *app* (its test client) and the real provider; return the screen name."""
    client = app.test_client()
    start = client.get("/s/login")
    assert start.status_code == 302, start.text
    with httpx.Client(trust_env=False, timeout=10) as browser:
        consent = browser.get(with_query(start.headers["Location"], user="alice"))
    assert consent.status_code == 302, consent.text
    parts = urlsplit(consent.headers["Location"])
    done = client.get(f"{parts.path}?{parts.query}")
    assert done.status_code == 200, done.text
    return str(done.json["user"])  # type: ignore[index]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
def test_child_can_call_after_a_fork_taken_while_locks_were_held(
    fork_app: tuple[Flask, OAuth], provider: FakeProvider
) -> None:
    app, oauth = fork_app
    alice = provider.issue_token("alice")
    ame = f"/ame?t={alice['oauth_token']}&s={alice['oauth_token_secret']}"
    with app.app_context():  # the parent has both clients and the loop thread
        assert oauth.demo.get_sync("me", token=alice).json()["user"] == "alice"
    assert app.test_client().get(ame).json == {"user": "alice"}
    state = remote_state(app)
    clients = state._clients.get()
    assert clients.sync is not None
    assert clients.by_home  # an async client, on the background loop or on the runner's loop

    def child() -> dict[str, Any]:
        with app.app_context():
            sync_user = oauth.demo.get_sync("me", token=alice).json()["user"]
        async_user = app.test_client().get(ame).json["user"]  # type: ignore[index]
        return {"sync": sync_user, "async": async_user, "login": _login_in_process(app), "pid": os.getpid()}

    # As if other threads were inside the remote's lock and starting the loop thread at fork time.
    report = _run_in_child(child, [clients.lock, loop_thread._state.get().lock])
    assert report.get("error") is None, report
    assert (report["sync"], report["async"], report["login"]) == ("alice", "alice", "alice")
    assert report["pid"] != os.getpid()
    assert len(provider.received("api", "me")) == 4
    assert len(provider.received("access_token")) == 1
    with app.app_context():  # the parent's clients are untouched
        assert oauth.demo.get_sync("me", token=alice).json()["user"] == "alice"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
@pytest.mark.parametrize("which", ["app-state-lock", "replay-guard-lock"])
def test_child_can_call_after_a_fork_taken_while_other_locks_were_held(
    which: str, fork_app: tuple[Flask, OAuth], provider: FakeProvider
) -> None:
    app, oauth = fork_app
    alice = provider.issue_token("alice")
    with app.app_context():
        assert oauth.demo.get_sync("me", token=alice).json()["user"] == "alice"

    if which == "app-state-lock":
        lock = app.extensions[EXTENSION_KEY].lock._locks.get()

        def child() -> dict[str, Any]:
            with app.app_context():  # first use of "other" in this app
                return {"user": oauth.other.get_sync("me", token=alice).json()["user"]}

    else:
        lock = app.extensions[EXTENSION_KEY].replay_guard._lock._locks.get()

        def child() -> dict[str, Any]:
            return {"user": _login_in_process(app)}

    report = _run_in_child(child, [lock], child_limit=2)
    assert report.get("error") is None, report
    assert report["user"] == "alice"


_IMPORT_EVERYTHING = """
import os, sys
calls = []
real = os.register_at_fork
def recording(**kwargs):
    calls.append(sys._getframe(1).f_globals.get("__name__", "?"))
    return real(**kwargs)
os.register_at_fork = recording
import flask_oauth1_async, flask_oauth1_async.runner, flask_oauth1_async.redis_cache
import flask_oauth1_async.compat.flask_oauthlib, flask_oauth1_async.testing
from flask_oauth1_async import _loop_thread, _loops, _pools, _process, _backends
print(sorted(name for name in calls if name.startswith("flask_oauth1_async")))
"""


def test_the_package_registers_no_at_fork_hook() -> None:
    # uWSGI forks its workers without running Python's at-fork handlers (unless
    # --py-call-osafterfork): the package must not need any, so it has none.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def _busy_loop_locks() -> list[Any]:
    """The locks of the loops that serve the awaited calls: the background loop's (Flask's own runner)
    and the runner's bank (with the runner on, ``nox -s tests_runner``)."""
    locks: list[Any] = []
    state = loop_thread._state.peek()
    if state is not None and state.current is not None:
        locks += [state.lock, state.current.waiters_lock]
    runner = getattr(conftest, "_SUITE_RUNNER", None)
    bank = runner._bank.peek() if runner is not None else None
    if bank is not None:
        locks += [bank.lock, *(home.in_use for home in list(bank.idle)[:1])]
    return locks


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
def test_many_forks_while_the_background_loop_is_busy(fork_app: tuple[Flask, OAuth], provider: FakeProvider) -> None:
    """Fork 20 times while the parent's loops are in the middle of operations and their locks are held.

    The package registers no at-fork hook (test above), so nothing runs in
    the child before its first call: what it must not reuse - the parent's
    loops, their waiters and locks, the pools' clients - is left behind
    because the child sees a new pid. Each child makes a blocking call and an
    awaited call, and logs in.

    Meanwhile two threads of the parent run async views that hop to the
    background loop again and again (the bridge, its waiters, and with the
    runner on, the runner's bank). They make no HTTP call: httpcore retries a
    failing ``import sniffio`` on every request when sniffio is not installed,
    and a fork taken while another thread holds that import's lock leaves the
    child stuck in the import, whatever library asked for it - a hazard of
    forking a process whose threads import, which is not the package's to
    remove. The real uWSGI, which skips even Python's own at-fork handlers, is
    in the server matrix (tests/servers: uwsgi-2.0.26, restarted again and
    again).
    """
    app, oauth = fork_app
    alice = provider.issue_token("alice")
    ame = f"/ame?t={alice['oauth_token']}&s={alice['oauth_token_secret']}"

    @app.route("/busy")
    async def busy() -> str:
        for _ in range(20):
            await loop_thread.run(asyncio.sleep(0))
        return "ok"

    def child() -> dict[str, Any]:
        with app.app_context():
            sync_user = oauth.demo.get_sync("me", token=alice).json()["user"]
        async_user = app.test_client().get(ame).json["user"]  # type: ignore[index]
        return {"users": [sync_user, async_user, _login_in_process(app)]}

    with app.app_context():  # everything the child does, done once here: no first import in a child
        assert oauth.demo.get_sync("me", token=alice).json()["user"] == "alice"
    assert app.test_client().get(ame).json == {"user": "alice"}
    assert app.test_client().get("/busy").get_data(as_text=True) == "ok"
    assert _login_in_process(app) == "alice"
    stop = threading.Event()
    busy_errors: list[BaseException] = []

    def keep_the_loops_busy() -> None:
        own = app.test_client()
        while not stop.is_set():
            try:
                assert own.get("/busy").get_data(as_text=True) == "ok"
            except BaseException as exc:  # reported after the forks
                busy_errors.append(exc)
                return

    workers = [threading.Thread(target=keep_the_loops_busy) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(20):
            held = [remote_state(app)._clients.get().lock, *_busy_loop_locks()]
            assert len(held) >= 3, "the background loop is not running"
            report = _run_in_child(child, held, child_limit=15)
            assert report == {"users": ["alice", "alice", "alice"]}, report
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    assert not busy_errors, busy_errors
    assert not any(worker.is_alive() for worker in workers)
