"""Which event loop an awaited call's HTTP client lives on: the homes of the async clients.

An :class:`httpx.AsyncClient` belongs to the loop it first ran on, and its
pooled connections are worth keeping only on a loop that lives long. A
:class:`LoopHome` is such a loop, with the async clients that live on it:

* the background loop of :mod:`._loop_thread`;
* the loops of the opt-in runner (:mod:`flask_oauth1_async.runner`): one per
  worker thread, or one in a greenlet under gevent or eventlet;
* a loop of someone else that is not one of asgiref's per-call loops: an ASGI
  server's loop when the app is served through asgiref's ``WsgiToAsgi``, the
  loop of Flask's gevent recipe, the loop of ``asyncio.run()`` in a script.
  It is adopted on first use, and its clients are closed when the loop shuts
  down (``loop.shutdown_asyncgens()``, which ``asyncio.run()`` and
  :class:`asyncio.Runner` call): an async generator started on the loop closes
  them from its ``finally``.

:func:`home_of_running_loop` answers None for a loop of Flask's default runner
(asgiref's ``async_to_sync`` makes one per view call and lists it in
``AsyncToSync.loop_thread_executors`` while it runs): such a call keeps its
client on the background loop and hops there, so that its connections
outlive the request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import weakref
from collections.abc import AsyncGenerator, Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync

from ._green import real_lock
from ._http import httpx
from ._process import PerProcess

T = TypeVar("T")

__all__ = ["LoopHome", "home_of_running_loop", "register_home", "submit"]

log = logging.getLogger("flask_oauth1_async")

#: How a home's loop runs: taken in turn by request threads (the runner's thread mode),
#: running forever (the background loop, the runner's greenlet loop), or someone else's.
KINDS = ("taken", "forever", "adopted")


class LoopHome:
    """A long-lived event loop and the async HTTP clients that live on it."""

    __slots__ = ("__weakref__", "_clients", "_sentinel", "closed", "in_use", "kind", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, kind: str) -> None:
        self.loop = loop
        self.kind = kind
        #: Held (an OS lock) by the thread that runs a "taken" loop.
        self.in_use = real_lock()
        self.closed = False
        self._clients: weakref.WeakSet[httpx.AsyncClient] = weakref.WeakSet()
        self._sentinel: AsyncGenerator[None, None] | None = None

    def __repr__(self) -> str:
        return f"<LoopHome {self.kind} closed={self.closed or self.loop.is_closed()}>"

    def alive(self) -> bool:
        """False once the home or its loop was closed: nothing is built on it any more."""
        return not self.closed and not self.loop.is_closed()

    def adopt(self, client: httpx.AsyncClient) -> None:
        """Close *client* with this home."""
        self._clients.add(client)

    async def aclose(self) -> None:
        """Close the clients that live here (run on this home's loop)."""
        self.closed = True
        for client in list(self._clients):
            with contextlib.suppress(Exception):  # one broken client must not keep the others open
                await client.aclose()
        self._clients.clear()

    def schedule(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run *coro* on this home's loop when it next runs (fire and forget, from any thread)."""
        try:
            submit(self.loop, coro).add_done_callback(_retrieve)
        except RuntimeError:  # the loop is closed: nothing to close on it any more
            coro.close()

    def run_blocking(self, coro: Coroutine[Any, Any, T], timeout: float) -> T | None:
        """Run *coro* on this home's loop from a thread that is not running it, waiting at most *timeout* s.

        A "taken" loop that no thread holds is run here; a loop running
        elsewhere is given the coroutine and waited for. Returns None (and
        leaves the coroutine to run later, if it can) when it cannot be done in
        time.
        """
        if asyncio._get_running_loop() is self.loop:
            self.schedule(coro)  # this thread runs the loop: it cannot also wait for it
            return None
        if self.kind == "taken" and self.in_use.acquire(blocking=False):
            try:
                if self.loop.is_closed():
                    coro.close()
                    return None
                return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))
            finally:
                self.in_use.release()
        if self.loop.is_closed():
            coro.close()
            return None
        future: Future[T] = submit(self.loop, coro)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            return None


def submit(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> Future[T]:
    """:func:`asyncio.run_coroutine_threadsafe`, with the task started in an empty context.

    The package's own work on a loop (closing clients) is never part of the
    caller's context: the runner would count it among the tasks of the view
    that happened to be running, and cancel it when that view returns.
    """
    future: Future[T] = Future()

    def start() -> None:
        if not future.set_running_or_notify_cancel():
            coro.close()
            return
        task = loop.create_task(coro)

        def done(task: asyncio.Task[T]) -> None:
            if task.cancelled():
                future.set_exception(concurrent.futures.CancelledError())
            elif (exc := task.exception()) is not None:
                future.set_exception(exc)
            else:
                future.set_result(task.result())

        task.add_done_callback(done)

    loop.call_soon_threadsafe(start, context=contextvars.Context())
    return future


def _retrieve(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("closing a client failed: %r", future.exception())


# loop -> its home, per process (a child never uses its parent's loops)
_homes: PerProcess[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopHome]] = PerProcess(
    weakref.WeakKeyDictionary
)


def register_home(loop: asyncio.AbstractEventLoop, kind: str) -> LoopHome:
    """Make *loop* a home of async clients (the background loop and the runner's loops)."""
    home = LoopHome(loop, kind)
    _homes.get()[loop] = home
    return home


def _per_call_loop(loop: asyncio.AbstractEventLoop) -> bool:
    # asgiref lists the loop it made for one async_to_sync call while the call runs.
    return loop in AsyncToSync.loop_thread_executors


async def home_of_running_loop() -> LoopHome | None:
    """The home of the running loop, adopting a long-lived one on first use; None for a per-call loop."""
    loop = asyncio.get_running_loop()
    homes = _homes.get()
    home = homes.get(loop)
    if home is not None:
        return home if home.alive() else None
    if _per_call_loop(loop):
        return None
    home = LoopHome(loop, "adopted")
    homes[loop] = home
    sentinel = _close_on_shutdown(home)
    home._sentinel = sentinel
    await sentinel.__anext__()  # started on this loop: shutdown_asyncgens() will close it
    return home


async def _close_on_shutdown(home: LoopHome) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await home.aclose()
