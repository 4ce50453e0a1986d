"""The load generator of the throughput run: N client threads in their own process.

It runs in a ``spawn`` process so that it does not share the GIL with the
WSGI server it loads. Each thread uses :class:`http.client.HTTPConnection`
(which reconnects by itself when the server closes a connection) and takes
request numbers from a shared counter until the fixed total is reached.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import multiprocessing
import threading
from time import perf_counter_ns
from types import TracebackType
from typing import Any

__all__ = ["LoadGenerator"]


def _run(port: int, path: str, threads: int, total: int) -> dict[str, Any]:
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[int] = []
    errors: list[str] = []
    start = threading.Barrier(threads + 1)

    def work() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        local: list[int] = []
        start.wait()
        while True:
            with lock:
                number = next(counter)
            if number >= total:
                break
            t0 = perf_counter_ns()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(type(exc).__name__)
                conn.close()
                continue
            local.append(perf_counter_ns() - t0)
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
            if response.will_close:
                conn.close()
        conn.close()
        with lock:
            latencies.extend(local)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    t0 = perf_counter_ns()
    for worker in workers:
        worker.join()
    wall = perf_counter_ns() - t0
    return {"wall_ns": wall, "latencies_ns": latencies, "errors": errors}


def _serve(conn: Any) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        conn.send(_run(*message))


class LoadGenerator:
    """Parent-side handle: ``run(port, path, threads, total)`` blocks and returns the results."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), name="bench-loadgen", daemon=True)
        self._process.start()
        child.close()

    def run(self, port: int, path: str, threads: int, total: int) -> dict[str, Any]:
        self._conn.send((port, path, threads, total))
        result: dict[str, Any] = self._conn.recv()
        return result

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._conn.close()

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
