"""The process lifecycle: a new process noticed on use, locks never inherited held, and exit.

Servers fork. gunicorn and uWSGI start their workers as copies of a master
that may already have used this package (``--preload``, calls at import
time), and uWSGI forks without running Python's at-fork handlers (unless
``--py-call-osafterfork``), so :func:`os.register_at_fork` cannot be relied
on. Instead, every piece of per-process state here notices a new process on
use, by its pid, and builds itself anew, never touching what was copied from
the parent: a lock held by a thread that does not exist in the child, an
event loop copied in the middle of an operation, sockets shared with the
parent.

* :class:`ProcessLock` - a lock of which each process gets its own;
* :class:`PerProcess` - a value built once per process, on first use there;
* :func:`close_at_exit` - objects whose clients are closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

__all__ = ["PerProcess", "ProcessLock", "close_at_exit", "on_exit"]

log = logging.getLogger("flask_oauth1_async")


class PerProcess(Generic[T]):
    """A value made by *factory* once in each process, on first use there.

    In a forked child the parent's value is never returned nor touched: the
    child makes its own. Two threads of a new process that ask at the same
    time get the same value (one of the two made is kept).
    """

    __slots__ = ("_factory", "_values")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._values: dict[int, T] = {}

    def get(self) -> T:
        """The value of the current process."""
        pid = os.getpid()
        value = self._values.get(pid)
        if value is None:
            values = self._values
            # dict.setdefault is atomic: racing threads agree on one value.
            value = values.setdefault(pid, self._factory())
            if len(values) > 1:
                # Forget the parent's value (never used here) without touching it.
                self._values = {pid: value}
        return value

    def peek(self) -> T | None:
        """The value of the current process if it was made, without making it."""
        return self._values.get(os.getpid())


class ProcessLock:
    """A :class:`threading.Lock` of which each process gets its own.

    A lock copied into a forked child while another thread held it stays
    held forever there; this one is never copied in use.
    """

    __slots__ = ("_locks",)

    def __init__(self) -> None:
        self._locks: PerProcess[threading.Lock] = PerProcess(threading.Lock)

    def acquire(self, timeout: float = -1) -> bool:
        """Acquire the current process's lock (*timeout* as :meth:`threading.Lock.acquire`)."""
        return self._locks.get().acquire(timeout=timeout)

    def release(self) -> None:
        """Release the current process's lock."""
        self._locks.get().release()

    def __enter__(self) -> ProcessLock:
        self._locks.get().acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._locks.get().release()


class _Closable(Protocol):
    def close_for_exit(self) -> None: ...


_exit_tracked: weakref.WeakSet[Any] = weakref.WeakSet()
_exit_callbacks: list[Callable[[], None]] = []


def close_at_exit(obj: _Closable) -> None:
    """Call ``obj.close_for_exit()`` when the interpreter exits (it stays collectable)."""
    _exit_tracked.add(obj)


def on_exit(callback: Callable[[], None]) -> None:
    """Call *callback* at interpreter exit, after the objects of :func:`close_at_exit`."""
    _exit_callbacks.append(callback)


def _run_exit_hooks() -> None:
    # Each hook bounds its own waits; a failure is logged, never raised at exit.
    for obj in list(_exit_tracked):
        with contextlib.suppress(Exception):
            obj.close_for_exit()
    for callback in _exit_callbacks:
        with contextlib.suppress(Exception):
            callback()


atexit.register(_run_exit_hooks)
