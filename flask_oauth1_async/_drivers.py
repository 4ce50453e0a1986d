"""Effects and the two drivers that perform them.

Every OAuth step of this package is a *flow*: a generator that does no I/O
itself and yields *effects* instead (the model is httpx's ``Auth.auth_flow``):

* :class:`Build` - "build this :class:`httpx.Request` with the client's defaults";
* :class:`Send` - "send this request and give me the response", with a
  :class:`SendLabel` naming the remote and the step (used for telemetry);
* :class:`Sleep` - "wait this long" (a retry honouring ``Retry-After``);
* :class:`Invoke` - "call this user callback (``fetch_token``, a cache
  method), which may be a plain function or an ``async def``", optionally
  through a :class:`Gate` that merges concurrent calls.

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
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol, TypeVar

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async

from . import _telemetry
from ._http import httpx

#: Checked once: without opentelemetry-api the drivers never touch telemetry.
_TRACING = _telemetry.ENABLED

T = TypeVar("T")

__all__ = [
    "Build",
    "Effect",
    "Flow",
    "Gate",
    "Invoke",
    "Send",
    "SendLabel",
    "Sleep",
    "call_async",
    "call_sync",
    "run_async",
    "run_sync",
]


class Gate(Protocol):
    """Something that runs a callback at most once for several concurrent callers."""

    def run_sync(self, call: Callable[[], Any]) -> Any:
        """Run *call* (blocking), or return the result another caller got."""

    async def run_async(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Await *call*, or the result of the same call already in flight."""


class Build:
    """Effect: build a request with the HTTP client's defaults (headers, cookies, timeout)."""

    __slots__ = ("kwargs", "method", "url")

    def __init__(self, method: str, url: str, kwargs: dict[str, Any]) -> None:
        self.method = method
        self.url = url
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Build({self.method} {self.url.split('?', 1)[0]})"


class SendLabel(NamedTuple):
    """What a :class:`Send` is for: which remote, which step, and which resend of one call."""

    #: The remote's registered name.
    remote: str
    #: ``"request_token"``, ``"access_token"`` or ``"resource"``.
    step: str
    #: 0 for a call's first request, then 1, 2, ... for each retry or redirect hop.
    resend: int = 0


class Send:
    """Effect: send a request and return the (fully read) response."""

    __slots__ = ("follow_redirects", "label", "request")

    def __init__(
        self, request: httpx.Request, follow_redirects: bool | None = None, label: SendLabel | None = None
    ) -> None:
        self.request = request
        self.follow_redirects = follow_redirects
        self.label = label

    def __repr__(self) -> str:
        return f"Send({self.request.method} {self.request.url.copy_with(query=None)})"


class Invoke:
    """Effect: call a user callback that may be sync or async.

    With a *gate*, the call goes through it: concurrent callers that share
    the gate (one request's ``fetch_token``) share one call.
    """

    __slots__ = ("args", "func", "gate")

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...] = (), gate: Gate | None = None) -> None:
        self.func = func
        self.args = args
        self.gate = gate

    def __repr__(self) -> str:
        return f"Invoke({getattr(self.func, '__qualname__', type(self.func).__name__)})"


class Sleep:
    """Effect: wait *seconds* (``time.sleep`` or ``asyncio.sleep``)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Sleep({self.seconds:g})"


Effect = Build | Send | Invoke | Sleep
Flow = Generator[Effect, Any, T]


def _send_sync(client: httpx.Client, effect: Send) -> httpx.Response:
    if effect.follow_redirects is None:
        return client.send(effect.request)
    return client.send(effect.request, follow_redirects=effect.follow_redirects)


def _send_async(
    client: httpx.AsyncClient, effect: Send, run_on_loop: Callable[[Any], Awaitable[Any]]
) -> Awaitable[httpx.Response]:
    if effect.follow_redirects is None:
        return run_on_loop(client.send(effect.request))
    return run_on_loop(client.send(effect.request, follow_redirects=effect.follow_redirects))


def run_sync(flow: Flow[T], client: httpx.Client) -> T:
    """Drive *flow* with blocking I/O on *client*."""
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
                    value = effect.gate.run_sync(functools.partial(call_sync, effect.func, effect.args))
                else:
                    value = call_sync(effect.func, effect.args)
            except Exception as exc:
                error = exc
    finally:
        flow.close()


async def run_async(
    flow: Flow[T],
    client: httpx.AsyncClient,
    run_on_loop: Callable[[Any], Awaitable[Any]],
) -> T:
    """Drive *flow* with awaits; requests go through *run_on_loop* (the pool's loop)."""
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
                        # await; the request itself runs on the pool's loop.
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


def _loop_in_this_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


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


def call_sync(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Call a sync or async callback and block until its result."""
    if iscoroutinefunction(func):
        if _loop_in_this_thread():
            return _run_in_fresh_loop(lambda: func(*args))
        return async_to_sync(func)(*args)
    result = func(*args)
    if inspect.isawaitable(result):
        awaitable: Awaitable[Any] = result

        async def wait() -> Any:
            return await awaitable

        if _loop_in_this_thread():
            return _run_in_fresh_loop(wait)
        return async_to_sync(wait)()
    return result


async def call_async(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Await a sync or async callback; a plain function runs thread-sensitively (asgiref)."""
    if iscoroutinefunction(func):
        return await func(*args)
    result = await sync_to_async(func, thread_sensitive=True)(*args)
    if inspect.isawaitable(result):
        return await result
    return result
