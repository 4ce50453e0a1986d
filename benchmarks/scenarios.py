"""What is measured: the call shapes, fan-out, throughput, the dance and signing.

Every function returns plain data (``Sample`` objects or dicts) for
:mod:`benchmarks.report`; nothing here asserts anything about timings.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any
from urllib.parse import urlsplit

import httpx

from .flavours import API_PATH, CLIENT_ID, CLIENT_SECRET, FLAVOURS, TOKEN, Clients, MinimalOAuth1
from .loadgen import LoadGenerator
from .servers import WSGIServer
from .stats import Plan, Runner, Sample, interleave, percentile, set_ratios, summarize
from .upstream import Upstream

Log = Callable[[str], None]


@dataclass(frozen=True)
class Config:
    """Iteration counts; :meth:`quick` and :meth:`full` are the two presets."""

    name: str
    fast: Plan  # pooled flavours, per call
    slow: Plan  # Authlib flavours (a new connection per call)
    per_request_fast: Plan
    per_request_slow: Plan
    fanout_reps: int
    fanout_sequential_reps: int
    throughput_total: int
    throughput_rounds: int
    dance: Plan
    signing: Plan
    signing_slow: Plan
    profile_calls: int
    idle: Plan
    memory_sync_calls: int
    memory_async_requests: int
    server_total: int = 400
    server_rounds: int = 3

    @classmethod
    def quick(cls) -> Config:
        return cls(
            name="quick",
            fast=Plan(rounds=10, batch=30, warmup=30),
            slow=Plan(rounds=10, batch=2, warmup=2),
            per_request_fast=Plan(rounds=10, batch=24, warmup=20),
            per_request_slow=Plan(rounds=10, batch=2, warmup=2),
            fanout_reps=2,
            fanout_sequential_reps=1,
            throughput_total=160,
            throughput_rounds=2,
            dance=Plan(rounds=4, batch=3, warmup=1),
            signing=Plan(rounds=5, batch=400, warmup=200),
            signing_slow=Plan(rounds=5, batch=100, warmup=50),
            profile_calls=400,
            idle=Plan(rounds=6, batch=50, warmup=20),
            memory_sync_calls=10_000,
            memory_async_requests=1_000,
            server_total=240,
            server_rounds=2,
        )

    @classmethod
    def full(cls) -> Config:
        return cls(
            name="full",
            fast=Plan(rounds=40, batch=50, warmup=100),
            slow=Plan(rounds=40, batch=4, warmup=4),
            per_request_fast=Plan(rounds=40, batch=38, warmup=50),
            per_request_slow=Plan(rounds=40, batch=3, warmup=4),
            fanout_reps=5,
            fanout_sequential_reps=2,
            throughput_total=1_200,
            throughput_rounds=3,
            dance=Plan(rounds=10, batch=5, warmup=2),
            signing=Plan(rounds=20, batch=1_000, warmup=500),
            signing_slow=Plan(rounds=20, batch=250, warmup=100),
            profile_calls=2_000,
            idle=Plan(rounds=20, batch=50, warmup=50),
            memory_sync_calls=10_000,
            memory_async_requests=1_000,
        )


def _is_authlib(key: str) -> bool:
    return key.startswith("authlib")


# -------------------------------------------------------------- calibration


def calibrate_upstream(upstream: Upstream, calls: int = 2_000) -> dict[str, Sample]:
    """Keep-alive round trips to the upstream with a bare socket: the upstream's own cost.

    If these are small next to the flavours' times, the upstream is not the slow point.
    """
    import socket
    import ssl

    request = b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: OAuth x\r\n\r\n"
    out: dict[str, Sample] = {}
    for scheme in ("http", "https"):
        port = upstream.https_port if scheme == "https" else upstream.http_port
        raw = socket.create_connection(("127.0.0.1", port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock: socket.socket = raw
        if scheme == "https":
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
        durations = []
        try:
            for i in range(calls + 100):
                t0 = perf_counter_ns()
                sock.sendall(request)
                data = b""
                while not data.endswith(b"}"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise RuntimeError("the upstream closed the connection")
                    data += chunk
                if i >= 100:
                    durations.append(perf_counter_ns() - t0)
        finally:
            sock.close()
        out[scheme] = summarize(
            f"socket-{scheme}", f"bare keep-alive socket round trip, {scheme.upper()}", durations, None
        )

    # The floor for a burst of *fresh* connections: 50 at once with bare asyncio streams.
    async def one(port: int, tls: ssl.SSLContext | None) -> None:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="127.0.0.1" if tls else None
        )
        writer.write(request)
        await writer.drain()
        await reader.readuntil(b"}")
        writer.close()

    async def burst(port: int, tls: ssl.SSLContext | None, n: int) -> int:
        t0 = perf_counter_ns()
        await asyncio.gather(*(one(port, tls) for _ in range(n)))
        return perf_counter_ns() - t0

    for scheme in ("http", "https"):
        port = upstream.https_port if scheme == "https" else upstream.http_port
        tls = ssl.create_default_context() if scheme == "https" else None
        walls = [asyncio.run(burst(port, tls, 50)) for _ in range(6)][1:]
        out[f"burst-{scheme}"] = summarize(
            f"burst-{scheme}", f"50 fresh connections at once (bare asyncio), {scheme.upper()}", walls, None
        )
    return out


# ------------------------------------------------------------- (a) one request


A_REFERENCES: dict[str, str | None] = {
    "raw-sync": None,
    "raw-async": None,
    "raw-async-bg": "raw-async",
    "raw-to-thread": "raw-async",
    "authlib-flask": "raw-sync",
    "ours-sync": "raw-sync",
    "authlib-starlette": "raw-async",
    "ours-async": "raw-async",
    "raw-async-fast": "raw-async",
    "ours-async-fast": "raw-sync",
    # On a long-lived loop, ours against a raw AsyncClient on that same loop:
    "raw-async-runner": "raw-async",
    "ours-async-runner": "raw-async-runner",
    "raw-async-fast-runner": "raw-async-fast",
    "ours-async-fast-runner": "raw-async-fast-runner",
    "ours-async-loop": "raw-async",
    "ours-async-fast-loop": "raw-async-fast",
}


def many_calls_in_one_request(clients: Clients, upstream: Upstream, scheme: str, cfg: Config) -> dict[str, Sample]:
    """Shape (a): many signed GETs inside one Flask request (one async view for async flavours)."""
    runners = {key: clients.many_in_one_request(key, scheme) for key in FLAVOURS}
    plans = {key: cfg.slow if _is_authlib(key) else cfg.fast for key in FLAVOURS}
    labels = {key: label for key, (label, _) in FLAVOURS.items()}
    samples = interleave(runners, plans, labels, lambda: upstream.connections(scheme))
    set_ratios(samples, A_REFERENCES)
    return samples


# ------------------------------------------------------- (b) one call/request

B_FLAVOURS: dict[str, str] = {
    "empty-sync": "empty sync view (no call)",
    "empty-async": "empty async view (no call)",
    "raw-sync": "1. raw httpx.Client, sync view",
    "authlib-flask": "3. Authlib Flask client, sync view",
    "ours-sync": "5. ours, sync view",
    "raw-async-bg": "2b. raw AsyncClient on a bg loop thread, bridged, async view",
    "raw-to-thread": "2c. raw pooled httpx.Client via asyncio.to_thread, async view",
    "authlib-starlette": "4. Authlib Starlette client, async view",
    "ours-async": "6. ours, async view",
    "ours-async-fast": "6f. ours with async_transport='aiohttp', async view",
    "empty-async-runner": "empty async view (no call), AsyncRunner",
    "raw-async-runner": "2r. raw AsyncClient made on the runner's loop, async view, AsyncRunner",
    "raw-async-fast-runner": "2fr. raw AsyncClient, httpx-aiohttp transport, runner's loop, AsyncRunner",
    "ours-async-runner": "6r. ours, async view, AsyncRunner",
    "ours-async-fast-runner": "6fr. ours with async_transport='aiohttp', async view, AsyncRunner",
}
B_REFERENCES: dict[str, str | None] = {
    "empty-sync": None,
    "empty-async": "empty-sync",
    "empty-async-runner": "empty-sync",
    "raw-async-runner": "ours-sync",
    "raw-async-fast-runner": "ours-sync",
    "ours-async-runner": "ours-sync",
    "ours-async-fast-runner": "ours-sync",
    "raw-sync": None,
    "authlib-flask": "raw-sync",
    "ours-sync": "raw-sync",
    "raw-async-bg": "ours-sync",
    "raw-to-thread": "ours-sync",
    "authlib-starlette": "ours-sync",
    "ours-async": "ours-sync",
    "ours-async-fast": "ours-sync",
}


def one_call_per_request(clients: Clients, upstream: Upstream, scheme: str, cfg: Config) -> dict[str, Sample]:
    """Shape (b): one signed GET per request, many requests through ``app.test_client()``."""
    runners = {key: clients.one_call_per_request(key, scheme) for key in B_FLAVOURS}
    plans = {key: cfg.per_request_slow if _is_authlib(key) else cfg.per_request_fast for key in B_FLAVOURS}
    samples = interleave(runners, plans, B_FLAVOURS, lambda: upstream.connections(scheme))
    set_ratios(samples, B_REFERENCES)
    return samples


# ------------------------------------------------------------------ fan-out

FANOUT_FLAVOURS: dict[str, str] = {
    "ours-async-gather": "ours, async view, asyncio.gather",
    "ours-async-gather-pool100": "ours with limits=Limits(max_keepalive_connections=100), async view, gather",
    "ours-async-fast-gather": "ours with async_transport='aiohttp', async view, gather",
    "ours-async-http2-gather": "ours with http2=True (HTTP/2 when the upstream offers it), async view, gather",
    "raw-async-gather": "raw AsyncClient, long-lived loop, asyncio.gather",
    "raw-async-gather-pool100": "raw AsyncClient with the same limits, long-lived loop, gather",
    "raw-to-thread-gather": "raw pooled httpx.Client via asyncio.to_thread, async view, gather",
    "authlib-starlette-gather": "Authlib Starlette client, async view, asyncio.gather",
    "ours-async-runner-gather": "ours, async view run by AsyncRunner, gather",
    "ours-async-fast-runner-gather": "ours with async_transport='aiohttp', async view run by AsyncRunner, gather",
    "raw-async-runner-gather": "raw AsyncClient made on the runner's loop, async view run by AsyncRunner, gather",
    "raw-async-fast-runner-gather": "raw AsyncClient, httpx-aiohttp transport, runner's loop, AsyncRunner, gather",
    "ours-sync-sequential": "ours, sync view, sequential",
}


def _after_a_burst(runner: Runner, counter: Callable[[], int], conns: dict[str, int], key: str) -> Runner:
    """*runner* with an untimed burst before each timed one; the timed bursts' new connections go to *conns*."""

    def run(reps: int) -> list[int]:
        out: list[int] = []
        for _ in range(reps):
            runner(1)  # untimed: the pool holds what a burst leaves behind
            before = counter()
            out += runner(1)
            conns[key] = conns.get(key, 0) + counter() - before
        return out

    return run


def fanout(
    clients: Clients, upstream: Upstream, scheme: str, cfg: Config, sizes: tuple[int, ...] = (1, 10, 50)
) -> dict[int, dict[str, Sample]]:
    """N concurrent calls to a 100 ms upstream in one async view vs N sequential ones in a sync view.

    The wall time of one repetition is measured inside the view (from the
    first call to the last answer). New connections are per 100 calls.

    Every timed burst of a gather flavour follows an untimed burst of the same
    flavour, so its pool holds what a burst leaves behind: the figure is
    fan-out on a warm pool, not on whatever survived the other flavours' turns
    (one round of all flavours takes longer than the 5 s keep-alive expiry).
    Only the timed bursts' new connections are counted.
    """
    app = clients.app
    url = clients.url(scheme, "/slow" + API_PATH)
    ours = getattr(clients.oauth, f"up_{scheme}")
    ours_pool100 = getattr(clients.oauth, f"up_{scheme}_pool100")
    ours_fast = getattr(clients.oauth, f"up_{scheme}_fast")
    ours_http2 = getattr(clients.oauth, f"up_{scheme}_http2")
    authlib = getattr(clients.starlette, f"up_{scheme}")
    raw, raw100, auth, loop = clients.raw_async, clients.raw_async_pool100, clients.auth, clients.loop
    results: dict[int, dict[str, Sample]] = {}
    versions: set[str] = set()
    counter = lambda: upstream.connections(scheme)  # noqa: E731

    for size in sizes:

        async def ours_view(n: int = size) -> int:
            t0 = perf_counter_ns()
            responses = await asyncio.gather(*(ours.get(url, token=TOKEN) for _ in range(n)))
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            return elapsed

        async def ours_pool100_view(n: int = size) -> int:
            t0 = perf_counter_ns()
            responses = await asyncio.gather(*(ours_pool100.get(url, token=TOKEN) for _ in range(n)))
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            return elapsed

        async def ours_fast_view(n: int = size) -> int:
            t0 = perf_counter_ns()
            responses = await asyncio.gather(*(ours_fast.get(url, token=TOKEN) for _ in range(n)))
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            return elapsed

        async def ours_http2_view(n: int = size) -> int:
            t0 = perf_counter_ns()
            responses = await asyncio.gather(*(ours_http2.get(url, token=TOKEN) for _ in range(n)))
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            versions.add(responses[0].http_version)
            return elapsed

        async def to_thread_view(n: int = size) -> int:
            t0 = perf_counter_ns()
            responses = await asyncio.gather(
                *(asyncio.to_thread(clients.raw_sync.get, url, auth=auth) for _ in range(n))
            )
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            return elapsed

        async def authlib_view(n: int = size) -> int:
            t0 = perf_counter_ns()
            responses = await asyncio.gather(*(authlib.get(url, token=TOKEN) for _ in range(n)))
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            return elapsed

        async def raw_gather(n: int = size) -> int:
            t0 = perf_counter_ns()
            responses = await asyncio.gather(*(raw.get(url, auth=auth) for _ in range(n)))
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            return elapsed

        async def raw100_gather(n: int = size) -> int:
            t0 = perf_counter_ns()
            responses = await asyncio.gather(*(raw100.get(url, auth=auth) for _ in range(n)))
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            return elapsed

        async def raw_runner_view(n: int = size, fast: bool = False) -> int:
            client = clients.raw_on_running_loop(fast)
            t0 = perf_counter_ns()
            responses = await asyncio.gather(*(client.get(url, auth=auth) for _ in range(n)))
            elapsed = perf_counter_ns() - t0
            assert all(r.status_code == 200 for r in responses)
            return elapsed

        def in_async_view(view: Callable[[], Any], view_app: Any = app) -> Runner:
            def run(reps: int) -> list[int]:
                out = []
                for _ in range(reps):
                    with view_app.test_request_context("/fanout"):
                        out.append(view_app.ensure_sync(view)())
                return out

            return run

        def raw_runner(reps: int, coro: Callable[[], Any] = raw_gather) -> list[int]:
            return [loop.run_until_complete(coro()) for _ in range(reps)]

        def sequential(reps: int, n: int = size) -> list[int]:
            out = []
            for _ in range(reps):
                with app.test_request_context("/fanout"):
                    t0 = perf_counter_ns()
                    for _ in range(n):
                        assert ours.get(url, token=TOKEN).status_code == 200
                    out.append(perf_counter_ns() - t0)
            return out

        runners: dict[str, Runner] = {
            "ours-async-gather": in_async_view(ours_view),
            "ours-async-gather-pool100": in_async_view(ours_pool100_view),
            "ours-async-fast-gather": in_async_view(ours_fast_view),
            "ours-async-http2-gather": in_async_view(ours_http2_view),
            "raw-async-gather": raw_runner,
            "raw-async-gather-pool100": lambda reps, coro=raw100_gather: raw_runner(reps, coro),
            "raw-to-thread-gather": in_async_view(to_thread_view),
            "authlib-starlette-gather": in_async_view(authlib_view),
            # the same views in the app with AsyncRunner(app): the remote's client lives on the runner's loop
            "ours-async-runner-gather": in_async_view(ours_view, clients.runner_app),
            "ours-async-fast-runner-gather": in_async_view(ours_fast_view, clients.runner_app),
            "raw-async-runner-gather": in_async_view(raw_runner_view, clients.runner_app),
            "raw-async-fast-runner-gather": in_async_view(
                functools.partial(raw_runner_view, fast=True), clients.runner_app
            ),
        }
        timed_conns: dict[str, int] = {}
        warm = {key: _after_a_burst(runner, counter, timed_conns, key) for key, runner in runners.items()}
        plans = {key: Plan(rounds=cfg.fanout_reps, batch=1, warmup=0) for key in runners}
        samples = interleave(warm, plans, FANOUT_FLAVOURS, counter)
        for key, sample in samples.items():
            sample.new_connections = timed_conns.get(key, 0)
        # The sequential runs take N x 100 ms; run them on their own afterwards so that
        # they do not leave the gather flavours' pools idle past httpx's 5 s keep-alive expiry.
        seq_reps = cfg.fanout_reps if size <= 10 else cfg.fanout_sequential_reps
        samples.update(
            interleave(
                {"ours-sync-sequential": sequential},
                {"ours-sync-sequential": Plan(rounds=seq_reps, batch=1, warmup=1 if size <= 10 else 0)},
                FANOUT_FLAVOURS,
                counter,
            )
        )
        for sample in samples.values():
            sample.extra["calls"] = sample.n * size
        results[size] = samples
    # ratio: wall time of N concurrent calls / wall time of one call (same flavour)
    for samples in results.values():
        for key, sample in samples.items():
            single = results[sizes[0]][key].median_us
            sample.ratio = sample.median_us / single if single else None
            sample.reference = f"{key} N={sizes[0]}"
            calls = sample.extra["calls"]
            if sample.new_connections is not None and calls:
                sample.extra["conn_per_100_calls"] = 100.0 * sample.new_connections / calls
                sample.extra["conn_per_burst"] = sample.new_connections / sample.n if sample.n else None
    for sample in results[sizes[-1]].values():
        if sample.key == "ours-async-http2-gather":
            sample.extra["http_versions"] = sorted(versions)
    return results


# ------------------------------------------------------------ idle pool cost

IDLE_FLAVOURS: dict[str, str] = {
    "sync-1": "ours-sync, 1 pooled connection",
    "sync-20": "ours-sync, 20 idle pooled connections (right after a burst)",
    "async-1": "ours-async (one async view), 1 pooled connection",
    "async-20": "ours-async (one async view), 20 idle pooled connections (right after a burst)",
    "fast-1": "ours-async with async_transport='aiohttp', 1 pooled connection",
    "fast-20": "ours-async with async_transport='aiohttp', 20 idle pooled connections (right after a burst)",
}


def idle_pool_cost(clients: Clients, scheme: str, plan: Plan) -> dict[str, Sample]:
    """Sequential calls through a pool holding one connection vs one holding 20 idle ones.

    Two remotes: ``up_{scheme}_idle1`` only ever makes sequential calls (one
    pooled connection); before each of its timed batches, ``up_{scheme}_idle20``
    makes a burst of 20 concurrent calls to the 100 ms path (untimed), which
    leaves 20 idle keep-alive connections in its pool (httpx keeps up to 20, for
    5 s). The four batches of a round are interleaved like everything else.
    """
    import threading

    app = clients.app
    one = getattr(clients.oauth, f"up_{scheme}_idle1")
    many = getattr(clients.oauth, f"up_{scheme}_idle20")
    fast_one = getattr(clients.oauth, f"up_{scheme}_fast_idle1")
    fast_many = getattr(clients.oauth, f"up_{scheme}_fast_idle20")
    url = clients.url(scheme, API_PATH)
    slow = clients.url(scheme, "/slow" + API_PATH)

    def sync_burst() -> None:
        barrier = threading.Barrier(20)

        def call() -> None:
            with app.test_request_context("/idle"):
                barrier.wait()
                many.get(slow, token=TOKEN)

        threads = [threading.Thread(target=call) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def sync_runner(remote: Any, burst: bool) -> Runner:
        def run(n: int) -> list[int]:
            if burst:
                sync_burst()
            out = [0] * n
            with app.test_request_context("/idle"):
                for i in range(n):
                    t0 = perf_counter_ns()
                    response = remote.get(url, token=TOKEN)
                    out[i] = perf_counter_ns() - t0
                    assert response.status_code == 200
            return out

        return run

    def async_runner(remote: Any, burst: bool) -> Runner:
        async def view(n: int) -> list[int]:
            if burst:
                await asyncio.gather(*(remote.get(slow, token=TOKEN) for _ in range(20)))
            out = [0] * n
            for i in range(n):
                t0 = perf_counter_ns()
                response = await remote.get(url, token=TOKEN)
                out[i] = perf_counter_ns() - t0
                assert response.status_code == 200
            return out

        def run(n: int) -> list[int]:
            with app.test_request_context("/idle"):
                result: list[int] = app.ensure_sync(view)(n)
            return result

        return run

    runners = {
        "sync-1": sync_runner(one, False),
        "sync-20": sync_runner(many, True),
        "async-1": async_runner(one, False),
        "async-20": async_runner(many, True),
        "fast-1": async_runner(fast_one, False),
        "fast-20": async_runner(fast_many, True),
    }
    samples = interleave(runners, dict.fromkeys(runners, plan), IDLE_FLAVOURS)
    references: dict[str, str | None] = {"sync-1": None, "sync-20": "sync-1", "async-1": None, "async-20": "async-1"}
    references.update({"fast-1": None, "fast-20": "fast-1"})
    set_ratios(samples, references)
    return samples


# --------------------------------------------------------------- throughput

THROUGHPUT_FLAVOURS: dict[str, str] = {
    "ours-sync": "ours, sync view",
    "ours-async": "ours, async view",
    "ours-async-runner": "ours, async view, AsyncRunner",
    "ours-async-fast-runner": "ours with async_transport='aiohttp', async view, AsyncRunner",
    "authlib-flask": "Authlib Flask client, sync view",
}


def throughput(
    clients: Clients, upstream: Upstream, scheme: str, cfg: Config, threads: int = 8, log: Log | None = None
) -> dict[str, dict[str, Any]]:
    """A fixed number of requests from *threads* client threads against a threaded WSGI server."""
    keys = list(THROUGHPUT_FLAVOURS)
    per_round = max(threads, cfg.throughput_total // cfg.throughput_rounds)
    acc: dict[str, dict[str, Any]] = {k: {"wall_ns": 0, "latencies_ns": [], "errors": [], "conns": 0} for k in keys}
    with WSGIServer(clients.wsgi, name="bench-client-app") as server, LoadGenerator() as generator:
        for key in keys:  # warm-up
            generator.run(server.port, clients.server_path(key, scheme), threads, threads * 4)
        for round_no in range(cfg.throughput_rounds):
            shift = round_no % len(keys)
            for key in keys[shift:] + keys[:shift]:
                before = upstream.connections(scheme)
                result = generator.run(server.port, clients.server_path(key, scheme), threads, per_round)
                acc[key]["conns"] += upstream.connections(scheme) - before
                acc[key]["wall_ns"] += result["wall_ns"]
                acc[key]["latencies_ns"].extend(result["latencies_ns"])
                acc[key]["errors"].extend(result["errors"])
            if log:
                log(f"throughput round {round_no + 1}/{cfg.throughput_rounds}")
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        data = acc[key]
        requests = len(data["latencies_ns"])
        lat = sorted(x / 1000.0 for x in data["latencies_ns"])
        out[key] = {
            "label": THROUGHPUT_FLAVOURS[key],
            "requests": requests,
            "threads": threads,
            "req_per_s": requests / (data["wall_ns"] / 1e9) if data["wall_ns"] else 0.0,
            "median_us": percentile(lat, 50),
            "p10_us": percentile(lat, 10),
            "p90_us": percentile(lat, 90),
            "conn_per_100": 100.0 * data["conns"] / requests if requests else None,
            "errors": len(data["errors"]),
            "error_kinds": sorted(set(data["errors"]))[:5],
        }
    return out


# -------------------------------------------------------------------- dance

DANCE_FLAVOURS: dict[str, str] = {
    "ours-sync": "ours, sync views",
    "ours-async": "ours, async views",
    "authlib-flask": "Authlib Flask client, sync views",
}


def dance(cfg: Config, log: Log | None = None) -> dict[str, Sample] | str:
    """Cost of one full dance against a real provider: the public fake provider over HTTP.

    :class:`flask_oauth1_async.testing.FakeProvider` is oauthlib's provider
    endpoints at their default checks (``tls=False`` turns off only
    ``enforce_ssl``), served on 127.0.0.1 with connections kept alive.
    request token + authorize redirect (view 1), the browser's visit to the
    provider's authorize URL with ``user=alice`` (simulated with httpx), and
    the callback view that fetches the access token. Returns an explanation
    string instead when the provider's extra (oauthlib) is not installed.
    """
    try:
        from flask_oauth1_async.testing import FakeProvider

        provider = FakeProvider(tls=False)
    except ImportError as exc:
        return f"skipped: the fake provider needs the testing extra ({exc})"
    import warnings

    from flask import Flask, url_for

    from flask_oauth1_async import OAuth

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.flask_client import OAuth as AuthlibOAuth

    samples: dict[str, Sample]
    with provider, httpx.Client() as browser:
        settings = {k: v for k, v in provider.register_kwargs().items() if k != "client_kwargs"}
        app = Flask("bench_dance")
        app.secret_key = "bench-dance-secret"
        ours = OAuth(app)
        ours.register("prov", **settings)
        theirs = AuthlibOAuth(app)
        theirs.register("prov", **settings)

        @app.get("/ours-sync/login")
        def ours_sync_login() -> Any:
            return ours.prov.authorize_redirect_sync(url_for("ours_sync_cb", _external=True))

        @app.get("/ours-sync/cb")
        def ours_sync_cb() -> str:
            return str(ours.prov.authorize_access_token_sync()["screen_name"])

        @app.get("/ours-async/login")
        async def ours_async_login() -> Any:
            return await ours.prov.authorize_redirect(url_for("ours_async_cb", _external=True))

        @app.get("/ours-async/cb")
        async def ours_async_cb() -> str:
            return str((await ours.prov.authorize_access_token())["screen_name"])

        @app.get("/authlib-flask/login")
        def authlib_login() -> Any:
            return theirs.prov.authorize_redirect(url_for("authlib_cb", _external=True))

        @app.get("/authlib-flask/cb")
        def authlib_cb() -> str:
            return str(theirs.prov.authorize_access_token()["screen_name"])

        browser_ns: dict[str, list[int]] = {k: [] for k in DANCE_FLAVOURS}

        def runner(key: str) -> Runner:
            def run(n: int) -> list[int]:
                out = []
                for _ in range(n):
                    client = app.test_client()  # a fresh browser session per login
                    t0 = perf_counter_ns()
                    first = client.get(f"/{key}/login")
                    if first.status_code != 302:
                        raise RuntimeError(f"{key}: login answered {first.status_code}: {first.get_data(as_text=True)}")
                    location = first.headers["Location"]
                    b0 = perf_counter_ns()
                    consent = browser.get(location + ("&" if "?" in location else "?") + "user=alice")
                    b1 = perf_counter_ns()
                    if consent.status_code != 302:
                        raise RuntimeError(f"{key}: authorize answered {consent.status_code}: {consent.text[:200]}")
                    back = urlsplit(consent.headers["location"])
                    final = client.get(f"{back.path}?{back.query}")
                    t1 = perf_counter_ns()
                    if final.status_code != 200 or final.get_data(as_text=True) != "alice":
                        raise RuntimeError(f"{key}: callback answered {final.status_code}")
                    out.append(t1 - t0)
                    browser_ns[key].append(b1 - b0)
                return out

            return run

        runners = {key: runner(key) for key in DANCE_FLAVOURS}
        plans = dict.fromkeys(DANCE_FLAVOURS, cfg.dance)
        samples = interleave(runners, plans, DANCE_FLAVOURS)
        for key, sample in samples.items():
            measured = browser_ns[key][-sample.n :]
            sample.extra["browser_step_median_us"] = statistics.median(measured) / 1000.0 if measured else None
        ours.close()
    set_ratios(samples, {"ours-sync": None, "ours-async": "ours-sync", "authlib-flask": "ours-sync"})
    return samples


# ------------------------------------------------------------------ signing

SIGNERS: dict[str, str] = {
    "minimal": "minimal HMAC-SHA1 (flavour 1's Auth)",
    "ours": "ours: Signer.sign(httpx.Request)",
    "authlib": "authlib.oauth1.ClientAuth.sign",
    "oauthlib": "oauthlib.oauth1.Client.sign",
}
SIGN_URL = "https://api.example.com/1.1/statuses/home_timeline.json?count=20&include_entities=true"


def signing(cfg: Config) -> dict[str, Sample]:
    """One HMAC-SHA1 signature of the same GET (query parameters + token), by each signer."""
    from authlib.oauth1 import ClientAuth
    from oauthlib.oauth1 import Client as OAuthlibClient

    from flask_oauth1_async import Signer

    token, secret = TOKEN["oauth_token"], TOKEN["oauth_token_secret"]
    ours = Signer(CLIENT_ID, CLIENT_SECRET)
    request = httpx.Request("GET", SIGN_URL)
    theirs = ClientAuth(CLIENT_ID, CLIENT_SECRET, token=token, token_secret=secret)
    oauthlib_client = OAuthlibClient(
        CLIENT_ID, client_secret=CLIENT_SECRET, resource_owner_key=token, resource_owner_secret=secret
    )
    minimal = MinimalOAuth1(CLIENT_ID, CLIENT_SECRET, token, secret)
    url = httpx.URL(SIGN_URL)

    def timed(fn: Callable[[], Any]) -> Runner:
        def run(n: int) -> list[int]:
            out = [0] * n
            for i in range(n):
                t0 = perf_counter_ns()
                fn()
                out[i] = perf_counter_ns() - t0
            return out

        return run

    runners = {
        "minimal": timed(lambda: minimal.sign("GET", url)),
        "ours": timed(lambda: ours.sign(request, token=token, token_secret=secret)),
        "authlib": timed(lambda: theirs.sign("GET", SIGN_URL, {}, b"")),
        "oauthlib": timed(lambda: oauthlib_client.sign(SIGN_URL, http_method="GET")),
    }
    plans = {key: cfg.signing if key in ("minimal", "ours") else cfg.signing_slow for key in runners}
    samples = interleave(runners, plans, SIGNERS)
    assert request.headers["Authorization"].startswith("OAuth ")
    set_ratios(samples, {"minimal": None, "ours": "minimal", "authlib": "minimal", "oauthlib": "minimal"})
    return samples
