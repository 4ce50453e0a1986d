"""Timing samples and the interleaving scheduler.

Every measurement is a list of per-call durations in nanoseconds taken with
:func:`time.perf_counter_ns`. :func:`interleave` runs the flavours of one
comparison in round-robin batches (the starting flavour rotates every round),
so that machine noise - other tenants of a shared host, CPU frequency changes -
hits all of them alike. Warm-up batches run first and are discarded.
"""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: A runner executes *n* calls of one flavour and returns their durations (ns).
Runner = Callable[[int], list[int]]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (0 <= q <= 100) of already sorted values."""
    if not sorted_values:
        return math.nan
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(sorted_values[lo])
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass
class Sample:
    """Summary of one flavour's measured calls (all times in microseconds)."""

    key: str
    label: str
    n: int
    median_us: float
    p10_us: float
    p90_us: float
    q1_us: float
    q3_us: float
    mean_us: float
    new_connections: int | None = None
    reference: str | None = None
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def conn_per_100(self) -> float | None:
        """New TCP connections per 100 calls, if counted."""
        if self.new_connections is None or not self.n:
            return None
        return 100.0 * self.new_connections / self.n

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["conn_per_100"] = self.conn_per_100
        return data


def summarize(
    key: str, label: str, durations_ns: Sequence[int], new_connections: int | None = None, **extra: Any
) -> Sample:
    """Build a :class:`Sample` from raw durations (ns)."""
    values = sorted(d / 1000.0 for d in durations_ns)
    return Sample(
        key=key,
        label=label,
        n=len(values),
        median_us=percentile(values, 50),
        p10_us=percentile(values, 10),
        p90_us=percentile(values, 90),
        q1_us=percentile(values, 25),
        q3_us=percentile(values, 75),
        mean_us=statistics.fmean(values) if values else math.nan,
        new_connections=new_connections,
        extra=dict(extra),
    )


def set_ratios(samples: dict[str, Sample], references: dict[str, str | None]) -> None:
    """Fill ``ratio`` (median / reference median) for every sample that has a reference.

    When both samples carry per-round batch medians (from :func:`interleave`),
    ``extra["paired_ratio"]`` is also set: the median over rounds of the ratio
    of the two batch medians of the same round. Batches of one round run back
    to back, so this estimate is less sensitive to slow drifts in machine load.
    """
    for key, sample in samples.items():
        ref_key = references.get(key)
        sample.reference = ref_key
        if ref_key is None or ref_key not in samples:
            sample.ratio = None
            continue
        ref = samples[ref_key].median_us
        sample.ratio = sample.median_us / ref if ref else None
        mine = sample.extra.get("round_medians_us") or []
        theirs = samples[ref_key].extra.get("round_medians_us") or []
        pairs = [a / b for a, b in zip(mine, theirs, strict=False) if b]
        if pairs:
            sample.extra["paired_ratio"] = statistics.median(pairs)


@dataclass
class Plan:
    """How many calls to make: ``rounds`` x ``batch`` after ``warmup`` calls."""

    rounds: int
    batch: int
    warmup: int

    @property
    def total(self) -> int:
        return self.rounds * self.batch


def interleave(
    runners: dict[str, Runner],
    plans: dict[str, Plan],
    labels: dict[str, str],
    connection_counter: Callable[[], int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Sample]:
    """Run every runner in round-robin batches and summarize each.

    ``connection_counter()`` (if given) returns the upstream's running count of
    accepted TCP connections; the difference across a flavour's measured
    batches is its number of new connections. Flavours with fewer rounds than
    others simply stop taking part once their rounds are done. The garbage
    collector stays enabled; ``gc.collect()`` runs before every batch, outside
    the timed region.
    """
    keys = list(runners)
    for key in keys:
        plan = plans[key]
        if plan.warmup:
            runners[key](plan.warmup)
    durations: dict[str, list[int]] = {k: [] for k in keys}
    round_medians: dict[str, list[float]] = {k: [] for k in keys}
    connections: dict[str, int] = dict.fromkeys(keys, 0)
    max_rounds = max(plans[k].rounds for k in keys)
    for round_no in range(max_rounds):
        shift = round_no % len(keys)
        order = keys[shift:] + keys[:shift]
        for key in order:
            plan = plans[key]
            if round_no >= plan.rounds:
                continue
            gc.collect()
            before = connection_counter() if connection_counter else 0
            batch = runners[key](plan.batch)
            durations[key].extend(batch)
            round_medians[key].append(statistics.median(batch) / 1000.0)
            if connection_counter:
                connections[key] += connection_counter() - before
        if progress:
            progress(f"round {round_no + 1}/{max_rounds}")
    return {
        k: summarize(
            k,
            labels[k],
            durations[k],
            connections[k] if connection_counter else None,
            round_medians_us=round_medians[k],
        )
        for k in keys
    }
