"""The real-server benchmark: gunicorn, 2 workers: sync and gthread workers (``--preload``), gevent workers.

For each worker class one gunicorn master serves :mod:`benchmarks.gunicorn_app`
on 127.0.0.1; the load generator process (:mod:`benchmarks.loadgen`, a fixed
number of requests from a fixed number of threads: bounded) drives every
flavour's view in round-robin rounds, so all flavours of a worker class are
measured in the same run. Reported per flavour: requests/s (requests over the
summed wall time of its rounds), p50/p99 latency as the load generator sees it
(queueing included), errors, and new upstream connections per 100 requests.

Sync and gthread workers get 8 concurrent requests, each one call to the
fast upstream path. Gevent workers (``-k gevent``, without ``--preload`` so
that the app is imported after the worker patched the standard library) get
:data:`GREEN_CONCURRENCY` concurrent requests, each waiting on the
upstream's 100 ms path: the load gevent is for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .gunicorn_app import GREEN_PATHS, PATHS
from .loadgen import LoadGenerator
from .stats import percentile
from .upstream import Upstream

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = {
    "raw-sync": "raw pooled httpx.Client + minimal OAuth1 Auth, sync view",
    "ours-sync": "ours, sync view",
    "ours-async": "ours, async view (httpx transport)",
    "ours-async-fast": "ours, async view, async_transport='aiohttp'",
    "ours-async-runner": "ours, async view (httpx transport), AsyncRunner",
    "ours-async-fast-runner": "ours, async view, async_transport='aiohttp', AsyncRunner",
    "raw-async-runner": "raw AsyncClient made on the runner's loop, async view, AsyncRunner (floor)",
    "raw-async-fast-runner": "raw AsyncClient, httpx-aiohttp transport, runner's loop, AsyncRunner (floor)",
    "authlib-flask": "Authlib Flask client, sync view",
}
#: Concurrent requests of the gevent run (each waits about 100 ms on the upstream).
GREEN_CONCURRENCY = 50


@dataclass(frozen=True)
class WorkerSetup:
    """One gunicorn worker class: its arguments, the views driven, and how hard."""

    args: tuple[str, ...]
    paths: dict[str, str]
    concurrency: int = 8
    preload: bool = True
    #: Requests per flavour and round, as a multiple of the configured total.
    scale: int = 1


#: worker class -> its setup
WORKERS = {
    "sync": WorkerSetup(("-k", "sync"), PATHS),
    "gthread": WorkerSetup(("-k", "gthread", "--threads", "4"), PATHS),
    "gevent": WorkerSetup(
        ("-k", "gevent", "--worker-connections", "200"),
        GREEN_PATHS,
        concurrency=GREEN_CONCURRENCY,
        preload=False,
        scale=3,
    ),
}


def _cpu_s(pid: int | None, children: bool = False) -> float | None:
    """CPU seconds (user + system) of process *pid*, or of its child processes."""
    try:
        import psutil
    except ImportError:
        return None
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        targets = process.children() if children else [process]
        return sum(sum(p.cpu_times()[:2]) for p in targets)
    except psutil.Error:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Gunicorn:
    """``python -m gunicorn`` with 2 workers (and ``--preload``) on 127.0.0.1, stopped on exit."""

    def __init__(self, worker_args: list[str], env: dict[str, str], preload: bool = True) -> None:
        self.port = _free_port()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        args = [sys.executable, "-m", "gunicorn", "-w", "2", *(["--preload"] if preload else []), *worker_args]
        args += ["-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "benchmarks.gunicorn_app:create_app()"]
        self._process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self._process.returncode}: {self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if b" 200 " in sock.recv(64):
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gunicorn did not answer within 30 s: " + self.log())
            time.sleep(0.1)

    def worker_cpu_s(self) -> float | None:
        """User + system CPU seconds used so far by the workers (psutil; None without it)."""
        return _cpu_s(self._process.pid, children=True)

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-2000:]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(5)
        self._log.close()


def real_server(
    upstream: Upstream,
    total: int,
    rounds: int,
    log: Callable[[str], None] | None = None,
    workers: tuple[str, ...] = tuple(WORKERS),
) -> dict[str, Any]:
    """Run every flavour under each worker class; returns ``{worker_class: {flavour: figures}}``."""
    env = {"BENCH_UPSTREAM": upstream.base_url("https")}
    out: dict[str, Any] = {}
    with LoadGenerator() as generator:
        for worker in workers:
            setup = WORKERS[worker]
            paths, threads, keys = setup.paths, setup.concurrency, list(setup.paths)
            server = Gunicorn(list(setup.args), env, preload=setup.preload)
            try:
                acc: dict[str, dict[str, Any]] = {
                    k: {"wall_ns": 0, "lat": [], "errors": [], "conns": 0, "cpu": 0.0, "up_cpu": 0.0} for k in keys
                }
                for key in keys:  # warm-up: every worker process builds its clients and connections
                    generator.run(server.port, paths[key], threads, threads * 4)
                for round_no in range(rounds):
                    shift = round_no % len(keys)
                    for key in keys[shift:] + keys[:shift]:
                        n = max(threads, total // 10) if key == "authlib-flask" else total * setup.scale
                        before = upstream.connections("https")
                        cpu_before, up_before = server.worker_cpu_s(), _cpu_s(upstream.pid)
                        result = generator.run(server.port, paths[key], threads, n)
                        acc[key]["conns"] += upstream.connections("https") - before
                        cpu_after, up_after = server.worker_cpu_s(), _cpu_s(upstream.pid)
                        if cpu_before is not None and cpu_after is not None:
                            acc[key]["cpu"] += cpu_after - cpu_before
                        if up_before is not None and up_after is not None:
                            acc[key]["up_cpu"] += up_after - up_before
                        acc[key]["wall_ns"] += result["wall_ns"]
                        acc[key]["lat"].extend(result["latencies_ns"])
                        acc[key]["errors"].extend(result["errors"])
                    if log:
                        log(f"real server, {worker} workers: round {round_no + 1}/{rounds}")
            finally:
                server.stop()
            figures: dict[str, Any] = {}
            for key in keys:
                data = acc[key]
                lat = sorted(x / 1000.0 for x in data["lat"])
                requests = len(lat)
                figures[key] = {
                    "label": LABELS[key],
                    "requests": requests,
                    "threads": threads,
                    "req_per_s": requests / (data["wall_ns"] / 1e9) if data["wall_ns"] else 0.0,
                    "p50_us": percentile(lat, 50),
                    "p99_us": percentile(lat, 99),
                    "conn_per_100": 100.0 * data["conns"] / requests if requests else None,
                    "errors": len(data["errors"]),
                    "error_kinds": sorted(set(data["errors"]))[:5],
                    # CPU time per request: the gunicorn workers', and the upstream's (its share of the machine)
                    "worker_cpu_us": 1e6 * data["cpu"] / requests if requests and data["cpu"] else None,
                    "upstream_cpu_us": 1e6 * data["up_cpu"] / requests if requests and data["up_cpu"] else None,
                }
            out[worker] = figures
    return out
