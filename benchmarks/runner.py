"""Command line and orchestration: ``python -m benchmarks [--quick] [--only ...]``."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from importlib import metadata
from typing import Any

from . import report

SECTIONS = (
    "signing",
    "a",
    "b",
    "asyncpath",
    "runnerpath",
    "profile",
    "idle",
    "fanout",
    "throughput",
    "server",
    "memory",
    "dance",
)
HERE = os.path.dirname(os.path.abspath(__file__))


def _log(message: str, _start: list[float] = []) -> None:  # noqa: B006 - a deliberate static
    if not _start:
        _start.append(time.monotonic())
    print(f"[bench {time.monotonic() - _start[0]:6.1f}s] {message}", file=sys.stderr, flush=True)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _importable(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _source() -> str:
    """The commit measured, and whether the package had uncommitted changes."""
    import subprocess

    root = os.path.dirname(HERE)
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "flask_oauth1_async"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"git {sha}" + (" + uncommitted changes in flask_oauth1_async/" if dirty else "")


def _environment() -> dict[str, str]:
    packages = ("flask_oauth1_async", "httpx", "httpcore", "flask", "werkzeug", "asgiref", "authlib", "requests")
    packages += ("urllib3", "starlette", "oauthlib", "psutil", "anyio", "sniffio", "aiohttp", "httpx-aiohttp")
    packages += ("gunicorn", "gevent")
    return {
        "flask_oauth1_async source": _source(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpu": f"{_cpu_model()} ({os.cpu_count()} logical CPUs)",
        "load average at start (1/5/15 min)": _loadavg(),
        "packages": ", ".join(f"{name} {_version(name)}" for name in packages),
        # httpcore 1.0 imports sniffio on every async lock setup: a failed import each time when it is missing
        "sniffio importable (httpcore's async backend detection)": "yes" if _importable("sniffio") else "no",
    }


def _dicts(samples: dict[str, Any]) -> dict[str, Any]:
    return {key: sample.as_dict() for key, sample in samples.items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from . import asyncpath, runnerpath
    from .flavours import SCHEMES, Clients
    from .memory import measure
    from .profiling import profile_ours
    from .scenarios import (
        Config,
        calibrate_upstream,
        dance,
        fanout,
        idle_pool_cost,
        many_calls_in_one_request,
        one_call_per_request,
        signing,
        throughput,
    )
    from .server_bench import WORKERS, real_server
    from .servers import make_tls
    from .upstream import Upstream

    cfg = Config.quick() if args.quick else Config.full()
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "mode": cfg.name,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "environment": _environment(),
            "config": {k: str(v) for k, v in vars(cfg).items()},
        }
    }
    results["loadavg"] = loads = {}

    def mark(section: str) -> None:
        loads[section] = _loadavg().split(" ")[0]

    tls = make_tls()
    tls.export()
    try:
        if "signing" in only:
            mark("signing")
            _log("signing alone")
            results["signing"] = _dicts(signing(cfg))
        with Upstream(tls.certfile, tls.keyfile, latency_ms=100.0) as upstream:
            _log(f"upstream pid {upstream.pid}: http {upstream.http_port}, https {upstream.https_port}")
            _log("calibration: bare socket round trips to the upstream")
            results["calibration"] = _dicts(calibrate_upstream(upstream))
            clients = Clients({scheme: upstream.base_url(scheme) for scheme in SCHEMES})
            asyncpath.register_remotes(clients)
            asyncpath.add_views(clients)
            try:
                if "a" in only:
                    mark("shape_a")
                    results["shape_a"] = {}
                    for scheme in SCHEMES:
                        mark(f"shape_a_{scheme}")
                        _log(f"(a) many calls in one request, {scheme}")
                        results["shape_a"][scheme] = _dicts(many_calls_in_one_request(clients, upstream, scheme, cfg))
                if "b" in only:
                    mark("shape_b")
                    results["shape_b"] = {}
                    for scheme in SCHEMES:
                        mark(f"shape_b_{scheme}")
                        _log(f"(b) one call per request, {scheme}")
                        results["shape_b"][scheme] = _dicts(one_call_per_request(clients, upstream, scheme, cfg))
                if "asyncpath" in only:
                    mark("asyncpath")
                    _log("async path, piece by piece (https)")
                    results["asyncpath"] = {
                        "in_view": _dicts(asyncpath.in_one_view(clients, "https", cfg.fast)),
                        "per_request": _dicts(asyncpath.per_request(clients, "https", cfg.per_request_fast)),
                    }
                if "runnerpath" in only:
                    mark("runnerpath")
                    _log("the runner's cost per view call, piece by piece")
                    results["runnerpath"] = _dicts(runnerpath.measure(cfg.fast))
                    _log("httpx's async transport with and without a sniffio to import (https)")
                    sniff = runnerpath.sniffio_effect(clients, "https", cfg.fast)
                    results["sniffio"] = sniff if isinstance(sniff, str) else _dicts(sniff)
                if "profile" in only:
                    mark("profile")
                    _log("profiles (https)")
                    results["profile"] = profile_ours(clients, "https", cfg.profile_calls)
                if "idle" in only:
                    mark("idle_pool")
                    _log("idle pool cost (https)")
                    results["idle_pool"] = _dicts(idle_pool_cost(clients, "https", cfg.idle))
                if "fanout" in only:
                    mark("fanout")
                    results["fanout"] = {}
                    for scheme in SCHEMES:
                        mark(f"fanout_{scheme}")
                        _log(f"fan-out ({scheme}, 100 ms)")
                        fan = fanout(clients, upstream, scheme, cfg)
                        results["fanout"][scheme] = {str(size): _dicts(samples) for size, samples in fan.items()}
                if "throughput" in only:
                    mark("throughput")
                    _log("throughput, 8 client threads (https)")
                    results["throughput_scheme"] = "https"
                    results["throughput"] = throughput(clients, upstream, "https", cfg, log=_log)
                if "server" in only:
                    mark("real_server")
                    results["real_server"] = {}
                    for worker in WORKERS:
                        mark(f"real_server_{worker}")
                        _log(f"real server: gunicorn, 2 workers, {worker} workers (https)")
                        results["real_server"].update(
                            real_server(upstream, cfg.server_total, cfg.server_rounds, log=_log, workers=(worker,))
                        )
                if "memory" in only:
                    mark("memory")
                    _log(f"memory: {cfg.memory_sync_calls} sync calls (fresh process, https)")
                    results["memory"] = {"sync": measure("sync", upstream.base_url("https"), cfg.memory_sync_calls)}
                    _log(f"memory: {cfg.memory_async_requests} async-view requests (fresh process, https)")
                    results["memory"]["async"] = measure("async", upstream.base_url("https"), cfg.memory_async_requests)
            finally:
                clients.close()
            _log("calibration again, at the end")
            results["calibration_end"] = _dicts(calibrate_upstream(upstream))
            sanity = (
                f"the upstream received {upstream.requests:,} requests; {upstream.unsigned} `/api` requests "
                "arrived without an OAuth Authorization header"
            )
            results["meta"]["sanity"] = sanity
        if "dance" in only:
            mark("dance")
            _log("dance against the real provider (http)")
            d = dance(cfg, log=_log)
            results["dance"] = d if isinstance(d, str) else _dicts(d)
    finally:
        tls.close()
    results["meta"]["duration_s"] = time.monotonic() - started
    results["meta"]["environment"]["load average at end (1/5/15 min)"] = _loadavg()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark flask_oauth1_async against raw httpx and Authlib (writes a Markdown report).",
    )
    parser.add_argument("--quick", action="store_true", help="fewer iterations (under ~2 minutes)")
    parser.add_argument("--only", help=f"comma-separated sections to run: {', '.join(SECTIONS)}")
    parser.add_argument(
        "--out", default=os.path.join(HERE, "results", "latest.md"), help="Markdown report path (default: %(default)s)"
    )
    parser.add_argument("--json", help="JSON results path (default: next to --out, .json; git-ignored)")
    args = parser.parse_args(argv)

    results = json.loads(json.dumps(run(args)))  # render exactly what is stored
    markdown = report.render_markdown(results)
    json_path = args.json or os.path.splitext(args.out)[0] + ".json"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(markdown)
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1, sort_keys=False)
        handle.write("\n")
    print(markdown)
    _log(f"wrote {args.out} and {json_path}")
    return 0
