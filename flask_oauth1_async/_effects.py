"""The effect vocabulary: what a flow asks its driver to do.

Every OAuth step of this package is a *flow* (:mod:`.flows`, and the
temporary-credential and token lookups it delegates to): a generator that
does no I/O itself and yields *effects* instead, receiving their results
back. The model is httpx's ``Auth.auth_flow``; the split is h11's, whose
events live apart from the connection that produces them. The protocol
modules import this module and never a driver; :mod:`._drivers` performs
the effects, blocking or awaited.

* :class:`Build` - "build this :class:`httpx.Request` with the client's defaults";
* :class:`Send` - "send this request and give me the response", with a
  :class:`SendLabel` naming the remote and the step (used for telemetry),
  and optionally a byte *limit* on the answer and a :class:`Deadline` for
  the whole exchange (the drivers raise :class:`DeadlineExceeded` when it
  passes, and cut an answer beyond the limit, marking it :data:`TRUNCATED`);
* :class:`Sleep` - "wait this long" (a retry honouring ``Retry-After``);
* :class:`Invoke` - "call this user callback (``fetch_token``, a cache
  method), which may be a plain function or an ``async def``", optionally
  through a :class:`Gate` that merges concurrent calls.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple, Protocol, TypeVar

from ._http import httpx
from ._urls import redact_url

T = TypeVar("T")

__all__ = [
    "TRUNCATED",
    "Build",
    "Deadline",
    "DeadlineExceeded",
    "Effect",
    "Flow",
    "Gate",
    "Invoke",
    "Send",
    "SendLabel",
    "Sleep",
]

#: The key of ``response.extensions`` that a driver sets to True when it cut an answer at its limit.
TRUNCATED = "flask_oauth1_async.truncated"


class Deadline(NamedTuple):
    """When a call must be over: an absolute :func:`time.monotonic` time, and the length it was given."""

    #: The :func:`time.monotonic` time after which the call fails.
    at: float
    #: The length of the deadline in seconds (for messages).
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline *seconds* from now."""
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        """Seconds left (negative once it has passed)."""
        return self.at - time.monotonic()


class DeadlineExceeded(Exception):
    """Raised by a driver into the flow when a :class:`Send` went beyond its :class:`Deadline`."""


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
        return f"Build({self.method} {redact_url(self.url)})"


class SendLabel(NamedTuple):
    """What a :class:`Send` is for: which remote, which step, and which resend of one call."""

    #: The remote's registered name.
    remote: str
    #: ``"request_token"``, ``"access_token"`` or ``"resource"``.
    step: str
    #: 0 for a call's first request, then 1, 2, ... for each retry or redirect hop.
    resend: int = 0


class Send:
    """Effect: send a request and return the (fully read) response.

    With a *limit*, at most that many bytes of the answer are read: the rest
    is left unread, the connection closed, and the response's
    ``extensions[TRUNCATED]`` set. With a *deadline*, the whole exchange
    (connecting, sending, every read) must end by then, or the driver raises
    :class:`DeadlineExceeded`.
    """

    __slots__ = ("deadline", "follow_redirects", "label", "limit", "request")

    def __init__(
        self,
        request: httpx.Request,
        follow_redirects: bool | None = None,
        label: SendLabel | None = None,
        *,
        limit: int | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.request = request
        self.follow_redirects = follow_redirects
        self.label = label
        self.limit = limit
        self.deadline = deadline

    def __repr__(self) -> str:
        return f"Send({self.request.method} {redact_url(self.request.url)})"


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


#: Any effect a flow may yield.
Effect = Build | Send | Invoke | Sleep
#: A flow: a generator of effects that returns a ``T``.
Flow = Generator[Effect, Any, T]
