"""Dual-mode calls: one method name that blocks in sync code and is awaited in async code.

The rule is deliberately simple: if an event loop is running *in the calling
thread* (the calling greenlet, under gevent or eventlet), the plain method
returns a :class:`PendingCall` that must be awaited; otherwise it does the
work and returns the result.

Static typing cannot express "a response, or an awaitable of one", so the
plain methods are annotated with small intersection classes that exist only
for type checkers: ``DualResponse`` is an :class:`httpx.Response` that can also
be awaited to give an :class:`httpx.Response`. Both ``resp = remote.get(...)``
in sync code and ``resp = await remote.get(...)`` in async code type-check.
The explicit ``*_sync`` and ``*_async`` variants have exact types.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator
from collections.abc import Coroutine as CoroutineABC
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from werkzeug.wrappers import Response as WerkzeugResponse

from ._green import loop_runs_here
from ._http import httpx

if TYPE_CHECKING:
    from .tokens import OAuth1Token

T = TypeVar("T")

__all__ = ["DualRedirect", "DualResponse", "DualToken", "NeverAwaitedWarning", "PendingCall", "in_event_loop"]


class NeverAwaitedWarning(RuntimeWarning):
    """A :class:`PendingCall` was garbage-collected without being awaited."""


def in_event_loop() -> bool:
    """Return True when an asyncio event loop is running in the current thread (greenlet, under gevent).

    asyncio keeps the running loop per OS thread; under gevent or eventlet a
    ``def`` view in one greenlet would see the loop another greenlet runs, so
    there the loop must also be this greenlet's (:func:`._green.loop_runs_here`).
    """
    loop = asyncio._get_running_loop()
    return loop is not None and loop_runs_here(loop)


def _misuse_message(label: str, sync_name: str) -> str:
    return (
        f"{label}() was called while an event loop is running (inside an async view), "
        f"so it returned an awaitable instead of a result. Write 'await {label}(...)', "
        f"or call '{sync_name}(...)' if you really want to block here."
    )


class PendingCall(Generic[T]):
    """The awaitable that a plain-named method returns inside an event loop.

    Await it exactly once, or hand it to :func:`asyncio.gather`,
    :func:`asyncio.create_task` or a ``TaskGroup`` (it behaves as a
    coroutine). Using it as if it were the result (reading an attribute,
    indexing it, returning it from a Flask view) raises a :class:`TypeError`
    that names the fix, and dropping it without awaiting it emits a
    :class:`NeverAwaitedWarning`.
    """

    __slots__ = ("_awaited", "_factory", "_inner", "_label", "_sync_name")

    def __init__(self, factory: Callable[[], Coroutine[Any, Any, T]], label: str, sync_name: str) -> None:
        self._factory = factory
        self._label = label
        self._sync_name = sync_name
        self._awaited = False
        self._inner: Coroutine[Any, Any, T] | None = None

    def _coroutine(self) -> Coroutine[Any, Any, T]:
        inner = self._inner
        if inner is None:
            if self._awaited:
                raise RuntimeError(f"the awaitable returned by {self._label}() was already awaited")
            self._awaited = True
            inner = self._inner = self._factory()
        return inner

    def __await__(self) -> Generator[Any, None, T]:
        if self._inner is not None or self._awaited:
            raise RuntimeError(f"the awaitable returned by {self._label}() was already awaited")
        return self._coroutine().__await__()

    # The coroutine protocol, so that asyncio.create_task() accepts it.
    def send(self, value: Any) -> Any:
        """Part of the coroutine protocol (used by asyncio tasks)."""
        return self._coroutine().send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """Part of the coroutine protocol (used by asyncio tasks)."""
        if val is None and tb is None:
            return self._coroutine().throw(typ)
        return self._coroutine().throw(typ, val, tb)  # pragma: no cover - legacy signature

    def close(self) -> None:
        """Part of the coroutine protocol: discard without running (no warning)."""
        self._awaited = True
        if self._inner is not None:
            self._inner.close()

    def _misuse(self, *args: object, **kwargs: object) -> NoReturn:
        self._awaited = True  # one clear error is enough: no extra warning
        raise TypeError(_misuse_message(self._label, self._sync_name))

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith(("_", "cr_", "gi_", "ag_")):
            raise AttributeError(name)
        self._misuse()

    __call__ = _misuse
    __getitem__ = _misuse
    __iter__ = _misuse
    __len__ = _misuse
    __contains__ = _misuse

    def __bool__(self) -> bool:
        # Always true, like any object: asyncio itself tests a task's coroutine
        # for truth (Python 3.12+), so this must not be a trap.
        return True

    def __repr__(self) -> str:
        return f"<PendingCall {self._label}() - await it>"

    def __del__(self) -> None:
        if not getattr(self, "_awaited", True):
            warnings.warn(
                f"{self._label}() was never awaited. " + _misuse_message(self._label, self._sync_name),
                NeverAwaitedWarning,
                stacklevel=1,
            )


CoroutineABC.register(PendingCall)


def dual(
    label: str,
    sync_name: str,
    run_sync: Callable[[], T],
    run_async: Callable[[], Coroutine[Any, Any, T]],
) -> T | PendingCall[T]:
    """Run *run_sync* now, or return a :class:`PendingCall` around *run_async*."""
    if in_event_loop():
        return PendingCall(run_async, label, sync_name)
    return run_sync()


if TYPE_CHECKING:

    class DualResponse(httpx.Response):
        """Typing-only: an :class:`httpx.Response` that may also be awaited."""

        def __await__(self) -> Generator[Any, None, httpx.Response]: ...

    class DualToken(OAuth1Token):
        """Typing-only: an :class:`OAuth1Token` that may also be awaited."""

        def __await__(self) -> Generator[Any, None, OAuth1Token]: ...

    class DualRedirect(WerkzeugResponse):
        """Typing-only: a redirect response that may also be awaited."""

        def __await__(self) -> Generator[Any, None, WerkzeugResponse]: ...

else:  # pragma: no cover - the runtime never instantiates these

    class DualResponse(Awaitable):
        """An :class:`httpx.Response`, or an awaitable of one (see module docs)."""

    class DualToken(Awaitable):
        """An :class:`OAuth1Token`, or an awaitable of one (see module docs)."""

    class DualRedirect(Awaitable):
        """A redirect response, or an awaitable of one (see module docs)."""
