"""cProfile of our sync and async paths in shape (a) (many calls in one request).

The async path runs in two threads: the view's event loop (asgiref's
per-request thread) and our background loop thread, which does the I/O.
cProfile only sees the thread it is enabled in, so one profiler is enabled
inside the view coroutine and another on the background loop; their
statistics are merged. Times are reported per API call.

With the runner (``AsyncRunner``), the view's loop is long-lived and the
call's client lives on it: one thread, one profiler (``ours-async-runner``),
and beside it a raw ``AsyncClient`` made on the same loop
(``raw-async-runner``), so that the two profiles can be compared function by
function.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import threading
from typing import Any

from .flavours import API_PATH, TOKEN, Clients

__all__ = ["profile_ours"]

_OURS = f"{os.sep}flask_oauth1_async{os.sep}"
_HTTPX = (f"{os.sep}httpx{os.sep}", f"{os.sep}httpcore{os.sep}")
_LOOP = (f"{os.sep}asyncio{os.sep}", f"{os.sep}anyio{os.sep}", f"{os.sep}sniffio{os.sep}")


_WAITS = (
    "poll' of 'select.epoll",
    "select' of 'select",
    "acquire' of '_thread.lock",
    "recv' of '_socket.socket",
    "recv_into' of '_socket.socket",
    "read' of '_ssl._SSLSocket",
)


def _area(filename: str, func: str = "") -> str:
    if _OURS in filename:
        return "ours"
    if any(part in filename for part in _HTTPX):
        return "httpx"
    if filename == "~" and any(w in func for w in _WAITS):
        return "wait"
    if any(part in filename for part in _LOOP):
        return "loop"
    return "other"


def _short(filename: str) -> str:
    for marker in (_OURS, *_HTTPX):
        index = filename.rfind(marker)
        if index >= 0:
            return filename[index + 1 :]
    return os.path.basename(filename)


def _rows(stats: pstats.Stats, calls: int, sort_index: int, limit: int) -> list[dict[str, Any]]:
    entries = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, lineno, func), (_cc, nc, tt, ct, _callers) in raw.items():
        if _area(filename) not in ("ours", "httpx"):
            continue
        entries.append((filename, lineno, func, nc, tt, ct))
    entries.sort(key=lambda e: e[sort_index], reverse=True)
    return [
        {
            "function": f"{_short(f)}:{line}({func})",
            "calls_per_call": nc / calls,
            "tottime_us": tt * 1e6 / calls,
            "cumtime_us": ct * 1e6 / calls,
        }
        for f, line, func, nc, tt, ct in entries[:limit]
    ]


def _shares(stats: pstats.Stats) -> dict[str, float]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    totals = {"ours": 0.0, "httpx": 0.0, "loop": 0.0, "wait": 0.0, "other": 0.0}
    for (filename, _lineno, func), (_cc, _nc, tt, _ct, _callers) in raw.items():
        totals[_area(filename, func)] += tt
    return totals


def _summarize(stats: pstats.Stats, calls: int, limit: int) -> dict[str, Any]:
    shares = _shares(stats)
    total = sum(shares.values()) or 1.0
    return {
        "calls": calls,
        "total_us_per_call": total * 1e6 / calls,
        "share": {k: v / total for k, v in shares.items()},
        "by_cumulative": _rows(stats, calls, 5, limit),
        "by_tottime": _rows(stats, calls, 4, limit),
    }


def profile_ours(clients: Clients, scheme: str, calls: int, limit: int = 15) -> dict[str, Any]:
    """Profile *calls* signed GETs of ours-sync and ours-async inside one request each."""
    from flask_oauth1_async._loop_thread import loop_thread

    app = clients.app
    remote = getattr(clients.oauth, f"up_{scheme}")
    url = clients.url(scheme, API_PATH)

    # sync
    with app.test_request_context("/view"):
        for _ in range(50):
            remote.get(url, token=TOKEN)
        sync_prof = cProfile.Profile()
        sync_prof.enable()
        for _ in range(calls):
            remote.get(url, token=TOKEN)
        sync_prof.disable()
    sync_stats = pstats.Stats(sync_prof)

    # async: the view thread and our background loop thread
    view_prof = cProfile.Profile()
    loop_prof = cProfile.Profile()
    loop = loop_thread.get_loop()

    def on_loop(action: Any) -> None:
        done = threading.Event()

        def call() -> None:
            action()
            done.set()

        loop.call_soon_threadsafe(call)
        if not done.wait(30):
            raise RuntimeError("the background loop did not answer")

    async def view(n: int, profiled: bool) -> None:
        if profiled:
            view_prof.enable()
        for _ in range(n):
            await remote.get(url, token=TOKEN)
        if profiled:
            view_prof.disable()

    with app.test_request_context("/view"):
        app.ensure_sync(view)(50, False)
        on_loop(loop_prof.enable)
        try:
            app.ensure_sync(view)(calls, True)
        finally:
            on_loop(loop_prof.disable)
    async_stats = pstats.Stats(view_prof)
    async_stats.add(loop_prof)

    # the runner: the loop (and the client) live in the request thread
    runner_app = clients.runner_app
    runner_profiles = {"async-runner": cProfile.Profile(), "raw-async-runner": cProfile.Profile()}

    async def runner_view(kind: str, n: int, profiled: bool) -> None:
        raw = clients.raw_on_running_loop(False)
        profile = runner_profiles[kind]
        if profiled:
            profile.enable()
        for _ in range(n):
            if kind == "async-runner":
                await remote.get(url, token=TOKEN)
            else:
                await raw.get(url, auth=clients.auth)
        if profiled:
            profile.disable()

    with runner_app.test_request_context("/view"):
        for kind in runner_profiles:
            runner_app.ensure_sync(runner_view)(kind, 50, False)
            runner_app.ensure_sync(runner_view)(kind, calls, True)
    return {
        "scheme": scheme,
        "sync": _summarize(sync_stats, calls, limit),
        "async": _summarize(async_stats, calls, limit),
        **{kind: _summarize(pstats.Stats(profile), calls, limit) for kind, profile in runner_profiles.items()},
    }
