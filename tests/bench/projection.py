"""The Neo4j projection: how fast facts reach the graph, and how far the graph falls behind
sessiond under load.

1. Rate: ``sessions`` games played on a RedisStore with its outbox on (create, four players
   join, choices that resolve turns, state patches: the store's own scripts write the facts,
   built by sessiond.core.facts), then one Projector drains every outbox into a real Neo4j
   (tests/neo4j/launcher.py) as sessiond's does: facts applied per second, and the CPU each
   process used meanwhile (the projector runs in this process).
2. Lag: sessiond on redis+neo4j in its own process, driven by a closed-loop mixed load
   (SubmitChoice, UpdateSessionState, JoinSession, CreateSession) for ``seconds``; the
   outbox backlog (GetServiceStats's figures, read from Redis) sampled: lag and pending
   p50/p99 during the load, and the time until nothing is pending once the load stops.

Run alone (``python -m tests.bench.projection [--lag-seconds 300]``) or as the
``projection`` part of ``python -m tests.bench.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sessiond_client import SessionClient

from sessiond.core.lifecycle import join, patch_session_state
from sessiond.core.limits import Limits
from sessiond.core.models import Mutation, Session, Turn
from sessiond.core.tiers import TierRules
from sessiond.core.window import submit_choice
from sessiond.store.neo4j import GraphStore, PermanentFactError
from sessiond.store.outbox import OutboxStats, Projector
from sessiond.store.redis import RedisStore
from tests.bench.fleet import for_each
from tests.bench.procs import GrpcServer, PinnedRedis, parse_cpus, pin_self
from tests.bench.stats import Summary
from tests.bench.workload import PLAYERS, session_state
from tests.neo4j.launcher import Neo4jServer
from tests.neo4j_fixtures import free_port
from tests.redis_server import HOST
from tests.support import make_session

LIMITS, TIERS = Limits(), TierRules()
RATE_MIN = 2000.0  # facts/s, the target
LAG_P99_MAX = 2.0  # seconds
DRAIN_MAX = 10.0  # seconds
SAMPLE_EVERY = 0.25  # seconds between GetServiceStats samples
CALL_TIMEOUT = 10.0
DRAIN_LIMIT = 120.0  # seconds the bench waits for an empty outbox at most


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuShare:
    """CPU percent (100 = one core) of each process over a measured span."""

    shares: dict[str, float]

    def __str__(self) -> str:
        return ", ".join(f"{name} {pct:.0f}%" for name, pct in self.shares.items())


class CpuMeter:
    """Samples named CPU-seconds counters at start and stop."""

    def __init__(self, counters: dict[str, Callable[[], float]]) -> None:
        self._counters = counters
        self._start = {name: read() for name, read in counters.items()}
        self._t0 = time.monotonic()

    def share(self) -> CpuShare:
        span = max(time.monotonic() - self._t0, 1e-9)
        return CpuShare({n: 100 * (read() - self._start[n]) / span for n, read in self._counters.items()})


@contextmanager
def neo4j_running(cpus: str = "") -> Iterator[Neo4jServer]:
    """A fresh Neo4j of the launcher, in a temporary data directory."""
    data = Path(tempfile.mkdtemp(prefix="sessiond-bench-neo4j-"))
    server = Neo4jServer(data_dir=data, port=free_port(), password="bench-password")
    server.start()
    try:
        if cpus and server.pid:
            os.sched_setaffinity(server.pid, parse_cpus(cpus))
        yield server
    finally:
        server.stop()


# ----- 1. raw projection rate ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateFigures:
    facts: int
    seconds: float
    batches: int
    cpu: CpuShare

    @property
    def rate(self) -> float:
        return self.facts / self.seconds


Change = Callable[[Session, Turn | None, float], tuple[Mutation, object]]


async def play(store: RedisStore, session_id: str, rounds: int) -> None:
    """One game through the store's scripts: create, four joins, then ``rounds`` times a
    state patch and the four players' choices (the last closes the turn: early close)."""
    now = await store.now()
    session = make_session(
        session_id, now, options=("left", "right"), session_state=session_state(), game_id="bench-game"
    )
    await store.create(session, "", 1_000_000)

    async def commit(change: Change) -> None:
        await store.mutate(session_id, lambda s, t, now: change(s, t, now))

    for i, player in enumerate(PLAYERS):
        await commit(lambda s, _t, now, p=player, i=i: join(p, f"Player {i}")(s, None, now))  # type: ignore[misc]
    for k in range(rounds):
        await commit(lambda s, _t, _now, k=k: (patch_session_state({"round": k}, None, LIMITS)(s, None, 0.0)[0], None))  # type: ignore[misc]
        for player in PLAYERS:
            choice = random.choice(("left", "right"))
            await commit(lambda s, _t, now, p=player, c=choice: submit_choice(p, c, LIMITS, TIERS)(s, None, now))  # type: ignore[misc]


async def measure_rate(
    redis_url: str, neo4j: Neo4jServer, settings: Settings, counters: dict[str, Callable[[], float]]
) -> RateFigures:
    """Project ``settings.warmup`` games (the JVM compiles Neo4j's hot code meanwhile: a
    fresh one is several times slower, a production one is warm), then measure: fill the
    outboxes with ``settings.sessions`` games and drain them into the graph."""
    store = RedisStore.from_url(redis_url, outbox=True)
    graph = GraphStore.connect(neo4j.uri, neo4j.user, neo4j.password)
    try:
        await graph.migrate()
        for prefix, games in (("warmup", settings.warmup), ("rate", settings.sessions)):
            ids = [f"{prefix}-{i:05d}" for i in range(games)]
            await for_each(ids, lambda sid: play(store, sid, settings.rounds))
            figures = await _drain(store, graph, settings.batch_size, counters)
        return figures
    finally:
        await store.close()
        await graph.close()


async def _drain(
    store: RedisStore, graph: GraphStore, batch_size: int, counters: dict[str, Callable[[], float]]
) -> RateFigures:
    """Drain every outbox into the graph as sessiond's projector does; timed."""
    pending = (await store.outbox_stats()).pending
    batches = 0

    async def counted(batch: list[dict[str, object]]) -> None:
        nonlocal batches
        batches += 1
        await graph.apply_batch(batch)

    projector = Projector(store.outbox_log, counted, PermanentFactError, batch_size=batch_size)
    meter = CpuMeter(counters)
    started = time.monotonic()
    applied = 0
    while done := await projector.drain_once():
        applied += done
    seconds = time.monotonic() - started
    cpu = meter.share()
    left = (await store.outbox_stats()).pending
    if left or applied != pending:
        raise RuntimeError(f"projection incomplete: {applied} of {pending} facts applied, {left} pending")
    return RateFigures(applied, seconds, batches, cpu)


# ----- 2. outbox lag under load ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LagFigures:
    seconds: float
    writes: int
    errors: int
    first_error: str
    lag: Summary  # seconds, sampled during the load
    pending: Summary
    drain_seconds: float  # from the end of the load until nothing is pending
    cpu: CpuShare


def sessiond_on_graph(redis_url: str, neo4j: Neo4jServer, cpus: str, log_dir: Path) -> GrpcServer:
    def argv(address: str) -> list[str]:
        return [
            "-m", "sessiond", "serve", "--listen", address, "--store", "redis+neo4j",
            "--redis-url", redis_url, "--neo4j-uri", neo4j.uri, "--neo4j-user", neo4j.user,
        ]  # fmt: skip

    env = {
        "SESSIOND_METRICS_LISTEN": f"{HOST}:{free_port()}",
        "SESSIOND_CONSOLE_LISTEN": "",
        "SESSIOND_NEO4J_PASSWORD": neo4j.password,
    }
    return GrpcServer("sessiond-graph", argv, cpus, log_dir, env)


class MixedLoad:
    """Closed loop: ``concurrency`` workers each sending one call after another, a mix of
    SubmitChoice (4 in 8), UpdateSessionState (2 in 8), JoinSession and CreateSession."""

    def __init__(self, client: SessionClient, ids: list[str]) -> None:
        self.client = client
        self.ids = ids
        self.writes = 0
        self.errors = 0
        self.first_error = ""
        self._created = 0

    async def one(self, rng: random.Random) -> None:
        sid = rng.choice(self.ids)
        pick = rng.randrange(8)
        c = self.client
        if pick < 4:
            await c.submit_choice(sid, rng.choice(PLAYERS), rng.choice(("left", "right")), timeout=CALL_TIMEOUT)
        elif pick < 6:
            await c.update_session_state(sid, {"round": rng.randrange(100)}, timeout=CALL_TIMEOUT)
        elif pick < 7:
            await c.join_session(sid, f"guest-{rng.randrange(8)}", display_name="Guest", timeout=CALL_TIMEOUT)
        else:
            self._created += 1
            await c.create_session(game_id="bench-game", title="Load", state={"n": self._created}, timeout=CALL_TIMEOUT)

    async def run(self, seconds: float, concurrency: int) -> None:
        stop = time.monotonic() + seconds

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < stop:
                try:
                    await self.one(rng)
                    self.writes += 1
                except Exception as exc:  # counted and shown: a figure with errors is not a clean one
                    self.errors += 1
                    self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"

        async with asyncio.TaskGroup() as group:
            for seed in range(concurrency):
                group.create_task(worker(seed))


Backlog = Callable[[], Awaitable[OutboxStats]]
"""Reads the outbox backlog: what GetServiceStats reports as outbox_pending / outbox_lag."""


async def sample_stats(backlog: Backlog, until: Callable[[], bool]) -> tuple[list[float], list[float]]:
    lags: list[float] = []
    pending: list[float] = []
    while not until():
        stats = await backlog()
        lags.append(stats.oldest_age_seconds)
        pending.append(stats.pending)
        await asyncio.sleep(SAMPLE_EVERY)
    return lags, pending


async def drained_after(backlog: Backlog, limit: float) -> float:
    """Seconds until nothing is pending (``limit``+ if never)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if (await backlog()).pending == 0:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    return float("inf")


async def measure_lag(
    address: str, redis_url: str, seconds: float, sessions: int, concurrency: int,
    counters: dict[str, Callable[[], float]],
) -> LagFigures:
    """The backlog is read from Redis by the bench (``RedisStore.outbox_stats``, the figures
    GetServiceStats reports), not through GetServiceStats: its session tally decodes every
    session, and polled every 0.25 s it took 45% of sessiond's CPU (py-spy), the load the
    figure is about."""
    reader = RedisStore.from_url(redis_url)
    async with SessionClient(address) as client:
        ids = [f"lag-{i:05d}" for i in range(sessions)]

        async def create(sid: str) -> None:
            await client.create_session(
                session_id=sid, game_id="bench-game", title="Lag", state=session_state(), options=("left", "right"),
                window_seconds=1.0, timeout=CALL_TIMEOUT,
            )  # fmt: skip

        try:
            await for_each(ids, create)
            await drained_after(reader.outbox_stats, DRAIN_LIMIT)  # start from an empty outbox
            load = MixedLoad(client, ids)
            meter = CpuMeter(counters)
            done = False
            sampler = asyncio.create_task(sample_stats(reader.outbox_stats, lambda: done))
            started = time.monotonic()
            await load.run(seconds, concurrency)
            elapsed = time.monotonic() - started
            cpu = meter.share()
            done = True
            lags, pending = await sampler
            drain = await drained_after(reader.outbox_stats, DRAIN_LIMIT)
        finally:
            await reader.close()
        return LagFigures(
            elapsed, load.writes, load.errors, load.first_error, Summary.of(lags), Summary.of(pending), drain, cpu
        )


# ----- both, and the rows of the table ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    sessions: int = 300  # games of the rate part
    rounds: int = 4  # rounds of four choices per game
    warmup: int = 300  # games projected before the rate is measured
    batch_size: int = 100  # facts per apply (the Projector's batch_size)
    lag_seconds: float = 45.0
    lag_sessions: int = 500
    lag_concurrency: int = 32
    server_cpus: str = ""
    client_cpus: str = ""


async def _rate(redis: PinnedRedis, neo4j: Neo4jServer, settings: Settings) -> RateFigures:
    counters = {
        "projector": lambda: cpu_of(os.getpid()),
        "neo4j": lambda: cpu_of(neo4j.pid or 0),
        "redis": redis.cpu_seconds,
    }
    return await measure_rate(redis.url, neo4j, settings, counters)


def measure(settings: Settings, work: Path) -> tuple[RateFigures, LagFigures | None]:
    """Both parts on one redis-server and one Neo4j (the rate part warms the JVM up for the
    lag part, as a long-running Neo4j is)."""
    with PinnedRedis(settings.client_cpus) as redis, neo4j_running(settings.client_cpus) as neo4j:
        rate = asyncio.run(_rate(redis, neo4j, settings))
        if settings.lag_seconds <= 0:
            return rate, None
        server = sessiond_on_graph(redis.url, neo4j, settings.server_cpus, work).start()
        try:
            counters = {
                "sessiond": server.cpu_seconds,
                "load": lambda: cpu_of(os.getpid()),
                "neo4j": lambda: cpu_of(neo4j.pid or 0),
                "redis": redis.cpu_seconds,
            }
            lag = asyncio.run(
                measure_lag(
                    server.address, redis.url, settings.lag_seconds, settings.lag_sessions,
                    settings.lag_concurrency, counters,
                )
            )
        finally:
            server.stop()
    return rate, lag


def rows(rate: RateFigures, lag: LagFigures | None) -> list[tuple[str, str, str, bool | None]]:
    """(figure, measured, target, passed) of each row of the bench table."""
    out: list[tuple[str, str, str, bool | None]] = [
        (
            "Neo4j projection rate (outbox -> graph)",
            f"**{rate.rate:,.0f} facts/s** ({rate.facts:,} facts in {rate.seconds:.1f} s, {rate.batches} batches); "
            f"CPU {rate.cpu}",
            f">= {RATE_MIN:,.0f} facts/s",
            rate.rate >= RATE_MIN,
        )
    ]
    if lag is None:
        return out
    load = f"{lag.writes / lag.seconds:,.0f} writes/s for {lag.seconds:.0f} s" + (
        f", {lag.errors} errors: {lag.first_error[:80]}" if lag.errors else ""
    )
    out += [
        (
            "Outbox lag under mixed load (sessiond's max write rate)",
            f"p50 {lag.lag.p50:.2f} / **p99 {lag.lag.p99:.2f} s** (pending p50 {lag.pending.p50:,.0f} / "
            f"p99 {lag.pending.p99:,.0f}); {load}; CPU {lag.cpu}",
            f"p99 <= {LAG_P99_MAX:g} s",
            lag.lag.p99 <= LAG_P99_MAX and not lag.errors,
        ),
        (
            "Outbox drain after the load stops",
            f"**{lag.drain_seconds:.1f} s** to 0 pending"
            if math.isfinite(lag.drain_seconds)
            else f"**still pending after {DRAIN_LIMIT:g} s**",
            f"<= {DRAIN_MAX:g} s",
            lag.drain_seconds <= DRAIN_MAX,
        ),
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.projection", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=300, help="games of the rate part [300]")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per game [4]")
    parser.add_argument("--warmup", type=int, default=300, help="games projected before measuring [300]")
    parser.add_argument("--batch-size", type=int, default=100, help="facts per apply [100]")
    parser.add_argument("--lag-seconds", type=float, default=45.0, help="seconds of mixed load; 0 skips [45]")
    parser.add_argument("--lag-sessions", type=int, default=500, help="sessions the load spreads over [500]")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight of the load [32]")
    parser.add_argument("--server-cpus", default="", help="taskset CPU list of sessiond / the projector")
    parser.add_argument("--client-cpus", default="", help="CPU list of everything else")
    args = parser.parse_args()
    settings = Settings(
        args.sessions, args.rounds, args.warmup, args.batch_size, args.lag_seconds, args.lag_sessions, args.concurrency,
        args.server_cpus, args.client_cpus,
    )  # fmt: skip
    pin_self(settings.client_cpus)
    rate, lag = measure(settings, Path(tempfile.mkdtemp(prefix="sessiond-bench-projection-")))
    for figure, measured, target, passed in rows(rate, lag):
        verdict = "" if passed is None else "PASS" if passed else "MISS"
        print(f"| {figure} | {measured} | {target} | {verdict} |")


if __name__ == "__main__":
    main()
