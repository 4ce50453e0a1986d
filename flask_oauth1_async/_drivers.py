"""The two drivers that perform a flow's effects (:mod:`._effects`).

:func:`run_sync` performs the effects with blocking calls, :func:`run_async`
with awaits. A flow is written once and driven by either, so the two paths
cannot drift apart. Both drivers close the flow when they stop early
(an error, a cancellation), so its ``finally`` blocks always run.

When ``opentelemetry-api`` is installed, both drivers wrap each send in a
CLIENT span (:mod:`._telemetry`), started in the caller's context.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async

from . import _telemetry
from ._dual import in_event_loop
from ._effects import TRUNCATED, Build, Deadline, DeadlineExceeded, Flow, Send, Sleep
from ._http import httpx

#: Checked once: without opentelemetry-api the drivers never touch telemetry.
_TRACING = _telemetry.ENABLED

T = TypeVar("T")

__all__ = [
    "call_async",
    "call_sync",
    "run_async",
    "run_sync",
]


#: The httpx timeout each phase of a request raises.
_PHASES: tuple[tuple[type[httpx.TimeoutException], str], ...] = (
    (httpx.ConnectTimeout, "connect"),
    (httpx.ReadTimeout, "read"),
    (httpx.WriteTimeout, "write"),
    (httpx.PoolTimeout, "pool"),
)


def _clamp_timeouts(request: httpx.Request, deadline: Deadline) -> frozenset[str]:
    """Let no single network operation of *request* wait beyond *deadline*; return the phases cut short."""
    remaining = deadline.remaining()
    if remaining <= 0:
        raise DeadlineExceeded
    timeouts = dict(request.extensions.get("timeout") or {})
    clamped: set[str] = set()
    for phase in ("connect", "read", "write", "pool"):
        current = timeouts.get(phase)
        if current is None or current > remaining:
            timeouts[phase] = remaining
            clamped.add(phase)
    request.extensions["timeout"] = timeouts
    return frozenset(clamped)


def _deadline_fired(exc: httpx.TimeoutException, deadline: Deadline | None, clamped: frozenset[str]) -> bool:
    """Whether *exc* is the deadline at work: a phase whose timeout it cut short, or simply past it."""
    if deadline is None:
        return False
    phase = next((name for cls, name in _PHASES if isinstance(exc, cls)), None)
    return phase in clamped or _past(deadline)


def _past(deadline: Deadline | None) -> bool:
    return deadline is not None and deadline.remaining() <= 0


class _Reader:
    """Collects an answer's body chunk by chunk, within a byte limit and a deadline."""

    __slots__ = ("chunks", "deadline", "limit", "size", "truncated")

    def __init__(self, limit: int | None, deadline: Deadline | None) -> None:
        self.limit = limit
        self.deadline = deadline
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def take(self, chunk: bytes) -> bool:
        """Keep *chunk*; False once the limit is reached (stop reading). Raises past the deadline."""
        if _past(self.deadline):
            raise DeadlineExceeded
        if self.limit is not None and self.size + len(chunk) > self.limit:
            self.chunks.append(chunk[: self.limit - self.size])
            self.size = self.limit
            self.truncated = True
            return False
        self.chunks.append(chunk)
        self.size += len(chunk)
        return True

    def finish(self, response: httpx.Response) -> httpx.Response:
        # What response.read() does, within bounds: the body becomes the response's content.
        response._content = b"".join(self.chunks)
        if self.truncated:
            response.extensions[TRUNCATED] = True
        return response


def _send_sync(client: httpx.Client, effect: Send) -> httpx.Response:
    if effect.limit is None and effect.deadline is None:
        if effect.follow_redirects is None:
            return client.send(effect.request)
        return client.send(effect.request, follow_redirects=effect.follow_redirects)
    # Bounded: the answer is streamed, and the size and the deadline are checked
    # between chunks (a trickling server hands over one chunk per read).
    deadline = effect.deadline
    clamped = _clamp_timeouts(effect.request, deadline) if deadline is not None else frozenset()
    reader = _Reader(effect.limit, deadline)
    try:
        if effect.follow_redirects is None:
            response = client.send(effect.request, stream=True)
        else:
            response = client.send(effect.request, stream=True, follow_redirects=effect.follow_redirects)
        try:
            for chunk in response.iter_bytes():
                if not reader.take(chunk):
                    break
        finally:
            response.close()
    except httpx.TimeoutException as exc:
        if _deadline_fired(exc, deadline, clamped):
            raise DeadlineExceeded from exc
        raise
    return reader.finish(response)


async def _perform_async(client: httpx.AsyncClient, effect: Send) -> httpx.Response:
    if effect.follow_redirects is None:
        response = await client.send(effect.request, stream=True)
    else:
        response = await client.send(effect.request, stream=True, follow_redirects=effect.follow_redirects)
    reader = _Reader(effect.limit, effect.deadline)
    try:
        async for chunk in response.aiter_bytes():
            if not reader.take(chunk):
                break
    finally:
        await response.aclose()
    return reader.finish(response)


async def _bounded_async(client: httpx.AsyncClient, effect: Send, deadline: Deadline) -> httpx.Response:
    # The whole exchange under one timeout, measured on the loop that does the work.
    return await asyncio.wait_for(_perform_async(client, effect), max(deadline.remaining(), 0.0))


async def _send_async(
    client: httpx.AsyncClient, effect: Send, run_on_loop: Callable[[Any], Awaitable[Any]] | None
) -> httpx.Response:
    if effect.limit is None and effect.deadline is None:
        if effect.follow_redirects is None:
            sending = client.send(effect.request)
        else:
            sending = client.send(effect.request, follow_redirects=effect.follow_redirects)
        return await (sending if run_on_loop is None else run_on_loop(sending))
    deadline = effect.deadline
    if deadline is None:
        performing = _perform_async(client, effect)
        return await (performing if run_on_loop is None else run_on_loop(performing))
    clamped = _clamp_timeouts(effect.request, deadline)
    try:
        if run_on_loop is None:
            return await _bounded_async(client, effect, deadline)
        # The wait of this loop for the background loop is bounded too, with a grace
        # that only a stuck loop outlasts: cancelling the work there while it closes
        # its connection (after its own timeout fired) would leave the socket open.
        waiting = max(deadline.remaining(), 0.0) + _HOP_GRACE
        return await asyncio.wait_for(run_on_loop(_bounded_async(client, effect, deadline)), waiting)
    except asyncio.TimeoutError as exc:
        raise DeadlineExceeded from exc
    except httpx.TimeoutException as exc:
        if _deadline_fired(exc, deadline, clamped):
            raise DeadlineExceeded from exc
        raise


#: Seconds the caller's loop waits beyond the deadline for the background loop to report it.
_HOP_GRACE = 5.0


#: How a blocking caller runs a coroutine function: ``to_sync(func)(*args)`` (asgiref's, or the app's own).
ToSync = Callable[[Callable[..., Any]], Callable[..., Any]]


def run_sync(flow: Flow[T], client: httpx.Client, to_sync: ToSync = async_to_sync) -> T:
    """Drive *flow* with blocking I/O on *client*; async callbacks run through *to_sync*.

    The remote layer passes the app's :meth:`flask.Flask.async_to_sync`, so
    that an app with its own runner (this package's, or Flask's gevent recipe)
    runs an ``async def fetch_token`` of a ``def`` view the way it runs views.
    """
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                if isinstance(effect, Send):
                    if _TRACING:
                        with _telemetry.ClientSpan(effect.request, effect.label) as span:
                            value = _send_sync(client, effect)
                            span.response(value)
                    else:
                        value = _send_sync(client, effect)
                elif isinstance(effect, Build):
                    value = client.build_request(effect.method, effect.url, **effect.kwargs)
                elif isinstance(effect, Sleep):
                    time.sleep(effect.seconds)
                elif effect.gate is not None:
                    value = effect.gate.run_sync(functools.partial(call_sync, effect.func, effect.args, to_sync))
                else:
                    value = call_sync(effect.func, effect.args, to_sync)
            except Exception as exc:
                error = exc
    finally:
        flow.close()


async def run_async(
    flow: Flow[T],
    client: httpx.AsyncClient,
    run_on_loop: Callable[[Any], Awaitable[Any]] | None = None,
) -> T:
    """Drive *flow* with awaits on *client*.

    The client lives on the running loop, or, with *run_on_loop*, on another
    loop that each send hops to (the background loop, for the short-lived
    loops of Flask's default runner).
    """
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                if isinstance(effect, Send):
                    if _TRACING:
                        # The span starts here, in the view's context, and spans the
                        # await, also when the request itself runs on another loop.
                        with _telemetry.ClientSpan(effect.request, effect.label) as span:
                            value = await _send_async(client, effect, run_on_loop)
                            span.response(value)
                    else:
                        value = await _send_async(client, effect, run_on_loop)
                elif isinstance(effect, Build):
                    value = client.build_request(effect.method, effect.url, **effect.kwargs)
                elif isinstance(effect, Sleep):
                    await asyncio.sleep(effect.seconds)
                elif effect.gate is not None:
                    value = await effect.gate.run_async(functools.partial(call_async, effect.func, effect.args))
                else:
                    value = await call_async(effect.func, effect.args)
            except Exception as exc:
                error = exc
    finally:
        flow.close()


def _run_in_fresh_loop(make: Callable[[], Awaitable[Any]]) -> Any:
    # A blocking call made inside a running event loop (``get_sync()`` in an
    # async view) cannot wait for a coroutine on that same loop, and asgiref
    # refuses to try. The coroutine runs on a new loop in a helper thread,
    # with this thread's context (so flask.request and g are visible).
    async def main() -> Any:
        return await make()

    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flask_oauth1_async-call") as pool:
        return pool.submit(context.run, asyncio.run, main()).result()


def call_sync(func: Callable[..., Any], args: tuple[Any, ...], to_sync: ToSync = async_to_sync) -> Any:
    """Call a sync or async callback and block until its result (a coroutine runs through *to_sync*)."""
    if iscoroutinefunction(func):
        if in_event_loop():
            return _run_in_fresh_loop(lambda: func(*args))
        return to_sync(func)(*args)
    result = func(*args)
    if inspect.isawaitable(result):
        awaitable: Awaitable[Any] = result

        async def wait() -> Any:
            return await awaitable

        if in_event_loop():
            return _run_in_fresh_loop(wait)
        return to_sync(wait)()
    return result


async def call_async(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Await a sync or async callback; a plain function runs thread-sensitively (asgiref)."""
    if iscoroutinefunction(func):
        return await func(*args)
    result = await sync_to_async(func, thread_sensitive=True)(*args)
    if inspect.isawaitable(result):
        return await result
    return result
