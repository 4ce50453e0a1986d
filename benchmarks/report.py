"""Render the results (a JSON-able dict) as the Markdown report.

``python -m benchmarks.report --json results.json --md out.md`` re-renders a
report from the JSON a run wrote (``latest.json`` is git-ignored: only the
Markdown report is committed). The docs page takes its headline tables from
the Markdown report at build time (:mod:`benchmarks.docs_snippet`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Row = Sequence[str]

#: Load-generator threads of the real-server run.
SERVER_THREADS = 8

#: Memory growth (last quarter minus first quarter) that still counts as flat.
MEMORY_FLAT_MIB = 2.0


# ---------------------------------------------------------------- formatting


def us(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def ms(value_us: float | None) -> str:
    if value_us is None:
        return "-"
    return f"{value_us / 1000.0:,.1f}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def conns(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def spread(row: dict[str, Any]) -> str:
    return f"{us(row['p10_us'])}-{us(row['p90_us'])}"


def iqr(row: dict[str, Any]) -> str:
    return f"{us(row['q1_us'])}-{us(row['q3_us'])}"


def _ref_label(row: dict[str, Any]) -> str:
    ref = row.get("reference")
    return f"{ratio(row.get('ratio'))} ({ref})" if ref else "-"


def _paired(row: dict[str, Any]) -> str:
    return ratio(row.get("extra", {}).get("paired_ratio")) if row.get("reference") else "-"


# ---------------------------------------------------------------- tables


def call_table(samples: dict[str, dict[str, Any]]) -> tuple[Row, list[Row]]:
    header = ("flavour", "n", "median us", "p10-p90 us", "IQR us", "new conns /100", "ratio (to)", "paired ratio")
    rows = [
        (
            s["label"],
            str(s["n"]),
            us(s["median_us"]),
            spread(s),
            iqr(s),
            conns(s.get("conn_per_100")),
            _ref_label(s),
            _paired(s),
        )
        for s in samples.values()
    ]
    return header, rows


def fanout_table(fanout: dict[str, dict[str, dict[str, Any]]]) -> tuple[Row, list[Row]]:
    header = ("N", "flavour", "reps", "median wall ms", "p10-p90 ms", "x single call", "new conns /100 calls")
    header += ("new conns per burst",)
    rows = []
    for size, samples in fanout.items():
        for s in samples.values():
            rows.append(
                (
                    str(size),
                    s["label"],
                    str(s["n"]),
                    ms(s["median_us"]),
                    f"{ms(s['p10_us'])}-{ms(s['p90_us'])}",
                    ratio(s.get("ratio")),
                    conns(s["extra"].get("conn_per_100_calls")),
                    conns(s["extra"].get("conn_per_burst")),
                )
            )
    return header, rows


def throughput_table(data: dict[str, dict[str, Any]]) -> tuple[Row, list[Row]]:
    header = ("flavour", "requests", "threads", "req/s", "median us", "p10-p90 us", "upstream conns /100", "errors")
    rows = [
        (
            d["label"],
            str(d["requests"]),
            str(d["threads"]),
            f"{d['req_per_s']:,.0f}",
            us(d["median_us"]),
            spread(d),
            conns(d.get("conn_per_100")),
            str(d["errors"]),
        )
        for d in data.values()
    ]
    return header, rows


def dance_table(samples: dict[str, dict[str, Any]]) -> tuple[Row, list[Row]]:
    header = ("flavour", "n", "median us", "p10-p90 us", "of which browser step us", "ratio (to)")
    rows = [
        (
            s["label"],
            str(s["n"]),
            us(s["median_us"]),
            spread(s),
            us(s["extra"].get("browser_step_median_us")),
            _ref_label(s),
        )
        for s in samples.values()
    ]
    return header, rows


def signing_table(samples: dict[str, dict[str, Any]]) -> tuple[Row, list[Row]]:
    header = ("signer", "n", "median us", "p10-p90 us", "IQR us", "ratio (to)", "paired ratio")
    rows = [
        (s["label"], str(s["n"]), us(s["median_us"]), spread(s), iqr(s), _ref_label(s), _paired(s))
        for s in samples.values()
    ]
    return header, rows


def memory_table(data: dict[str, dict[str, Any]]) -> tuple[Row, list[Row]]:
    header = (
        "run",
        "calls",
        "RSS after warm-up MiB",
        "first quarter MiB",
        "last quarter MiB",
        "growth MiB",
        "peak MiB",
        "VmHWM MiB",
        "time s",
    )
    labels = {"sync": "ours, sequential sync calls", "async": "ours, async-view requests (test_client)"}
    rows = [
        (
            labels.get(kind, kind),
            f"{d['calls']:,}",
            f"{d['start_mib']:.1f}",
            f"{d['first_quarter_mib']:.1f}",
            f"{d['last_quarter_mib']:.1f}",
            f"{d['growth_mib']:+.2f}",
            f"{d['peak_mib']:.1f}",
            f"{d['vmhwm_kib'] / 1024:.1f}" if d.get("vmhwm_kib") else "-",
            f"{d['elapsed_s']:.1f}",
        )
        for kind, d in data.items()
    ]
    return header, rows


def profile_table(rows: list[dict[str, Any]]) -> tuple[Row, list[Row]]:
    header = ("function", "calls/API call", "tottime us/API call", "cumtime us/API call")
    return header, [
        (
            r["function"],
            f"{r['calls_per_call']:.1f}",
            f"{r['tottime_us']:.1f}",
            f"{r['cumtime_us']:.1f}",
        )
        for r in rows
    ]


# ---------------------------------------------------------------- targets


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Evaluate the issue's targets. ``ok`` is None when the data is missing.

    Each target records the section whose load average it shows (``section``)
    and a ``kind`` that :func:`misses` uses to explain a miss.
    """
    out: list[dict[str, Any]] = []

    def add(
        name: str,
        value: float | None,
        limit: float,
        fmt: Callable[[float], str],
        higher_is_better: bool,
        paired: float | None = None,
    ) -> None:
        if value is None:
            out.append({"target": name, "measured": "not measured", "ok": None, "margin": "", "paired": "-"})
            return
        ok = value >= limit if higher_is_better else value <= limit
        margin = value / limit if limit else math.inf
        out.append(
            {
                "target": name,
                "measured": fmt(value),
                "ok": ok,
                "margin": f"{margin:.2f} of limit",
                "paired": fmt(paired) if paired is not None else "-",
                "value": value,
                "limit": limit,
            }
        )

    def paired(*path: str) -> float | None:
        value = _get(results, *path, "extra", "paired_ratio")
        return float(value) if value is not None else None

    def add_in(where: str, *args: Any, kind: str = "", **info: Any) -> None:
        """*where*: the section whose load average the row shows; *kind* and *info*: for :func:`misses`."""
        add(*args)
        out[-1].update(section=where, kind=kind, **info)

    # ---- (a) many calls in one request
    for scheme in ("http", "https"):
        add_in(
            f"shape_a_{scheme}",
            f"(a) sync call, ours-sync <= 1.10x raw httpx.Client, {scheme.upper()}",
            _get(results, "shape_a", scheme, "ours-sync", "ratio"),
            1.10,
            ratio,
            False,
            paired("shape_a", scheme, "ours-sync"),
            kind="a-pair",
            scheme=scheme,
            keys=("ours-sync", "raw-sync"),
        )
    for scheme in ("http", "https"):
        add_in(
            f"shape_a_{scheme}",
            f"(a) many awaited calls in one async view, ours-async <= 1.25x raw AsyncClient, {scheme.upper()}",
            _get(results, "shape_a", scheme, "ours-async", "ratio"),
            1.25,
            ratio,
            False,
            paired("shape_a", scheme, "ours-async"),
            kind="a-pair",
            scheme=scheme,
            keys=("ours-async", "raw-async"),
        )
    for scheme in ("http", "https"):
        add_in(
            f"shape_a_{scheme}",
            f"(a) many awaited calls, fast transport: ours-async-fast <= 1.4x raw sync client, {scheme.upper()}",
            _get(results, "shape_a", scheme, "ours-async-fast", "ratio"),
            1.4,
            ratio,
            False,
            paired("shape_a", scheme, "ours-async-fast"),
            kind="a-pair",
            scheme=scheme,
            keys=("ours-async-fast", "raw-sync"),
        )
    long_lived = (
        ("ours-async-runner", "raw-async-runner", "view run by AsyncRunner, httpx transport"),
        ("ours-async-fast-runner", "raw-async-fast-runner", "view run by AsyncRunner, aiohttp transport"),
        ("ours-async-loop", "raw-async", "one asyncio loop, no Flask runner, httpx transport"),
        ("ours-async-fast-loop", "raw-async-fast", "one asyncio loop, no Flask runner, aiohttp transport"),
    )
    for mine, raw, what in long_lived:
        for scheme in ("http", "https"):
            add_in(
                f"shape_a_{scheme}",
                f"(a) awaited call on a long-lived loop <= 1.1x a raw AsyncClient on that loop ({what}), "
                f"{scheme.upper()}",
                _get(results, "shape_a", scheme, mine, "ratio"),
                1.1,
                ratio,
                False,
                paired("shape_a", scheme, mine),
                kind="a-pair",
                scheme=scheme,
                keys=(mine, raw),
            )
    # ---- (b) one call per request
    runner_b = (
        ("ours-async-fast-runner", "raw-async-fast-runner", 1.1, "AsyncRunner, aiohttp transport"),
        ("ours-async-runner", "raw-async-runner", 1.65, "AsyncRunner, httpx transport"),
    )
    for mine, raw, limit, what in runner_b:
        for scheme in ("http", "https"):
            add_in(
                f"shape_b_{scheme}",
                f"(b) one call per async-view request, {what}: <= {limit:g}x a def-view request (ours-sync), "
                f"{scheme.upper()}",
                _get(results, "shape_b", scheme, mine, "ratio"),
                limit,
                ratio,
                False,
                paired("shape_b", scheme, mine),
                kind="b-request",
                scheme=scheme,
                keys=(mine, raw, "empty-async-runner"),
            )
    for key, limit, what in (("ours-async-fast", 2.2, "fast transport"), ("ours-async", 2.6, "plain httpx")):
        add_in(
            "shape_b_https",
            f"(b) one call per async-view request, Flask's runner (no AsyncRunner), {what}: <= {limit:g}x "
            "ours-sync, HTTPS",
            _get(results, "shape_b", "https", key, "ratio"),
            limit,
            ratio,
            False,
            paired("shape_b", "https", key),
            kind="b-request",
            scheme="https",
            # 2b is the raw httpx client behind the same bridge; there is no raw aiohttp row per request
            keys=(key, "raw-async-bg" if key == "ours-async" else None, "empty-async"),
        )
    for key in ("ours-sync", "ours-async", "ours-async-fast", "ours-async-runner", "ours-async-fast-runner"):
        add_in(
            "shape_b_https",
            f"(b) {key}: 0 new connections per 100 requests (< 2 allowed for noise), HTTPS",
            _get(results, "shape_b", "https", key, "conn_per_100"),
            2.0 - 1e-9,
            lambda v: f"{v:.2f} /100",
            False,
        )
    for theirs, mine, what in (("authlib-flask", "ours-sync", "sync"), ("authlib-starlette", "ours-async", "async")):
        a = _get(results, "shape_a", "https", theirs, "median_us")
        b = _get(results, "shape_a", "https", mine, "median_us")
        add_in(
            "shape_a_https",
            f"(a) vs Authlib, {what}: {theirs} / {mine} >= 10x, HTTPS",
            a / b if a and b else None,
            10.0,
            lambda v: f"{v:.1f}x faster",
            True,
        )
    # ---- fan-out
    for scheme in ("http", "https"):
        add_in(
            f"fanout_{scheme}",
            f"fan-out: 50 calls at 100 ms <= 1.5x one call, fast transport (ours-async-fast), {scheme.upper()}",
            _get(results, "fanout", scheme, "50", "ours-async-fast-gather", "ratio"),
            1.5,
            ratio,
            False,
            kind="fanout",
            scheme=scheme,
            keys=("ours-async-fast-gather", "raw-async-fast-runner-gather"),
        )
    for key, what in (("ours-async-fast-runner-gather", "aiohttp"), ("ours-async-runner-gather", "httpx")):
        for scheme in ("http", "https"):
            add_in(
                f"fanout_{scheme}",
                f"fan-out with AsyncRunner: 50 calls at 100 ms <= 1.3x one call, {what} transport ({key}), "
                f"{scheme.upper()}",
                _get(results, "fanout", scheme, "50", key, "ratio"),
                1.3,
                ratio,
                False,
                kind="fanout",
                scheme=scheme,
                keys=(key, "raw-async-fast-runner-gather" if what == "aiohttp" else "raw-async-runner-gather"),
            )
    add_in(
        "idle_pool",
        "idle pool: 20 idle pooled connections <= 1.2x one, fast transport, HTTPS",
        _get(results, "idle_pool", "fast-20", "ratio"),
        1.2,
        ratio,
        False,
    )

    # ---- gunicorn
    def rps(worker: str, key: str) -> float | None:
        value = _get(results, "real_server", worker, key, "req_per_s")
        return float(value) if value else None

    def over(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    server_rows = (
        ("sync", "ours-async", 0.5, "plain httpx, Flask's runner"),
        ("sync", "ours-async-fast", 0.5, "fast transport, Flask's runner"),
        ("sync", "ours-async-fast-runner", 0.9, "aiohttp transport, AsyncRunner"),
        ("sync", "ours-async-runner", 0.7, "httpx transport, AsyncRunner"),
        ("gevent", "ours-async-fast-runner", 0.9, "aiohttp transport, AsyncRunner"),
        ("gevent", "ours-async-runner", 0.9, "httpx transport, AsyncRunner"),
    )
    for worker, key, limit, what in server_rows:
        load = "50 concurrent requests on the 100 ms path" if worker == "gevent" else "8 concurrent requests"
        add_in(
            f"real_server_{worker}",
            f"gunicorn {worker} workers ({load}): async-view req/s ({what}) >= {limit:g}x def-view req/s",
            over(rps(worker, key), rps(worker, "ours-sync")),
            limit,
            ratio,
            True,
            kind="server",
            worker=worker,
            keys=(key, "ours-sync", key.replace("ours-", "raw-")),
        )
    add_in(
        "real_server_sync",
        "gunicorn sync workers: ours-sync req/s >= 0.95x raw httpx",
        over(rps("sync", "ours-sync"), rps("sync", "raw-sync")),
        0.95,
        ratio,
        True,
        kind="server",
        worker="sync",
        keys=("ours-sync", "raw-sync"),
    )
    add_in(
        "real_server_sync",
        "gunicorn sync workers: ours-sync req/s >= 20x Authlib's Flask client",
        over(rps("sync", "ours-sync"), rps("sync", "authlib-flask")),
        20.0,
        ratio,
        True,
        kind="server",
        worker="sync",
        keys=("ours-sync", "authlib-flask"),
    )
    add_in(
        "signing",
        "signing: ours <= 25 us per HMAC-SHA1 signature (median)",
        _get(results, "signing", "ours", "median_us"),
        25.0,
        lambda v: f"{v:.1f} us",
        False,
    )
    for kind in ("sync", "async"):
        add_in(
            "memory",
            f"memory flat: {kind} run growth <= {MEMORY_FLAT_MIB:g} MiB (last vs first quarter)",
            _get(results, "memory", kind, "growth_mib"),
            MEMORY_FLAT_MIB,
            lambda v: f"{v:+.2f} MiB",
            False,
        )
    return out


def _median(results: dict[str, Any], section: str, scheme: str, key: str | None) -> float | None:
    value = _get(results, section, scheme, key, "median_us") if key else None
    return float(value) if value is not None else None


def _signed(value: float) -> str:
    return f"{value:+,.0f} us" if abs(value) >= 100 else f"{value:+.1f} us"


def _explain_a(results: dict[str, Any], t: dict[str, Any]) -> list[str]:
    scheme, (mine, ref) = t["scheme"], t["keys"]
    a, b = _median(results, "shape_a", scheme, mine), _median(results, "shape_a", scheme, ref)
    if a is None or b is None:
        return []
    lines = [f"{mine} {us(a)} us per call, {ref} {us(b)} us: {_signed(a - b)} per call."]
    floor = A_FLOORS.get(mine)
    f = _median(results, "shape_a", scheme, floor)
    if floor and floor != ref and f is not None:
        lines.append(
            f"Made of: {floor} (the same client without our code, same loop/bridge) is {_signed(f - b)} "
            f"over {ref} (the HTTP library and the loop, not ours); our code on top of it {_signed(a - f)}."
        )
    elif floor == ref:
        where = "ours-sync" if mine == "ours-sync" else "ours-async-runner and raw-async-runner"
        lines.append(
            f"All of the difference is ours (same client kind, same loop or thread); the profiles {where} at "
            "the end show where it goes."
        )
    return lines


def _explain_b(results: dict[str, Any], t: dict[str, Any]) -> list[str]:
    scheme, (mine, raw, empty) = t["scheme"], t["keys"]

    def m(key: str | None) -> float | None:
        return _median(results, "shape_b", scheme, key)

    o_a, o_s, r_a, r_s, e_a, e_s = m(mine), m("ours-sync"), m(raw), m("raw-sync"), m(empty), m("empty-sync")
    if o_a is None or o_s is None or r_s is None or e_a is None or e_s is None:
        return []
    lines = [
        f"{mine} {us(o_a)} us per request vs ours-sync {us(o_s)} us: {_signed(o_a - o_s)}, made of "
        f"(differences of medians in the same run, telescoping to the total):",
        f"the empty async view ({empty} - empty def view): {_signed(e_a - e_s)}",
    ]
    if r_a is not None:
        lines.append(
            f"the HTTP client on that loop vs the pooled sync client, each without our code "
            f"(({raw} - {empty}) - (raw-sync - empty def view)): {_signed((r_a - e_a) - (r_s - e_s))}"
        )
        lines.append(
            f"our async path vs our sync path, each over its raw client "
            f"(({mine} - {raw}) - (ours-sync - raw-sync)): {_signed((o_a - r_a) - (o_s - r_s))}"
        )
        lines.append(
            f"floor: {raw} alone is {r_a / o_s:.2f}x ours-sync (limit {t['limit']:g}x): what this transport "
            "allows in this harness with no code of ours."
        )
    else:
        lines.append(f"the call, ours on the async path, over ours-sync's call: {_signed((o_a - e_a) - (o_s - e_s))}")
    return lines


def _explain_fanout(results: dict[str, Any], t: dict[str, Any]) -> list[str]:
    scheme, (mine, floor) = t["scheme"], t["keys"]
    out = []
    for key in (mine, floor):
        big = _get(results, "fanout", scheme, "50", key) or {}
        one = _get(results, "fanout", scheme, "1", key) or {}
        if not big or not one:
            continue
        added = (big["median_us"] - one["median_us"]) / 49
        out.append(
            f"{key}: 50 calls {ms(big['median_us'])} ms, one call {ms(one['median_us'])} ms "
            f"({ratio(big.get('ratio'))}), i.e. {us(added)} us of wall time per added call (one loop, one "
            f"thread: the calls' CPU time adds up); {conns(big['extra'].get('conn_per_burst'))} new "
            "connections per burst"
        )
    if out:
        out.append(
            "New connections per burst are opened during the burst (TLS handshakes on one loop, in line with "
            "the calls): the calibration line at the top gives their floor with bare asyncio."
        )
    return out


def _explain_server(results: dict[str, Any], t: dict[str, Any]) -> list[str]:
    worker = t["worker"]
    found = [(key, _get(results, "real_server", worker, key)) for key in t["keys"]]
    keys = [key for key, row in found if row]
    rows = [row for _, row in found if row]
    if len(rows) < 2 or keys[:2] != list(t["keys"][:2]):
        return []
    out = []
    for key, row in zip(keys, rows, strict=True):
        out.append(
            f"{key}: {row['req_per_s']:,.0f} req/s, worker CPU {us(row.get('worker_cpu_us'))} us per request, "
            f"upstream CPU {us(row.get('upstream_cpu_us'))} us per request, {conns(row.get('conn_per_100'))} "
            "new upstream connections per 100 requests"
        )
    a, b = rows[0].get("worker_cpu_us"), rows[1].get("worker_cpu_us")
    if a and b:
        out.append(
            f"worker CPU per request {keys[0]} / {keys[1]}: {a / b:.2f}x; req/s ratio: "
            f"{rows[0]['req_per_s'] / rows[1]['req_per_s']:.2f}x (the workers, the upstream and the load "
            "generator share 2 cores, so req/s follows CPU per request)"
        )
    if len(rows) > 2 and rows[1]["req_per_s"]:
        out.append(
            f"floor: {keys[2]} (the same transport on the same loop, no code of ours) serves "
            f"{rows[2]['req_per_s'] / rows[1]['req_per_s']:.2f}x ours-sync's req/s"
        )
    return out


#: shape (a): the raw client on the same loop (or bridge) as each of our flavours.
A_FLOORS = {
    "ours-sync": "raw-sync",
    "ours-async": "raw-async-bg",
    "ours-async-fast": "raw-async-fast",
    "ours-async-runner": "raw-async-runner",
    "ours-async-fast-runner": "raw-async-fast-runner",
    "ours-async-loop": "raw-async",
    "ours-async-fast-loop": "raw-async-fast",
}

_EXPLAIN = {"a-pair": _explain_a, "b-request": _explain_b, "fanout": _explain_fanout, "server": _explain_server}


def misses(results: dict[str, Any]) -> list[str]:
    """Markdown lines: every missed target with what it is made of, from figures of the same run."""
    out: list[str] = []
    for t in targets(results):
        if t["ok"] is not False:
            continue
        out.append(f"- **{t['target']}**: {t['measured']} (load {_load(results, t.get('section'))})")
        explain = _EXPLAIN.get(t.get("kind", ""))
        out += [f"  - {line}" for line in (explain(results, t) if explain else [])]
    return out


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def targets_table(results: dict[str, Any]) -> tuple[Row, list[Row]]:
    header = ("target", "measured", "verdict", "measured / limit", "paired ratio (info)", "load avg at section start")
    return header, [
        (t["target"], t["measured"], _verdict(t["ok"]), t["margin"], t["paired"], _load(results, t.get("section")))
        for t in targets(results)
    ]


def _load(results: dict[str, Any], section: str | None) -> str:
    """The 1-minute load average at the start of *section* (or of the section it is part of)."""
    loads = results.get("loadavg") or {}
    while section:
        if section in loads:
            return str(loads[section])
        section = section.rpartition("_")[0]
    return "-"


def server_table(data: dict[str, dict[str, dict[str, Any]]]) -> tuple[Row, list[Row]]:
    header = ("workers", "flavour", "concurrency", "requests", "req/s", "x ours-sync", "p50 us", "p99 us")
    header += ("worker CPU us/req", "upstream CPU us/req", "upstream conns /100", "errors")
    rows = []
    for worker, flavours in data.items():
        base = (flavours.get("ours-sync") or {}).get("req_per_s")
        for d in flavours.values():
            rows.append(
                (
                    worker,
                    d["label"],
                    str(d["threads"]),
                    str(d["requests"]),
                    f"{d['req_per_s']:,.0f}",
                    ratio(d["req_per_s"] / base) if base else "-",
                    us(d["p50_us"]),
                    us(d["p99_us"]),
                    us(d.get("worker_cpu_us")),
                    us(d.get("upstream_cpu_us")),
                    conns(d.get("conn_per_100")),
                    str(d["errors"]) + (f" ({', '.join(d['error_kinds'])})" if d["errors"] else ""),
                )
            )
    return header, rows


# ---------------------------------------------------------------- markdown


def md_table(header: Row, rows: Iterable[Row]) -> str:
    def clean(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(clean(c) for c in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


METHOD = [
    "Everything runs in one process run on 127.0.0.1: the flavours are measured side by side, so the "
    "figures are ratios on the same machine at the same moment. Absolute numbers depend on the host.",
    "Upstream: an asyncio HTTP/1.1 server with hand-written parsing in its own process (keep-alive, "
    "TCP_NODELAY, plain HTTP and HTTPS with trustme certificates, `/slow` adds 100 ms without blocking). "
    "It counts accepted TCP connections (the *new conns* columns) and answers a small JSON body.",
    "TLS: every client uses its library's default verification; the CA bundle is certifi's plus the "
    "test CA, exported as `SSL_CERT_FILE` / `REQUESTS_CA_BUNDLE`, so a library that builds a client per "
    "call loads a production-sized bundle per call, as it would in production.",
    "Timing: `time.perf_counter_ns` around each call (or request, or repetition); warm-up calls first, "
    "then round-robin batches of all flavours of one comparison (the first flavour rotates each round). "
    "The garbage collector stays enabled; `gc.collect()` runs before every batch, outside the timed "
    "region. Spread is p10-p90 and the interquartile range (IQR). Ratios are ratios of medians; "
    "verdicts use them. The *paired ratio* is the median over rounds of the ratio of the two flavours' "
    "batch medians in the same round (batches of a round run back to back), a check that is less "
    "sensitive to load from other tenants of a shared host.",
    "Shape (a): many calls inside one Flask request: `app.test_request_context()` for sync flavours, one "
    "`async def` view body run through `app.ensure_sync` (asgiref, as Flask does) for async flavours; "
    "flavour 2 runs on one long-lived loop of the main thread. 2b is the same kind of client on a "
    "background loop thread, awaited from the view through `run_coroutine_threadsafe` + `wrap_future` "
    "(the textbook bridge, hand-rolled; ours uses an equivalent, leaner `call_soon_threadsafe` bridge: "
    "2b vs 2 is the cost of a bridge, 6 vs 2b is our code and bridge); 2c awaits "
    "flavour 1's pooled sync client through `asyncio.to_thread`.",
    "Shape (b): one call per request, many requests, driven through `app.test_client()` (the WSGI "
    "overhead is identical for all flavours; empty views show it). Async views get Flask's new event "
    "loop per request, so flavour 2 appears there as 2b: a pooled AsyncClient on a background loop thread "
    "(hand-rolled, the same design as ours). 2c awaits flavour 1's pooled sync client through "
    "`asyncio.to_thread`, an alternative design. Async rows are compared with ours-sync.",
    "Runner rows (keys ending in `-runner`, labels saying *AsyncRunner*): the same views in a second "
    "Flask app of the same process with `flask_oauth1_async.runner.AsyncRunner(app)` and the same "
    "registry (so its own bindings and pools). 2r / 2fr are a raw AsyncClient (httpx's transport / "
    "httpx-aiohttp's) created on the loop the runner ran the view on and kept for that loop: the floor of "
    "an awaited call there. 6l / 6fl are ours awaited on flavour 2's / 2f's own long-lived loop "
    "(`run_until_complete` inside a Flask request context, no Flask runner at all: the loop is adopted "
    "as a home). In shape (a) each of our long-lived-loop rows is compared with the raw client on the "
    "same loop; in shape (b) every async row is compared with ours-sync, a `def`-view request.",
    "Fan-out: N calls to the 100 ms path inside one async view with `asyncio.gather`, vs the same N "
    "sequentially in a sync view; wall time is measured inside the view. Each timed burst follows an "
    "untimed burst of the same flavour (a warm pool: what a burst leaves behind, not what is left after "
    "the other flavours' turns, which take longer than the 5 s keep-alive expiry); new connections are "
    "counted over the timed bursts only.",
    "Throughput: a separate load-generator process with 8 threads sends a fixed number of requests to "
    "a werkzeug threaded server (`make_server(threaded=True)`, HTTP/1.1 handler; werkzeug closes every "
    "connection) running the client app, whose view makes one signed call over HTTPS.",
    "Dance: request token + authorize redirect (view 1), the browser's visit to the provider's "
    "authorize URL with `user=alice` (httpx, identical for all), and the callback view fetching the "
    "access token; against the public fake provider `flask_oauth1_async.testing.FakeProvider` (oauthlib's "
    "provider endpoints at their default checks) over HTTP, on its keep-alive threaded server.",
    "Fast transport: flavours marked *fast* (`f`) use `client_kwargs={'async_transport': 'aiohttp'}` "
    "(the `aiohttp` extra, httpx-aiohttp's transport on aiohttp's connection pool); 2f is a raw "
    "AsyncClient with that transport on a long-lived loop. HTTP/2 rows use `http2=True` (needs `h2`); the "
    "upstream offers `h2` over ALPN when `h2` is installed, so those rows run on HTTP/2 (fan-out of N "
    "calls is N streams on one connection).",
    "Load: every section records the 1-minute load average at its start (the targets table shows it); "
    "on this 2-core host other tenants run too, and a figure taken at a load above 2 is only indicative.",
    "Memory: fresh processes make 10,000 sequential sync calls / 1,000 async-view requests; RSS is "
    "sampled 100 times; growth = mean of the last quarter minus mean of the first quarter.",
]


def render_markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    out: list[str] = ["# Benchmarks: flask_oauth1_async vs raw httpx and Authlib", ""]
    out.append(
        f"Generated {meta['date']} by `nox -s bench{' -- --quick' if meta['mode'] == 'quick' else ''}` "
        f"({meta['mode']} run, {meta.get('duration_s', 0):.0f} s). Times in microseconds unless stated."
    )
    out += ["", "## Environment", ""]
    env_rows = [(k, str(v)) for k, v in meta["environment"].items()]
    out.append(md_table(("what", "value"), env_rows))
    out += ["", "## Method", ""]
    out += [f"- {line}" for line in METHOD]
    sanity = meta.get("sanity")
    if sanity:
        out.append(f"- Sanity: {sanity}")
    for name, when in (("calibration", "at the start"), ("calibration_end", "at the end")):
        calibration = results.get(name)
        if not calibration:
            continue
        parts = [f"{s['label']}: median {us(s['median_us'])} us (p10-p90 {spread(s)})" for s in calibration.values()]
        out.append(
            f"- Upstream calibration {when} (its own cost, with bare sockets; keep-alive round trips are far "
            "below every flavour, a burst of fresh connections is the floor for a cold pool): " + "; ".join(parts) + "."
        )
    out += ["", "## Targets", "", md_table(*targets_table(results))]
    missed = misses(results)
    if missed:
        out += [
            "",
            "## Misses, and what they are made of",
            "",
            "Each missed target, taken apart with figures of this same run (medians; the sections below have "
            "the spreads). The runner's own cost is in *The runner, piece by piece*; where our code's time "
            "goes is in the profiles at the end.",
            "",
            *missed,
        ]

    for section, title in (
        ("shape_a", "(a) Many calls in one request"),
        ("shape_b", "(b) One call per request (app.test_client)"),
    ):
        data = results.get(section)
        if not data:
            continue
        for scheme, samples in data.items():
            out += ["", f"## {title} - {scheme.upper()}", "", md_table(*call_table(samples))]

    path = results.get("asyncpath")
    if path:
        out += [
            "",
            "## Async path, piece by piece (HTTPS)",
            "",
            "Inside one async view (Flask's runner: `app.ensure_sync`), each step on its own; ratios are to "
            "our whole awaited call:",
            "",
            md_table(*call_table(path["in_view"])),
            "",
            "One call per async-view request (`app.test_client()`); the token is looked up once per request, "
            "so *fetch* minus *explicit* is the cost of the lookup per request:",
            "",
            md_table(*call_table(path["per_request"])),
        ]
    if results.get("runnerpath"):
        out += [
            "",
            "## The runner, piece by piece",
            "",
            "What an async view costs with `AsyncRunner` (and, for scale, with Flask's runner), as whole empty "
            "requests and as the runner's pieces (no HTTP call), interleaved. In a request: *def view running "
            "an empty coroutine with run_until_complete* minus *empty def view* is bare asyncio's cost; "
            "*... with AsyncRunner.run* minus that is the runner's own code; *empty async view, AsyncRunner* "
            "minus that is Flask's handling of an `async def` view. Pieces timed alone (below them) cost "
            "less than in a request (warm caches) and need not add up.",
            "",
            md_table(*call_table(results["runnerpath"])),
        ]
    sniff = results.get("sniffio")
    if isinstance(sniff, str):
        out += ["", "## httpx's async transport and sniffio", "", sniff]
    elif sniff:
        calls = (sniff.get("raw") or {}).get("extra", {}).get("imports_per_call")
        ours_calls = (sniff.get("ours") or {}).get("extra", {}).get("imports_per_call")
        out += [
            "",
            "## httpx's async transport and sniffio (HTTPS)",
            "",
            "httpcore 1.0 runs `import sniffio` in `current_async_library()` on every async lock, semaphore "
            "and event setup; anyio no longer depends on sniffio, and it is not installed here, so each of "
            f"those imports fails after searching `sys.path`: {calls if calls is not None else '-'} per raw "
            f"call, {ours_calls if ours_calls is not None else '-'} per call of ours (counted). The *stub* "
            "rows put a stand-in `sniffio` module (answering `asyncio`, as sniffio does on an asyncio loop) "
            "in `sys.modules` during their own batches only. The first rows are calls in one view run by "
            "AsyncRunner; the *request* rows are one call per request as in shape (b), compared with a "
            "`def`-view request.",
            "",
            md_table(*call_table(sniff)),
        ]
    if results.get("idle_pool"):
        out += [
            "",
            "## Cost of idle pooled connections (HTTPS, sequential calls)",
            "",
            "Sequential calls through a pool with one connection, and through another remote's pool right "
            "after a burst of 20 concurrent calls left 20 idle keep-alive connections in it (httpx keeps up "
            "to 20, for 5 s; the burst is untimed and repeated before each batch). Batches are interleaved.",
            "",
            md_table(*call_table(results["idle_pool"])),
        ]
    for scheme, fan in (results.get("fanout") or {}).items():
        out += [
            "",
            f"## Fan-out - {scheme.upper()} (upstream latency 100 ms)",
            "",
            md_table(*fanout_table(fan)),
        ]
    if results.get("throughput"):
        out += [
            "",
            f"## Throughput under concurrency ({results.get('throughput_scheme', 'https').upper()})",
            "",
            md_table(*throughput_table(results["throughput"])),
        ]
    if results.get("real_server"):
        out += [
            "",
            "## Real server (gunicorn)",
            "",
            "2 workers. Sync workers and gthread workers (4 threads each), `--preload`: the load generator "
            f"sends a fixed number of requests from {SERVER_THREADS} threads per flavour and round, one signed "
            "HTTPS call per request to the fast upstream; Authlib gets a tenth of the requests. Gevent "
            "workers (`-k gevent --worker-connections 200`, no `--preload`: the app is imported after the "
            "worker patched the standard library): 50 concurrent requests, each one signed HTTPS call to "
            "the upstream's 100 ms path, three times as many requests. Rounds rotate the flavours. "
            "*AsyncRunner* rows are the same views in a second Flask app of the same process with "
            "`AsyncRunner(app)`, mounted under `/r` (werkzeug's `DispatcherMiddleware`, in front of every "
            "flavour). p50/p99 include queueing in gunicorn's backlog. CPU per request: user + system time "
            "of the gunicorn workers (and of the upstream process) over a flavour's rounds (psutil), divided "
            "by its requests.",
            "",
            md_table(*server_table(results["real_server"])),
        ]
    dance = results.get("dance")
    if isinstance(dance, str):
        out += ["", "## Cost of one dance", "", dance]
    elif dance:
        out += ["", "## Cost of one dance (real provider, HTTP)", "", md_table(*dance_table(dance))]
    if results.get("signing"):
        out += ["", "## Signing alone (HMAC-SHA1, same inputs)", "", md_table(*signing_table(results["signing"]))]
    if results.get("memory"):
        out += ["", "## Memory (fresh process each, HTTPS)", "", md_table(*memory_table(results["memory"]))]
    prof = results.get("profile")
    if prof:
        out += ["", f"## Profiles (cProfile, shape (a), {prof['scheme'].upper()}, {prof['sync']['calls']} calls)", ""]
        out.append(
            "Only functions of our package and of httpx/httpcore are listed; times are per API call and "
            "include cProfile's own overhead (roughly 2x). The async profile merges the view's loop thread "
            "and our background loop thread; cProfile counts every resumption of a coroutine as a call, so "
            "for coroutines the calls column is inflated and cumulative times are only indicative. "
            "ours-async-runner is our awaited call in a view run by AsyncRunner (one thread: the loop and "
            "the client live in the request thread), raw-async-runner a raw AsyncClient on that same loop "
            "(with the minimal signer of flavour 1, which is not in our package: it shows under *other*)."
        )
        for kind in ("sync", "async", "async-runner", "raw-async-runner"):
            p = prof.get(kind)
            if not p:
                continue
            share = p["share"]
            name = kind if kind.startswith("raw") else f"ours-{kind}"
            out += [
                "",
                f"### {name}: {p['total_us_per_call']:.0f} us profiled per call; own-time share: "
                f"ours {share['ours']:.0%}, httpx+httpcore {share['httpx']:.0%}, "
                f"asyncio+anyio {share.get('loop', 0.0):.0%}, "
                f"waiting (poll, locks, socket/TLS reads) {share['wait']:.0%}, other {share['other']:.0%}",
                "",
                "By cumulative time:",
                "",
                md_table(*profile_table(p["by_cumulative"])),
                "",
                "By own time (tottime):",
                "",
                md_table(*profile_table(p["by_tottime"])),
            ]
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="Re-render the benchmark report from its JSON results.")
    parser.add_argument("--json", default=os.path.join(here, "results", "latest.json"))
    parser.add_argument("--md", help="write the Markdown report here")
    args = parser.parse_args(argv)
    with open(args.json, encoding="utf-8") as handle:
        results = json.load(handle)
    if args.md:
        with open(args.md, "w", encoding="utf-8") as handle:
            handle.write(render_markdown(results))
    if not args.md:
        print(render_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
