"""The benchmarks of the "Redis hot store" and unary speed issues, in one run, printed as one table.

    PYTHONPATH=.:clients/python python -m tests.bench.run            # full: about 4 minutes
    PYTHONPATH=.:clients/python python -m tests.bench.run --quick    # about 65-95 s

Starts redis-server, the no-op baseline (noop_server), the Go limit (goserver, when Go is
here), sessiond on that Redis and sessiond on its memory store, each in its own process,
servers pinned to one CPU and everything else (redis-server, ghz, the watcher clients, this
process) to the others. Then measures:

1. GetSession, SubmitChoice, UpdateSessionState, JoinSession, CreateSession: requests/s and
   p50/p99 latency with ghz at the same concurrency and duration against every server
   (warm-up first, rounds alternating the order), each throughput and p99 as a ratio to the
   baseline's; a round where the baseline got less than 80% of its core is refused;
2. close lag: watchers' receive time - deadline of turn_resolved, with many windows
   closing at once (close_lag), with and without countdown ticks;
3. Redis memory per idle session with the default config and stream-node-max-bytes 512;
4. the memory store's snapshots (tests/bench/snapshot.py): GetSession p99 while snapshots
   are written / without, SIGTERM to exit and start-up, with 100,000 sessions;
5. the memory store's RSS per idle 4-player session, with 100,000 sessions (memstore.py).

Everything listens on loopback; every load is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sessiond_client import SessionClient

from tests.bench import colyseus, projection, report, streams
from tests.bench.close_lag import LagSettings, measure_close_lag
from tests.bench.fleet import create_sessions
from tests.bench.ghz import LoadSettings, ensure_ghz, ghz_version
from tests.bench.golimit import go_server
from tests.bench.memory import DEFAULT, TUNED, measure_memory
from tests.bench.memstore import measure_memory_store
from tests.bench.procs import ROOT, GrpcServer, Machine, PinnedRedis, pin_self
from tests.bench.snapshot import SnapshotSettings, measure_snapshots
from tests.bench.snapshot import rows as snapshot_rows
from tests.bench.throughput import BASELINE_MIN_CPU, Target, measure_rpc
from tests.bench.workload import RPCS, WINDOW_SECONDS, session_ids
from tests.redis_server import free_port

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Plan:
    server_cpus: str
    client_cpus: str
    load: LoadSettings
    warmup: float
    rounds: int
    sessions: int
    lag: list[LagSettings]
    memory_sessions: int
    memstore_sessions: int
    min_baseline_cpu: float
    snapshot: SnapshotSettings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer rounds (about 65-95 s)")
    server, clients = default_cpus()
    parser.add_argument("--server-cpus", default=server, help=f"taskset CPU list of the servers [{server}]")
    parser.add_argument("--client-cpus", default=clients, help=f"CPU list of everything else [{clients}]")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent calls of ghz [32]")
    parser.add_argument("--connections", type=int, default=1, help="HTTP/2 connections of ghz [1]")
    parser.add_argument("--duration", type=float, help="seconds of each measured ghz run [5; quick 2.5]")
    parser.add_argument("--warmup", type=float, help="seconds of ghz warm-up before each run [1.5; quick 1]")
    parser.add_argument("--rounds", type=int, help="rounds of baseline + sessiond runs per method [3; quick 1]")
    parser.add_argument("--sessions", type=int, help="sessions the RPC load cycles through [1000; quick 300]")
    min_cpu_help = "refuse a round where the baseline got less of its core than this [0.8; 0 counts every round]"
    parser.add_argument("--min-baseline-cpu", type=float, default=BASELINE_MIN_CPU, help=min_cpu_help)
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="cap of requests per ghz run")
    parser.add_argument("--lag-windows", type=int, default=1000, help="windows closing together [1000]")
    parser.add_argument("--lag-watchers", type=int, default=5, help="watchers per session [5]")
    parser.add_argument("--lag-procs", type=int, default=4, help="watcher client processes [4]")
    parser.add_argument("--lag-spread", type=float, default=2.0, help="seconds the deadlines spread over [2]")
    parser.add_argument("--lag-rounds", type=int, help="windows per session, one after the other [3; quick 1]")
    ticks_help = "watch with countdown ticks, without, or both [both; quick on]"
    parser.add_argument("--lag-ticks", choices=("both", "on", "off"), help=ticks_help)
    parser.add_argument("--memory-sessions", type=int, default=1000, help="idle sessions per Redis config [1000]")
    parser.add_argument(
        "--stream-levels", help="streams held at once, per ramp level [1000,5000,10000,20000; quick 1000,5000]"
    )
    presence_help = "streams with player ids vs without, per presence level [20000; quick 1000]"
    parser.add_argument("--presence-levels", help=presence_help)
    parser.add_argument("--storm-levels", help="streams opened at once, per storm [1000,2000,5000; quick 1000,2000]")
    memstore_help = "idle sessions for the memory store's RSS per session [100000; quick 10000]"
    parser.add_argument("--memstore-sessions", type=int, help=memstore_help)
    snapshot_help = "sessions of the memory store's snapshot benchmark [100000; quick 20000]"
    parser.add_argument("--snapshot-sessions", type=int, help=snapshot_help)
    parser.add_argument("--projection-seconds", type=float, help="seconds of the outbox lag load [300; quick 45]")
    parts = "rpc, lag, peer, streams, presence, storm, memory, memstore, snapshot, projection"
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {parts}")
    parser.add_argument("--work-dir", type=Path, help="logs and ghz reports (default: a new temporary directory)")
    return parser.parse_args()


def default_cpus() -> tuple[str, str]:
    """Servers on the first CPU this process may use, the rest on the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "", ""
    return str(cpus[0]), ",".join(map(str, cpus[1:]))


def plan_of(args: argparse.Namespace) -> Plan:
    def pick(value: V | None, full: V, quick: V) -> V:
        """The flag's value if given, else the default of the run's kind."""
        return value if value is not None else quick if args.quick else full

    ticks = pick(args.lag_ticks, "both", "on")
    lag = [
        LagSettings(
            windows=args.lag_windows,
            per_session=args.lag_watchers,
            procs=args.lag_procs,
            spread=args.lag_spread,
            rounds=pick(args.lag_rounds, 3, 1),
            ticks=with_ticks,
            cpus=args.client_cpus,
            prefix=f"lag-{'t' if with_ticks else 'n'}-",
        )
        for with_ticks in {"both": (True, False), "on": (True,), "off": (False,)}[ticks]
    ]
    load = LoadSettings(
        concurrency=args.concurrency,
        connections=args.connections,
        duration=pick(args.duration, 5.0, 2.5),
        max_requests=args.max_requests,
        cpus=args.client_cpus,
    )
    return Plan(
        server_cpus=args.server_cpus,
        client_cpus=args.client_cpus,
        load=load,
        warmup=pick(args.warmup, 1.5, 1.0),
        rounds=pick(args.rounds, 3, 1),
        sessions=pick(args.sessions, 1000, 300),
        lag=lag,
        memory_sessions=args.memory_sessions,
        min_baseline_cpu=args.min_baseline_cpu,
        memstore_sessions=pick(args.memstore_sessions, 100_000, 10_000),
        snapshot=SnapshotSettings(
            sessions=pick(args.snapshot_sessions, 100_000, 20_000),
            duration=load.duration,
            server_cpus=args.server_cpus,
        ),
    )


STARTED = time.monotonic()


def progress(what: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.0f} s] {what}...", flush=True)


@contextlib.contextmanager
def running(server: GrpcServer) -> Iterator[GrpcServer]:
    try:
        yield server.start()
    finally:
        server.stop()


def measure_servers(plan: Plan, skip: set[str], work: Path, ghz: str) -> list[report.Row]:
    """The RPC and close-lag figures: one redis-server, the baselines, sessiond on it and on memory."""
    rows: list[report.Row] = []
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(PinnedRedis(plan.client_cpus))
        sessiond = stack.enter_context(running(GrpcServer.sessiond("sessiond", redis.url, plan.server_cpus, work)))
        if "rpc" not in skip:
            rows += measure_rpcs(plan, stack, redis, sessiond, work, ghz)
        if "lag" not in skip:
            for settings in plan.lag:
                progress(f"measuring close lag ({'with' if settings.ticks else 'without'} ticks)")
                lag = asyncio.run(measure_close_lag(sessiond.address, settings, sessiond.cpu_seconds, work))
                rows += report.lag_rows(lag)
    return rows


def measure_rpcs(
    plan: Plan, stack: contextlib.ExitStack, redis: PinnedRedis, on_redis: GrpcServer, work: Path, ghz: str
) -> list[report.Row]:
    """Every measured method on the no-op baseline (first: it decides which rounds count),
    sessiond on memory and on Redis, and the Go limit when Go is here."""
    rows: list[report.Row] = []
    baseline = stack.enter_context(running(GrpcServer.noop(plan.server_cpus, work)))
    on_memory = stack.enter_context(running(GrpcServer.sessiond("sessiond-memory", "", plan.server_cpus, work)))
    targets = [
        Target(report.BASELINE, baseline.address, {"server": baseline.cpu_seconds}),
        Target(report.MEMORY, on_memory.address, {"server": on_memory.cpu_seconds}),
        Target(report.REDIS, on_redis.address, {"server": on_redis.cpu_seconds, "redis-server": redis.cpu_seconds}),
    ]
    go = go_server(plan.server_cpus, work)
    if isinstance(go, str):
        rows.append(report.Row(f"{report.GO}", f"not run: {go}"))
    else:
        go = stack.enter_context(running(go))
        targets.append(Target(report.GO, go.address, {"server": go.cpu_seconds}))
    ids = session_ids("bench-", plan.sessions)
    progress(f"preparing {len(ids)} sessions on each store")
    for server in (on_memory, on_redis):
        asyncio.run(_prepare(server.address, ids))
    for rpc in RPCS.values():
        progress(f"measuring {rpc.method}")
        figures = measure_rpc(
            ghz,
            rpc,
            ids,
            targets,
            plan.load,
            warmup=plan.warmup,
            rounds=plan.rounds,
            work_dir=work,
            min_baseline_cpu=plan.min_baseline_cpu,
        )
        rows += report.throughput_rows(figures, rpc.min_ratio)
    return rows


async def _prepare(target: str, ids: list[str]) -> None:
    """Sessions whose four players each chose once: the window of turn 1 is open for an hour."""
    async with SessionClient(target) as client:
        await create_sessions(client, ids, window_seconds=WINDOW_SECONDS, players="choose")


def measure_peer_rows(plan: Plan, work: Path) -> list[report.Row]:
    """The Colyseus peer at the first close-lag run's size, when Node is here."""
    why_not = colyseus.available()
    if why_not is not None:
        return [report.Row("Peer: Colyseus", f"not run: {why_not}")]
    lag = plan.lag[0]
    progress(f"measuring the Colyseus peer ({lag.windows} rooms)")
    settings = colyseus.PeerSettings(
        rooms=lag.windows,
        per_room=lag.per_session,
        window_seconds=lag.window_seconds,
        spread=lag.spread,
        server_cpus=plan.server_cpus,
        client_cpus=plan.client_cpus,
    )
    return report.peer_rows(colyseus.measure_peer(settings, free_port(), work))


def levels(given: str | None, full: str, quick: str, args: argparse.Namespace) -> list[int]:
    return [int(n) for n in (given or (quick if args.quick else full)).split(",")]


def measure_streams_rows(plan: Plan, counts: list[int], work: Path) -> list[report.Row]:
    """Per level: the no-op server's streams (the baseline), then sessiond's on memory and on Redis."""
    rows: list[report.Row] = []
    for count in counts:
        settings = streams.settings_for(count, 5, 4, plan.client_cpus, f"ramp-{count}-")
        progress(f"measuring {count:,} streams on the no-op server")
        with running(GrpcServer.noop(plan.server_cpus, work)) as noop:
            meters = streams.Meters(noop.rss_bytes, noop.cpu_seconds)
            base = asyncio.run(streams.measure_streams("no-op", noop.address, settings, meters, work, fanout=False))
        for store in ("memory", "redis"):
            progress(f"measuring {count:,} streams on sessiond ({store})")
            with contextlib.ExitStack() as stack:
                redis = stack.enter_context(PinnedRedis(plan.client_cpus)) if store == "redis" else None
                name = f"sessiond-{store}-{count}"
                server = stack.enter_context(
                    running(GrpcServer.sessiond(name, redis.url if redis else "", plan.server_cpus, work))
                )
                meters = streams.Meters(
                    server.rss_bytes, server.cpu_seconds, functools.partial(redis_clients, redis) if redis else None
                )
                label = f"sessiond on {store}"
                figures = asyncio.run(
                    streams.measure_streams(label, server.address, settings, meters, work, fanout=True)
                )
            rows += report.streams_rows(figures, base)
    return rows


def measure_presence_rows(plan: Plan, counts: list[int], work: Path) -> list[report.Row]:
    """Per level and round: the same sessions and streams, without and then with player
    ids (the order alternating by round), each on a fresh sessiond and redis-server, so
    neither variant runs on what the other left behind."""
    rows: list[report.Row] = []
    for count in counts:
        found: dict[bool, list[streams.StreamsFigures]] = {False: [], True: []}
        for round_ in range(plan.rounds):
            for player_ids in (False, True) if round_ % 2 == 0 else (True, False):
                kind = "with" if player_ids else "without"
                progress(f"measuring {count:,} streams {kind} player ids (redis), round {round_ + 1}/{plan.rounds}")
                settings = streams.presence_settings(count, 5, 4, plan.client_cpus, player_ids=player_ids)
                with contextlib.ExitStack() as stack:
                    redis = stack.enter_context(PinnedRedis(plan.client_cpus))
                    name = f"sessiond-presence-{count}-{kind}-{round_ + 1}"
                    server = stack.enter_context(running(GrpcServer.sessiond(name, redis.url, plan.server_cpus, work)))
                    meters = streams.Meters(
                        server.rss_bytes, server.cpu_seconds, functools.partial(redis_clients, redis)
                    )
                    label = f"{kind} player ids"
                    found[player_ids].append(
                        asyncio.run(streams.measure_streams(label, server.address, settings, meters, work, fanout=True))
                    )
        rows += report.presence_rows(streams.PresenceFigures(found[False], found[True]))
    return rows


def redis_clients(redis: PinnedRedis) -> int:
    with redis.client() as client:
        return len(client.client_list())


def measure_storm_rows(plan: Plan, counts: list[int], work: Path) -> list[report.Row]:
    rows: list[report.Row] = []
    with running(GrpcServer.sessiond("sessiond-storm", "", plan.server_cpus, work)) as server:
        for count in counts:
            progress(f"measuring a storm of {count:,} streams")
            figures = asyncio.run(streams.measure_storm(server.address, count, 5, plan.client_cpus, work))
            rows += report.storm_rows(figures)
    return rows


def measure_memory_rows(plan: Plan, work: Path) -> list[report.Row]:
    rows: list[report.Row] = []
    for config in (DEFAULT, TUNED):
        progress(f"measuring Redis memory ({config.name})")
        figures = measure_memory(config, plan.memory_sessions, plan.server_cpus, plan.client_cpus, work)
        rows += report.memory_rows(figures)
    return rows


def tree_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False, timeout=30)
        return done.stdout.strip()

    changed = [line for line in git("status", "--porcelain", "--", "sessiond").splitlines() if line]
    return f"{git('rev-parse', '--short', 'HEAD') or 'unknown'} + {len(changed)} uncommitted change(s) under sessiond/"


def header(plan: Plan, machine: Machine, tree: str, ghz_version: str, quick: bool) -> str:
    load = plan.load
    lines = [
        f"sessiond Redis hot store benchmarks, {'quick' if quick else 'full'} run, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine.nproc} CPUs ({machine.cpu_model}); Python {machine.python}, grpcio {machine.grpcio}, "
        f"redis-server {machine.redis}, ghz {ghz_version}",
        f"- tree: {tree} (when the run started)",
        f"- a round counts when the baseline got >= {100 * plan.min_baseline_cpu:.0f}% of its core",
        f"- pinning: servers (baseline, sessiond) on CPU {plan.server_cpus or 'any'}; redis-server, ghz, "
        f"watcher clients and this process on CPU {plan.client_cpus or 'any'}",
        f"- RPC load: ghz, {load.concurrency} concurrent calls on {load.connections} connection(s), "
        f"{plan.rounds} round(s) x {load.duration:g} s per target (each after a {plan.warmup:g} s warm-up), "
        f"{plan.sessions} sessions of 4 players and 1 KiB of state, requests round-robin over them",
        "- SubmitChoice measures steady submission: each choice replaces the player's earlier one in a window "
        "kept open (1 h windows, early close off), so no turn resolves during the load",
    ]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    plan = plan_of(args)
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    machine = Machine.now()
    tree = tree_state()
    ghz = ensure_ghz()
    pin_self(plan.client_cpus)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sessiond-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = measure_servers(plan, skip, work, ghz)
    if "peer" not in skip:
        rows += measure_peer_rows(plan, work)
    if "streams" not in skip:
        rows += measure_streams_rows(plan, levels(args.stream_levels, "1000,5000,10000,20000", "1000,5000", args), work)
    if "presence" not in skip:
        rows += measure_presence_rows(plan, levels(args.presence_levels, "20000", "1000", args), work)
    if "storm" not in skip:
        rows += measure_storm_rows(plan, levels(args.storm_levels, "1000,2000,5000", "1000,2000", args), work)
    if "memory" not in skip:
        rows += measure_memory_rows(plan, work)
    if "memstore" not in skip:
        progress(f"measuring the memory store's RSS per session ({plan.memstore_sessions:,} sessions)")
        rows += report.memory_store_rows(measure_memory_store(plan.memstore_sessions, plan.server_cpus, work))
    if "snapshot" not in skip:
        progress(f"measuring memory store snapshots ({plan.snapshot.sessions:,} sessions)")
        rows += snapshot_rows(measure_snapshots(plan.snapshot, work))
    if "projection" not in skip:
        progress("measuring the Neo4j projection")
        seconds = args.projection_seconds or (45.0 if args.quick else 300.0)
        settings = projection.Settings(lag_seconds=seconds, server_cpus=plan.server_cpus, client_cpus=plan.client_cpus)
        rows += [report.Row(*row) for row in projection.rows(*projection.measure(settings, work))]
    progress("done")
    load_after = os.getloadavg()
    print()
    print(header(plan, machine, tree, ghz_version(ghz), args.quick))
    print(
        f"- load average before: {' '.join(f'{x:.2f}' for x in machine.load_before)}; "
        f"after: {' '.join(f'{x:.2f}' for x in load_after)}; run took {time.monotonic() - STARTED:.0f} s; "
        f"logs in {work}"
    )
    print()
    print(report.table(rows))
    missed = [row for row in rows if row.passed is False]
    print()
    print(f"{len(missed)} target(s) missed" if missed else "all targets met")


if __name__ == "__main__":
    main()
