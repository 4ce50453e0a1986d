"""Memory: RSS over many sequential calls of ours, each run in a fresh process.

A fresh ``spawn`` process holds only Flask, httpx and our package, so the
numbers are not polluted by the rest of the benchmark. After a short warm-up
it makes the calls and samples the RSS (psutil, or ``/proc`` without it)
at 100 evenly spaced points. *Growth* is the mean RSS of the last quarter of
the samples minus that of the first quarter.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
from typing import Any

__all__ = ["measure"]


def _rss_bytes() -> int:
    try:
        import psutil
    except ImportError:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return int(psutil.Process().memory_info().rss)


def _vmhwm_kib() -> int | None:
    """Peak RSS of this process image (Linux ``VmHWM``; ``ru_maxrss`` would include the pre-exec parent)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _child(kind: str, base_url: str, total: int, conn: Any) -> None:
    from time import perf_counter_ns

    from flask import Flask

    from flask_oauth1_async import OAuth

    from .flavours import API_PATH, CLIENT_ID, CLIENT_SECRET, TOKEN

    app = Flask("bench_memory")
    oauth = OAuth(app)
    remote = oauth.register("up", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, allowed_origins=[base_url])
    url = base_url + API_PATH

    @app.get("/view")
    async def view() -> str:
        response = await remote.get(url, token=TOKEN)
        return str(response.status_code)

    points = 100
    step = max(1, total // points)
    samples: list[int] = []
    client = app.test_client()

    def sync_calls(n: int) -> None:
        with app.test_request_context("/view"):
            for _ in range(n):
                if remote.get(url, token=TOKEN).status_code != 200:
                    raise RuntimeError("upstream refused a signed call")

    def async_requests(n: int) -> None:
        for _ in range(n):
            if client.get("/view").status_code != 200:
                raise RuntimeError("async view failed")

    work = sync_calls if kind == "sync" else async_requests
    work(max(50, step))  # warm-up: pools, TLS session, lazy imports
    start_rss = _rss_bytes()
    t0 = perf_counter_ns()
    done = 0
    while done < total:
        n = min(step, total - done)
        work(n)
        done += n
        samples.append(_rss_bytes())
    elapsed = perf_counter_ns() - t0
    oauth.close()
    conn.send(
        {
            "kind": kind,
            "calls": total,
            "start_rss": start_rss,
            "samples": samples,
            "elapsed_s": elapsed / 1e9,
            "vmhwm_kib": _vmhwm_kib(),
        }
    )
    conn.close()


def measure(kind: str, base_url: str, total: int) -> dict[str, Any]:
    """Run *total* sync calls (``kind="sync"``) or async-view requests (``"async"``) in a fresh process."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_child, args=(kind, base_url, total, child), name=f"bench-memory-{kind}", daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(600):
            raise RuntimeError(f"memory run {kind!r} did not finish")
        data: dict[str, Any] = parent.recv()
    finally:
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join(5)
        parent.close()
    samples = data["samples"]
    quarter = max(1, len(samples) // 4)
    first = statistics.fmean(samples[:quarter])
    last = statistics.fmean(samples[-quarter:])
    data["first_quarter_mib"] = first / 2**20
    data["last_quarter_mib"] = last / 2**20
    data["growth_mib"] = (last - first) / 2**20
    data["peak_mib"] = max(samples) / 2**20
    data["start_mib"] = data["start_rss"] / 2**20
    del data["samples"]
    return data
