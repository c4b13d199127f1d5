"""The printed result: machine facts, then one Markdown table of every figure, its target
and PASS/MISS (rows without a target are context for the rows with one)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from tests.bench.close_lag import LagFigures
from tests.bench.colyseus import PeerFigures
from tests.bench.memory import MemoryFigures
from tests.bench.memstore import MemoryStoreFigures
from tests.bench.stats import Summary
from tests.bench.streams import PresenceFigures, StormFigures, StreamsFigures
from tests.bench.throughput import RpcFigures, TargetFigures

BASELINE, GO = "baseline", "Go limit"
MEMORY, REDIS = "sessiond on memory", "sessiond on Redis"
SESSIOND_TARGETS = (MEMORY, REDIS)
# Targets of issue 12 (unary speed and memory); the req/s ratios are per method (workload.RPCS).
P99_MAX_RATIO = 2.0
MEMORY_STORE_MAX_BYTES = 4096
# Targets of the "Redis hot store" issue.
CLOSE_LAG_P99_MAX_MS = 50.0
IDLE_SESSION_MAX_BYTES = 2048
# Targets of "The live path at scale".
FANOUT_P99_MAX_MS = 250.0
FANOUT_TARGET_STREAMS = 20_000
STREAM_RSS_MAX_RATIO = 1.25
PRESENCE_TARGET_STREAMS = 20_000  # the level: with player ids at most 10% more p99 and CPU
PRESENCE_MAX_RATIO = 1.10


@dataclass(frozen=True, slots=True)
class Row:
    figure: str
    measured: str
    target: str = ""
    passed: bool | None = None

    @property
    def result(self) -> str:
        return "" if self.passed is None else "PASS" if self.passed else "MISS"


def throughput_rows(figures: RpcFigures, min_ratio: float) -> list[Row]:
    """Per sessiond target: req/s over the baseline's (>= ``min_ratio``) and p99 over the
    baseline's (<= P99_MAX_RATIO); then the memory store against Redis, the Go limit, CPU."""
    method, base = figures.method, figures.targets[BASELINE]
    rows: list[Row] = []
    if figures.refused:
        shares = ", ".join(f"{100 * share:.0f}%" for share in figures.refused)
        rows.append(
            Row(
                f"{method}: rounds refused (baseline under {100 * figures.min_baseline_cpu:.0f}% of its core)",
                f"{len(figures.refused)} (baseline CPU {shares}); {len(base.round_rps)} round(s) counted",
            )
        )
    if not base.round_rps:
        return [*rows, Row(f"{method} throughput", "no round counted: the machine is too busy", "", False)]
    base_p99 = base.result.summary().p99
    shares = ", ".join(f"{100 * share:.0f}%" for share in figures.baseline_cpu)
    rows.append(Row(f"{method}: the baseline's CPU in the rounds counted", shares))
    for name in SESSIOND_TARGETS:
        if name not in figures.targets:
            continue
        mine = figures.targets[name]
        ratio = figures.ratio(name, BASELINE)
        rounds = figures.round_ratios(name, BASELINE)
        spread = f" (rounds {min(rounds):.2f}-{max(rounds):.2f})" if len(rounds) > 1 else ""
        p99_ratio = mine.result.summary().p99 / base_p99 if base_p99 else math.inf
        by_cpu = _cpu_per_call(base) / _cpu_per_call(mine) if _cpu_per_call(mine) else 0.0
        rows += [
            Row(
                f"{method} throughput, {name} / baseline",
                f"{mine.result.rps:,.0f} / {base.result.rps:,.0f} req/s = **{ratio:.2f}x**{spread}; "
                f"by CPU per call {by_cpu:.2f}x",
                f">= {min_ratio}x",
                ratio >= min_ratio,
            ),
            Row(
                f"{method} latency p50 / p99, {name} (baseline)",
                f"{_ms(mine.result.summary())} ({_ms(base.result.summary())}); p99 **{p99_ratio:.2f}x**",
                f"p99 <= {P99_MAX_RATIO:g}x",
                p99_ratio <= P99_MAX_RATIO,
            ),
        ]
    if MEMORY in figures.targets and REDIS in figures.targets:
        ratio = figures.ratio(MEMORY, REDIS)
        rows.append(Row(f"{method} throughput, memory store / Redis store", f"{ratio:.2f}x", ">= 1x", ratio >= 1.0))
    if GO in figures.targets:
        go = figures.targets[GO]
        rows.append(
            Row(
                f"{method}, {GO} (canned bytes, grpc-go)",
                f"{go.result.rps:,.0f} req/s = {figures.ratio(GO, BASELINE):.2f}x the baseline; "
                f"{_ms(go.result.summary())}",
            )
        )
    cpu = ", ".join(
        f"{name}{'' if meter == 'server' else f' ({meter})'} {target.cpu_percent(meter):.0f}% "
        f"({_per_call_us(target.cpu[meter], target.result.ok)} us/call)"
        for name, target in figures.targets.items()
        for meter in target.cpu
    )
    rows.append(Row(f"{method} CPU while measured (100% = one CPU; CPU time per OK call)", cpu))
    for name, target in figures.targets.items():
        if target.result.errors:
            failed = target.result
            detail = f"{failed.errors}: {failed.first_error[:100]}"
            rows.append(Row(f"{method} errors at {name}", detail, "0", False))
    return rows


def lag_rows(figures: LagFigures) -> list[Row]:
    s = figures.settings
    label = f"Close lag, {s.windows:,} windows x {s.per_session} watchers, {'with' if s.ticks else 'no'} ticks"
    got = figures.delivery_ms.count
    complete = got == figures.expected and figures.errors == 0
    rounds = figures.round_p99_ms
    per_round = f" (p99 by round: {', '.join(f'{x:,.0f}' for x in rounds)})" if len(rounds) > 1 else ""
    return [
        Row(
            f"{label}: receive - deadline",
            f"p50 {figures.delivery_ms.p50:,.0f} / **p99 {figures.delivery_ms.p99:,.0f}** / "
            f"max {figures.delivery_ms.max:,.0f} ms{per_round}; {got:,} of {figures.expected:,} turn_resolved",
            f"p99 <= {CLOSE_LAG_P99_MAX_MS:.0f} ms, all received",
            complete and figures.delivery_ms.p99 <= CLOSE_LAG_P99_MAX_MS,
        ),
        Row(
            f"{label}: resolve_time - deadline (the server's own part)",
            f"p50 {figures.resolve_ms.p50:,.0f} / p99 {figures.resolve_ms.p99:,.0f} / "
            f"max {figures.resolve_ms.max:,.0f} ms",
        ),
        Row(
            f"{label}: context",
            f"{s.watchers:,} streams in {s.procs} client processes connected in {figures.connect_seconds:.1f} s; "
            f"deadlines over {figures.deadline_spread:.1f} s (paced for {s.spread:g} s), {s.rounds} round(s); "
            f"sessiond CPU {figures.server_cpu_percent:.0f}%, "
            f"busiest client process {figures.client_cpu_percent_max:.0f}%"
            + (f"; {figures.errors} watch errors: {figures.first_error[:80]}" if figures.errors else ""),
        ),
    ]


def presence_rows(figures: PresenceFigures) -> list[Row]:
    """Streams with player ids against the same streams without, round by round (each
    variant on a fresh sessiond); the figure is the median of the rounds' ratios."""
    pairs = list(zip(figures.without_ids, figures.with_ids, strict=True))
    label = f"Presence, {pairs[0][1].streams:,} streams with player ids / without"
    if any(not p.fanout_ms or not p.fanout_ms.count or not n.fanout_ms or not n.fanout_ms.count for p, n in pairs):
        return [Row(f"{label}: fan-out", "not measured (no stream received the change in a round)", "", False)]
    p99s = [n.fanout_ms.p99 / max(p.fanout_ms.p99, 1e-9) for p, n in pairs]  # type: ignore[union-attr]
    cpus = [n.server_cpu_percent / max(p.server_cpu_percent, 1e-9) for p, n in pairs]
    p99, cpu = statistics.median(p99s), statistics.median(cpus)
    complete = all(n.fanout_ms.count == n.streams and p.fanout_ms.count == p.streams for p, n in pairs)  # type: ignore[union-attr]
    rounds = "; ".join(
        f"p99 {n.fanout_ms.p99:,.0f} / {p.fanout_ms.p99:,.0f} ms, CPU {n.server_cpu_percent:.0f} / "  # type: ignore[union-attr]
        f"{p.server_cpu_percent:.0f}%"
        for p, n in pairs
    )
    errors = sum(n.errors + p.errors for p, n in pairs)
    target = pairs[0][1].streams >= PRESENCE_TARGET_STREAMS
    return [
        Row(
            f"{label}: fan-out p99 and sessiond CPU, median of {len(pairs)} round(s)",
            f"p99 **{p99:.2f}x** ({_spread(p99s)}); CPU **{cpu:.2f}x** ({_spread(cpus)}); rounds: {rounds}; "
            f"{errors} errors",
            f"each <= {PRESENCE_MAX_RATIO}x, all received" if target else "",
            complete and p99 <= PRESENCE_MAX_RATIO and cpu <= PRESENCE_MAX_RATIO if target else None,
        )
    ]


def _spread(ratios: list[float]) -> str:
    return f"{min(ratios):.2f}-{max(ratios):.2f}x" if len(ratios) > 1 else "one round"


def streams_rows(figures: StreamsFigures, baseline: StreamsFigures) -> list[Row]:
    """One level of the ramp on one sessiond, against the no-op server at the same level."""
    label = f"Streams ramp, {figures.streams:,} streams, {figures.label}"
    rows = [
        Row(
            f"{label}: opened",
            f"{figures.opened:,} in {figures.connect_seconds:.1f} s; {figures.errors} errors"
            + (f" ({figures.first_error[:80]})" if figures.first_error else ""),
            "all",
            figures.opened == figures.streams and figures.errors == 0,
        ),
    ]
    if figures.fanout_ms is not None:
        has_target = figures.streams >= FANOUT_TARGET_STREAMS
        complete = figures.fanout_ms.count == figures.streams
        rows.append(
            Row(
                f"{label}: fan-out, receive - commit of one state change per session",
                f"p50 {figures.fanout_ms.p50:,.0f} / **p99 {figures.fanout_ms.p99:,.0f}** / "
                f"max {figures.fanout_ms.max:,.0f} ms; {figures.fanout_ms.count:,} received; "
                f"sessiond CPU {figures.server_cpu_percent:.0f}%",
                f"p99 <= {FANOUT_P99_MAX_MS:.0f} ms, all received" if has_target else "",
                complete and figures.fanout_ms.p99 <= FANOUT_P99_MAX_MS if has_target else None,
            )
        )
    ratio = figures.rss_per_stream / baseline.rss_per_stream if baseline.rss_per_stream > 0 else math.inf
    rows.append(
        Row(
            f"{label}: server RSS per stream / the no-op server's",
            f"{figures.rss_per_stream / 1024:,.1f} / {baseline.rss_per_stream / 1024:,.1f} KiB = **{ratio:.2f}x**",
            f"<= {STREAM_RSS_MAX_RATIO}x",
            ratio <= STREAM_RSS_MAX_RATIO,
        )
    )
    redis = f"; Redis connections (CLIENT LIST): {figures.redis_clients}" if figures.redis_clients is not None else ""
    rows.append(
        Row(
            f"{label}: GetSession while open, p50 / p99 (no-op)",
            f"{_ms(figures.get_session_ms)} ({_ms(baseline.get_session_ms)}){redis}",
        )
    )
    return rows


def storm_rows(figures: StormFigures) -> list[Row]:
    return [
        Row(
            f"Storm: {figures.streams:,} streams opened at once, memory store",
            f"{figures.opened:,} opened, {figures.failed} failed, {figures.hung} hung"
            + (f" ({figures.first_error[:80]})" if figures.first_error else ""),
            "0 failed, 0 hung",
            figures.failed == 0 and figures.hung == 0,
        )
    ]


def peer_rows(figures: PeerFigures) -> list[Row]:
    """The Colyseus peer, beside the close-lag rows (context: the targets are sessiond's)."""
    s = figures.settings
    label = f"Peer: Colyseus, {s.rooms:,} rooms x {s.per_room} clients"
    return [
        Row(
            f"{label}: receive - deadline",
            f"p50 {figures.lag_ms.p50:,.0f} / **p99 {figures.lag_ms.p99:,.0f}** / max {figures.lag_ms.max:,.0f} ms; "
            f"{figures.lag_ms.count:,} of {s.rooms * s.per_room:,} results",
        ),
        Row(
            f"{label}: fan-out of one broadcast per room",
            f"p50 {figures.fanout_ms.p50:,.0f} / p99 {figures.fanout_ms.p99:,.0f} / "
            f"max {figures.fanout_ms.max:,.0f} ms",
        ),
        Row(
            f"{label}: context",
            f"server RSS {figures.rss_per_client / 1024:,.1f} KiB per client; connected in "
            f"{figures.connect_seconds:.1f} s; server CPU {figures.server_cpu_percent:.0f}% while measured; "
            f"{figures.errors} errors; WebSocket and one Node process's memory (sessiond: gRPC, state in Redis)",
        ),
    ]


def memory_rows(figures: MemoryFigures) -> list[Row]:
    label = f"Redis memory per idle session, {figures.config.name}"
    own = ("record", "events stream", "turns")
    keys = " + ".join(f"{name} {figures.parts[name]:,.0f}" for name in own if figures.parts.get(name))
    shared = ", ".join(f"{name} {value:,.0f}" for name, value in figures.parts.items() if name not in own)
    return [
        Row(
            f"{label}: used_memory delta / {figures.sessions:,}",
            f"**{figures.used_memory:,.0f} B** (of which outside the session's keys: {shared} B)",
            f"<= {IDLE_SESSION_MAX_BYTES:,} B",
            figures.used_memory <= IDLE_SESSION_MAX_BYTES,
        ),
        Row(
            f"{label}: MEMORY USAGE of the session's keys",
            f"{figures.key_usage:,.0f} B ({keys} B)",
            f"<= {IDLE_SESSION_MAX_BYTES:,} B",
            figures.key_usage <= IDLE_SESSION_MAX_BYTES,
        ),
    ]


def memory_store_rows(figures: MemoryStoreFigures) -> list[Row]:
    return [
        Row(
            f"Memory store: RSS per idle 4-player session, {figures.sessions:,} sessions",
            f"**{figures.per_session:,.0f} B** (RSS {figures.rss_before / 2**20:,.0f} -> "
            f"{figures.rss_after / 2**20:,.0f} MiB; created and joined in {figures.seconds:.0f} s, "
            f"{figures.sessions / figures.seconds:,.0f} sessions/s)",
            f"<= {MEMORY_STORE_MAX_BYTES:,} B",
            figures.per_session <= MEMORY_STORE_MAX_BYTES,
        )
    ]


def table(rows: Iterable[Row]) -> str:
    lines = ["| figure | measured | target | result |", "| --- | --- | --- | --- |"]
    lines += [f"| {r.figure} | {r.measured} | {r.target} | {r.result} |" for r in rows]
    return "\n".join(lines)


def _cpu_per_call(target: TargetFigures) -> float:
    """The server's CPU seconds per OK call."""
    return target.cpu.get("server", 0.0) / target.result.ok if target.result.ok else 0.0


def _per_call_us(cpu_seconds: float, calls: int) -> str:
    """CPU per call: steadier than req/s on a busy machine, where the share of a core varies."""
    return f"{1e6 * cpu_seconds / calls:,.0f}" if calls else "n/a"


def _ms(summary: Summary) -> str:
    if math.isnan(summary.p50):
        return "n/a"
    return f"{summary.p50:.1f} / {summary.p99:.1f} ms"
