"""HTTP plumbing: the shared TLS context, and the background event loop.

Flask runs every ``async def`` view in a brand-new event loop (asgiref's
``async_to_sync``), and an :class:`httpx.AsyncClient` is bound to the loop it
first ran on. To keep connections alive *across* requests, every
:class:`httpx.AsyncClient` of this package lives on one long-lived loop in a
daemon thread (:class:`LoopThread`). A view awaits the result through
:func:`asyncio.wrap_future`, so its own loop is never blocked, cancelling the
view cancels the remote task, and the loop thread is started lazily, restarted
after :func:`os.fork`, and stopped (after closing its clients) at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import ssl
import threading
import weakref
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

import httpx

T = TypeVar("T")

__all__ = ["LoopThread", "default_ssl_context", "loop_thread", "track_for_exit"]

_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def default_ssl_context() -> ssl.SSLContext:
    """Return the process-wide verifying TLS context, building it once.

    Loading the CA bundle costs tens of milliseconds, so it is done once and
    the context is shared by every client this package creates (an
    :class:`ssl.SSLContext` is safe to share between threads and clients).
    """
    global _ssl_context
    ctx = _ssl_context
    if ctx is None:
        with _ssl_lock:
            ctx = _ssl_context
            if ctx is None:
                ctx = httpx.create_ssl_context()
                _ssl_context = ctx
    return ctx


class LoopThread:
    """One asyncio event loop running forever in a daemon thread."""

    def __init__(self, name: str = "flask_oauth1_async-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def running(self) -> bool:
        """True if the loop thread of this process is alive."""
        return self._loop is not None and self._pid == os.getpid() and self._thread is not None

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """Return the loop, starting the thread on first use (and after a fork)."""
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        thread.start()
        ready.wait()
        self._loop = loop
        self._thread = thread
        self._pid = os.getpid()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule *coro* on the loop from any thread and return its future."""
        return asyncio.run_coroutine_threadsafe(coro, self.get_loop())

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await *coro* on the background loop from another running loop.

        A lean bridge: one task on the background loop, one future on the
        caller's loop, and one thread-safe wake-up in each direction (no
        :class:`concurrent.futures.Future` in between). Cancelling the caller
        cancels the background task.
        """
        loop = self.get_loop()
        current = asyncio.get_running_loop()
        if current is loop:
            return await coro
        waiter: asyncio.Future[T] = current.create_future()
        holder: list[asyncio.Task[T]] = []

        def deliver(task: asyncio.Task[T]) -> None:  # on the caller's loop
            if waiter.done():
                if not task.cancelled():
                    task.exception()  # the caller went away: mark it retrieved
                return
            if task.cancelled():
                waiter.cancel()
            elif (exc := task.exception()) is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(task.result())

        def finished(task: asyncio.Task[T]) -> None:  # on the background loop
            try:
                current.call_soon_threadsafe(deliver, task)
            except RuntimeError:  # the caller's loop is closed: nobody waits any more
                if not task.cancelled():
                    task.exception()

        def start() -> None:  # on the background loop
            task = loop.create_task(coro)
            holder.append(task)
            task.add_done_callback(finished)

        loop.call_soon_threadsafe(start)
        try:
            return await waiter
        except asyncio.CancelledError:
            loop.call_soon_threadsafe(_cancel_started, holder)
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and join its thread (a no-op in a forked child)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or self._pid != os.getpid():
                self._loop = self._thread = None
                return
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    def _after_fork(self) -> None:
        # The thread does not exist in the child; forget it without touching it.
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None
        self._pid = 0


#: The process-wide loop that owns every AsyncClient of this package.
loop_thread = LoopThread()


class _Closable(Protocol):
    def close_for_exit(self) -> None: ...


_exit_tracked: weakref.WeakSet[Any] = weakref.WeakSet()


def track_for_exit(obj: _Closable) -> None:
    """Close *obj* (its sync and async clients) when the interpreter exits."""
    _exit_tracked.add(obj)


def _close_all_at_exit() -> None:
    for obj in list(_exit_tracked):
        with contextlib.suppress(Exception):  # best effort at exit
            obj.close_for_exit()
    loop_thread.stop()


def _after_fork_in_child() -> None:
    loop_thread._after_fork()
    for obj in list(_exit_tracked):
        reset = getattr(obj, "after_fork_in_child", None)
        if reset is not None:
            reset()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _cancel_started(holder: list[asyncio.Task[Any]]) -> None:
    # Runs on the background loop after start(), since call_soon_threadsafe keeps order.
    for task in holder:
        task.cancel()
