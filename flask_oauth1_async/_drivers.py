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
from ._effects import Build, Flow, Send, Sleep
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


def _send_sync(client: httpx.Client, effect: Send) -> httpx.Response:
    if effect.follow_redirects is None:
        return client.send(effect.request)
    return client.send(effect.request, follow_redirects=effect.follow_redirects)


def _send_async(
    client: httpx.AsyncClient, effect: Send, run_on_loop: Callable[[Any], Awaitable[Any]] | None
) -> Awaitable[httpx.Response]:
    if effect.follow_redirects is None:
        sending = client.send(effect.request)
    else:
        sending = client.send(effect.request, follow_redirects=effect.follow_redirects)
    return sending if run_on_loop is None else run_on_loop(sending)


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
