"""gevent and eventlet: whether the process is monkey-patched, and the real threads underneath.

Monkey-patching turns :mod:`threading` into greenlets that share one OS
thread, while asyncio keeps its running loop per OS thread. Two facts follow,
and this module holds what the rest of the package needs about them:

* a loop running in one greenlet is seen as "running" by every other
  greenlet of the thread: :func:`loop_runs_here` tells the greenlet that
  runs it from the others (asyncio records ``threading.get_ident()`` when a
  loop starts, which the patch makes the greenlet's identity);
* a thread that must really run beside the server's greenlets (the
  background loop) is started with the unpatched ``_thread`` module:
  :func:`start_real_thread`, :func:`real_lock`.

Nothing here imports gevent or eventlet: it looks at what the application
imported.
"""

from __future__ import annotations

import _thread
import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["green_kind", "loop_runs_here", "real_lock", "start_real_thread"]


def green_kind() -> str | None:
    """``"gevent"`` or ``"eventlet"`` when that library has patched :mod:`threading`, else None."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return "gevent"
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return "eventlet"
    return None


def loop_runs_here(loop: asyncio.AbstractEventLoop) -> bool:
    """True when *loop*, which asyncio reports as running in this OS thread, runs in this greenlet.

    Without monkey-patching there is one flow of control per OS thread and
    the answer is True.
    """
    if green_kind() is None:
        return True
    owner = getattr(loop, "_thread_id", None)  # set by asyncio's run_forever()
    return owner is None or owner == threading.get_ident()


def _original_thread_module() -> Any:
    # Both libraries were imported by the application (green_kind() saw them).
    kind = green_kind()
    if kind == "gevent":
        monkey = sys.modules["gevent.monkey"]
        return _Originals(monkey.get_original("_thread", ["start_new_thread", "allocate_lock"]))
    if kind == "eventlet":
        return sys.modules["eventlet.patcher"].original("_thread")
    return _thread


class _Originals:
    def __init__(self, pair: list[Any]) -> None:
        self.start_new_thread, self.allocate_lock = pair


def start_real_thread(target: Callable[[], None]) -> None:
    """Run *target* in a new OS thread, even when :mod:`threading` is monkey-patched."""
    _original_thread_module().start_new_thread(target, ())


def real_lock() -> Any:
    """A lock of the OS (not a greenlet lock): waiting on it blocks the whole OS thread."""
    return _original_thread_module().allocate_lock()
