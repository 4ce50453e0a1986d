"""The background event loop: one asyncio loop running forever in a thread of its own.

Flask's default runner (asgiref's ``async_to_sync``) runs every ``async
def`` view in a brand-new event loop, and an :class:`httpx.AsyncClient` is
bound to the loop it first ran on. To keep connections alive *across* such
requests, the async clients of short-lived loops live on one long-lived loop
in a daemon thread, :data:`loop_thread`, and a view awaits their work
through :meth:`LoopThread.run` (one task there, one future on the view's
loop, a thread-safe wake-up each way). Cancelling the view cancels the task
there.

The loop is started lazily, in a real OS thread even under gevent or
eventlet (a greenlet cannot run a second loop beside the server's), within
a bounded time: a loop that cannot start raises
:class:`~.errors.TransportError` at once, and so does every call waiting on a
loop that dies. A forked child starts its own loop on first use and never
touches the parent's (:mod:`._process`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from ._green import real_lock, start_real_thread
from ._loops import LoopHome, register_home
from ._process import PerProcess, on_exit
from .errors import TransportError

T = TypeVar("T")

__all__ = ["LoopThread", "loop_thread"]

log = logging.getLogger("flask_oauth1_async")

#: Seconds a new loop has to start before the call that wanted it fails.
START_TIMEOUT = 10.0


class _Started:
    """One loop started by a :class:`LoopThread` in this process, and the calls waiting on it."""

    __slots__ = ("closed", "dead", "failure", "generation", "home", "loop", "waiters", "waiters_lock")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.loop: asyncio.AbstractEventLoop | None = None
        #: The loop as the home of the async clients that hop to it.
        self.home: LoopHome | None = None
        #: Released by the thread once the loop is closed (an OS lock, so that it works under gevent too).
        self.closed = real_lock()
        self.closed.acquire()
        #: Set once run_forever() returned (or never ran): the loop is never handed out again.
        self.dead = False
        self.failure: BaseException | None = None
        # Callers waiting on this loop: their future -> their own loop.
        self.waiters: dict[asyncio.Future[Any], asyncio.AbstractEventLoop] = {}
        self.waiters_lock = real_lock()  # taken by the loop thread and by callers, also under gevent

    def alive(self) -> bool:
        loop = self.loop
        return not self.dead and loop is not None and not loop.is_closed()

    def fail_waiters(self) -> None:
        # The loop stopped: nobody will ever complete what waits on it.
        with self.waiters_lock:
            waiters = list(self.waiters.items())
            self.waiters.clear()
        for waiter, caller in waiters:
            error = TransportError("the background event loop stopped while this call was in flight")
            with contextlib.suppress(RuntimeError):  # the caller's loop is gone too
                caller.call_soon_threadsafe(_set_exception, waiter, error)


class _State:
    """A :class:`LoopThread`'s state in one process."""

    __slots__ = ("current", "generation", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: _Started | None = None
        self.generation = 0


class LoopThread:
    """One asyncio event loop running forever in a daemon OS thread.

    The loop heals: if it was stopped or closed, or its thread died, the next
    use starts a new one (:attr:`generation` counts them, so pools know their
    async clients belong to a dead loop). Calls waiting on a loop when it
    stops are failed with :class:`~.errors.TransportError`.
    """

    def __init__(self, name: str = "flask_oauth1_async-loop", start_timeout: float = START_TIMEOUT) -> None:
        self._name = name
        self._start_timeout = start_timeout
        self._state: PerProcess[_State] = PerProcess(_State)

    def __repr__(self) -> str:
        return f"<LoopThread generation={self.generation} running={self.running}>"

    def _current(self) -> _Started | None:
        state = self._state.peek()
        return state.current if state is not None else None

    @property
    def running(self) -> bool:
        """True if this process's loop is running."""
        current = self._current()
        return current is not None and current.alive()

    @property
    def generation(self) -> int:
        """How many loops this process has started (0 before the first)."""
        state = self._state.peek()
        return state.generation if state is not None else 0

    def home(self) -> LoopHome:
        """The home of the clients that live on the background loop, starting the loop if needed."""
        home = self._started().home
        assert home is not None
        return home

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """Return the loop, starting it on first use, in a new process, or after it died.

        Raises :class:`~.errors.TransportError` if a new loop does not start
        within its bounded time.
        """
        return self._started().loop  # type: ignore[return-value]

    def _started(self) -> _Started:
        current = self._current()
        if current is not None and current.alive():
            return current
        state = self._state.get()
        # Bounded: a lock that is never released (a thread killed while
        # starting a loop) must not hang every later call.
        if not state.lock.acquire(timeout=self._start_timeout):
            raise TransportError(f"the background event loop did not start within {self._start_timeout:g} s")
        try:
            current = state.current
            if current is not None and current.alive():
                return current
            if current is not None:
                log.warning("the background event loop had stopped; starting a new one")
            state.generation += 1
            started = self._start(state.generation)
            state.current = started
            return started
        finally:
            state.lock.release()

    def _start(self, generation: int) -> _Started:
        started = _Started(generation)
        ready = real_lock()
        ready.acquire()

        def run() -> None:
            try:
                # Made in its own thread: under gevent the selector belongs to the thread that builds it.
                loop = asyncio.new_event_loop()
            except BaseException as exc:
                started.failure = exc
                started.dead = True
                ready.release()
                started.closed.release()
                return
            started.loop = loop
            if started.dead:  # the caller stopped waiting before the loop was made: never run it
                loop.close()
                started.closed.release()
                return
            home = started.home = register_home(loop, "forever")
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.release)
            try:
                loop.run_forever()
            except BaseException as exc:
                started.failure = exc
            finally:
                was_ready = not ready.locked()
                started.dead = True  # from now on a new loop is started for new calls
                if not was_ready:
                    ready.release()
                started.fail_waiters()
                with contextlib.suppress(Exception):  # best effort on a loop that is going away
                    loop.run_until_complete(home.aclose())
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                started.fail_waiters()  # callers that slipped in while it shut down
                started.closed.release()

        start_real_thread(run)
        if not ready.acquire(timeout=self._start_timeout):
            started.dead = True  # set before reading the loop; the thread sets the loop before reading this
            late = started.loop
            if late is not None:  # made meanwhile: stop it as soon as it runs
                with contextlib.suppress(RuntimeError):
                    late.call_soon_threadsafe(late.stop)
            raise TransportError(f"the background event loop did not start within {self._start_timeout:g} s")
        if started.dead:
            cause = started.failure
            raise TransportError(
                f"the background event loop could not start: {type(cause).__name__}: {cause}"
            ) from cause
        return started

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule *coro* on the loop from any thread and return its future (wait on it with a timeout)."""
        try:
            loop = self.get_loop()
        except BaseException:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await *coro* on the background loop from another running loop.

        A lean bridge: one task on the background loop, one future on the
        caller's loop, and one thread-safe wake-up in each direction (no
        :class:`concurrent.futures.Future` in between). Cancelling the caller
        cancels the background task; a loop that stops fails the caller with
        :class:`~.errors.TransportError`.
        """
        try:
            started = self._started()
        except BaseException:
            coro.close()
            raise
        loop = started.loop
        assert loop is not None
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
            with started.waiters_lock:
                started.waiters.pop(waiter, None)
            try:
                current.call_soon_threadsafe(deliver, task)
            except RuntimeError:  # the caller's loop is closed: nobody waits any more
                if not task.cancelled():
                    task.exception()

        def start() -> None:  # on the background loop
            task = loop.create_task(coro)
            holder.append(task)
            task.add_done_callback(finished)

        with started.waiters_lock:
            started.waiters[waiter] = current
        try:
            if started.dead:
                raise RuntimeError("the loop is shutting down")
            loop.call_soon_threadsafe(start)
        except RuntimeError:  # closed between _started() and now
            with started.waiters_lock:
                started.waiters.pop(waiter, None)
            coro.close()
            raise TransportError("the background event loop stopped; the call was not sent") from None
        try:
            return await waiter
        except asyncio.CancelledError:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_cancel_started, holder)
            raise
        finally:
            with started.waiters_lock:
                started.waiters.pop(waiter, None)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop this process's loop and wait (at most *timeout* seconds) until it has closed."""
        state = self._state.peek()
        if state is None or state.current is None:
            return
        current, state.current = state.current, None
        loop = current.loop
        if loop is None or current.dead:
            return
        with contextlib.suppress(RuntimeError):  # already closed
            loop.call_soon_threadsafe(loop.stop)
        # Bounded: the thread is a daemon either way.
        if current.closed.acquire(timeout=timeout):
            current.closed.release()


def _set_exception(waiter: asyncio.Future[Any], error: BaseException) -> None:
    if not waiter.done():
        waiter.set_exception(error)


def _cancel_started(holder: list[asyncio.Task[Any]]) -> None:
    # Runs on the background loop after start(), since call_soon_threadsafe keeps order.
    for task in holder:
        task.cancel()


#: The process-wide loop that owns the async clients of short-lived loops.
loop_thread = LoopThread()
on_exit(loop_thread.stop)
