"""An opt-in runner for a Flask app's ``async def`` views: long-lived event loops, not one per request.

Flask runs each ``async def`` view (and async error handler, ``before_request``
function...) through :meth:`flask.Flask.async_to_sync`, which by default is
asgiref's: a new thread and a new event loop for every call, about half a
millisecond each, and no async connection can outlive the request.
:class:`AsyncRunner` replaces it for one app::

    from flask_oauth1_async.runner import AsyncRunner

    AsyncRunner(app)            # or: runner = AsyncRunner(); runner.init_app(app)

* **Threads** (gunicorn sync and gthread workers, uWSGI, waitress, ``flask
  run``): the request thread runs the view itself, on an event loop taken
  from a bank of idle loops and given back afterwards. A loop outlives the
  thread that ran it, so servers that start a thread per request neither leak
  loops nor build a connection pool per request; awaited calls of this
  package use an async client that lives on that loop (no hop to another
  thread).
* **gevent and eventlet** (monkey-patched): one loop per process runs forever
  in a greenlet, as in Flask's own recipe for async views with gevent; a view
  is scheduled there and its greenlet waits cooperatively. The async views of
  a process share that loop: one that blocks (even on a patched, cooperative
  call such as ``time.sleep``) holds the others until it awaits; ``def`` views,
  in greenlets of their own, keep answering.

What a view sees is what it sees with Flask's runner: ``request``,
``session``, ``g``, ``current_app`` and context variables, in the view and in
the tasks it starts, and changes it makes to context variables afterwards;
the same exceptions and tracebacks; tasks it started and left pending are
cancelled when it returns. Sync code it runs through asgiref's
``sync_to_async(thread_sensitive=True)`` runs on a thread of its own request
(asgiref's :class:`~asgiref.sync.ThreadSensitiveContext`), never queued
behind other requests on one process-wide thread. Async generators a view
leaves unfinished are finalised when they are collected, not when the view
returns (the loop does not end then). A forked worker builds its own loops
on first use, also without Python's at-fork handlers (uWSGI).

Every wait on another loop is bounded: a loop that dies fails the view
waiting on it with :class:`~flask_oauth1_async.TransportError`.
See ``docs/sync-and-async.rst`` and ``docs/deploying.rst``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from asgiref.sync import ThreadSensitiveContext
from flask import Flask

from ._dual import in_event_loop
from ._green import green_kind
from ._loops import LoopHome, register_home
from ._process import PerProcess, on_exit
from .errors import TransportError

T = TypeVar("T")

__all__ = ["EXTENSION_KEY", "AsyncRunner"]

log = logging.getLogger("flask_oauth1_async")

#: The key of the runner in ``app.extensions``.
EXTENSION_KEY = "flask_oauth1_async.runner"

#: Seconds the tasks a view left pending get to finish after being cancelled.
CANCEL_TIMEOUT = 5.0
#: Seconds between two checks that the loop a greenlet waits on is alive.
LIVENESS_INTERVAL = 1.0
#: Seconds closing a loop's clients may take.
CLOSE_TIMEOUT = 5.0

# The tasks started by the view running in this context, to cancel those it leaves pending.
_view_tasks: contextvars.ContextVar[set[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "flask_oauth1_async_view_tasks", default=None
)


def _task_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
    """The runner's loops record each task in the task set of the view that starts it."""
    task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
    tasks = _view_tasks.get()
    if tasks is not None:
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return task


def _new_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loop.set_task_factory(_task_factory)
    return loop


class _Outcome:
    """What a view left: its result or exception, and the context it ended in."""

    __slots__ = ("context", "error", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.context: contextvars.Context | None = None


async def _run_view(call: Callable[[], Coroutine[Any, Any, Any]], outcome: _Outcome, cancel_timeout: float) -> None:
    tasks: set[asyncio.Task[Any]] = set()
    token = _view_tasks.set(tasks)
    try:
        async with ThreadSensitiveContext():
            outcome.value = await call()
    except BaseException as exc:  # given back to the view's caller as it is
        outcome.error = exc
    finally:
        _view_tasks.reset(token)
        outcome.context = contextvars.copy_context()
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            _, late = await asyncio.wait(pending, timeout=cancel_timeout)
            if late:
                log.warning("%d task(s) left by an async view ignored their cancellation", len(late))


def _restore(context: contextvars.Context | None) -> None:
    # Context variables the view set are seen by its caller afterwards, as with asgiref.
    if context is None:
        return
    for var, value in context.items():
        if var is _view_tasks:
            continue
        try:
            if var.get() is value:
                continue
        except LookupError:
            pass
        var.set(value)


def _result(outcome: _Outcome) -> Any:
    _restore(outcome.context)
    if outcome.error is not None:
        error, outcome.error = outcome.error, None
        raise error
    return outcome.value


class _Bank:
    """This process's loops: idle "taken" loops (threads), or the one greenlet loop."""

    def __init__(self, max_idle: int) -> None:
        self.max_idle = max_idle
        self.lock = threading.Lock()
        self.idle: list[LoopHome] = []
        self.homes: weakref.WeakSet[LoopHome] = weakref.WeakSet()
        self.green: tuple[LoopHome, Any] | None = None

    def take(self) -> LoopHome:
        with self.lock:
            while self.idle:
                home = self.idle.pop()
                if home.alive() and home.in_use.acquire(blocking=False):
                    return home
        home = register_home(_new_loop(), "taken")
        home.in_use.acquire()
        self.homes.add(home)
        return home

    def give_back(self, home: LoopHome) -> None:
        home.in_use.release()
        with self.lock:
            if len(self.idle) < self.max_idle and home.alive():
                self.idle.append(home)
                return
        _close_taken(home)

    def green_home(self) -> tuple[LoopHome, Any]:
        current = self.green
        if current is not None and current[0].alive() and not current[1].dead:
            return current
        with self.lock:
            current = self.green
            if current is None or not current[0].alive() or current[1].dead:
                loop = _new_loop()
                home = register_home(loop, "forever")
                spawn = sys.modules["gevent" if green_kind() == "gevent" else "eventlet"].spawn
                current = self.green = (home, spawn(loop.run_forever))
                self.homes.add(home)
            return current

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
            green, self.green = self.green, None
        for home in idle:
            _close_taken(home)
        if green is not None:
            home, _ = green
            if not home.loop.is_closed():
                home.run_blocking(home.aclose(), CLOSE_TIMEOUT)
                home.loop.call_soon_threadsafe(home.loop.stop)


def _close_taken(home: LoopHome) -> None:
    """Close an idle "taken" loop and its clients (in this thread, bounded)."""
    if not home.in_use.acquire(blocking=False):
        return  # a thread is running it: it is given back, and closed, later
    try:
        if home.loop.is_closed():
            return
        try:
            home.loop.run_until_complete(asyncio.wait_for(home.aclose(), CLOSE_TIMEOUT))
            home.loop.run_until_complete(home.loop.shutdown_asyncgens())
        except Exception:  # noqa: S110 - best effort: the loop is being dropped anyway
            pass
        home.loop.close()
    finally:
        home.in_use.release()


_banks: weakref.WeakSet[AsyncRunner] = weakref.WeakSet()


class AsyncRunner:
    """Runs a Flask app's async views on long-lived event loops (see the module docstring).

    *max_idle_loops* bounds the loops kept between requests in a process
    (more are made when more requests run at once, and closed when given
    back beyond the bound). *cancel_timeout* is how long the tasks a view
    left pending get to end once cancelled.
    """

    def __init__(
        self, app: Flask | None = None, *, max_idle_loops: int = 64, cancel_timeout: float = CANCEL_TIMEOUT
    ) -> None:
        if max_idle_loops < 0:
            raise ValueError("max_idle_loops must be 0 or more")
        self.max_idle_loops = max_idle_loops
        self.cancel_timeout = cancel_timeout
        self._bank: PerProcess[_Bank] = PerProcess(functools.partial(_Bank, max_idle_loops))
        _banks.add(self)
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"<AsyncRunner max_idle_loops={self.max_idle_loops}>"

    def init_app(self, app: Flask) -> None:
        """Run *app*'s async views with this runner (``app.extensions['flask_oauth1_async.runner']``)."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("an AsyncRunner is already installed on this app; call init_app() once per app")
        app.extensions[EXTENSION_KEY] = self
        app.async_to_sync = self.async_to_sync  # type: ignore[method-assign]

    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
        """The runner's :meth:`flask.Flask.async_to_sync`: a blocking callable running *func*."""

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> T:
            return self.run(lambda: func(*args, **kwargs))

        return run

    def run(self, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run the coroutine *call()* makes and return its result, blocking this thread (or greenlet)."""
        if in_event_loop():
            raise RuntimeError(
                "an event loop is already running in this thread: await the coroutine instead of "
                "running it through async_to_sync()"
            )
        outcome = _Outcome()
        if green_kind() is not None:
            self._run_green(call, outcome)
        else:
            self._run_in_thread(call, outcome)
        value: T = _result(outcome)
        return value

    def _run_in_thread(self, call: Callable[[], Coroutine[Any, Any, Any]], outcome: _Outcome) -> None:
        bank = self._bank.get()
        home = bank.take()
        loop = home.loop
        task = loop.create_task(_run_view(call, outcome, self.cancel_timeout))
        try:
            loop.run_until_complete(task)
        except BaseException:
            if not task.done():
                # Interrupted from outside (a signal in this thread): this loop is not given back.
                task.cancel()
                home.closed = True
            raise
        finally:
            bank.give_back(home)

    def _run_green(self, call: Callable[[], Coroutine[Any, Any, Any]], outcome: _Outcome) -> None:
        home, greenlet = self._bank.get().green_home()
        future = asyncio.run_coroutine_threadsafe(_run_view(call, outcome, self.cancel_timeout), home.loop)
        while True:
            done, _ = concurrent.futures.wait([future], timeout=LIVENESS_INTERVAL)
            if done:
                future.result()
                return
            if greenlet.dead or home.loop.is_closed():
                future.cancel()
                raise TransportError("the runner's event loop stopped while an async view was waiting on it")

    def close(self) -> None:
        """Close this process's loops and the clients living on them (bounded). Safe to call again."""
        bank = self._bank.peek()
        if bank is not None:
            bank.close()


def _close_all() -> None:
    for runner in list(_banks):
        runner.close()


on_exit(_close_all)
