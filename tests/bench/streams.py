"""WatchSession streams held at once (the ramp) and opened at once (the storm).

Ramp, per level (streams = sessions x ``per_session``): create the sessions, open the
streams from ``procs`` watcher processes (tests/bench/watchers.py, at most ``ramp`` starting
at a time each), then measure: streams opened, the server's RSS growth per stream,
GetSession latency while they are open, Redis connections in use (``CLIENT LIST``), and the
fan-out: one UpdateSessionState per session, all sessions at once, and at every watcher
``receive time - event_time`` of that state_changed (event_time is the commit's time on
this machine's clock). The same streams against the no-op server (a snapshot, then an idle
stream) give the per-stream memory a grpc.aio server needs anyway: the baseline.

Storm: ``streams`` opened with no ramp at all; opened, failed (a status), hung (neither,
within ``STORM_TIMEOUT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sessiond_client import SessionClient, SessiondError

from tests.bench.close_lag import CONNECT_TIMEOUT, LagSettings, WatcherProcess
from tests.bench.fleet import CALL_TIMEOUT, create_sessions, for_each
from tests.bench.stats import Summary
from tests.bench.watchers import Samples, player_of
from tests.bench.workload import session_ids

FANOUT_TIMEOUT = 120.0
STORM_TIMEOUT = 60.0
GET_SESSION_CALLS = 400


@dataclass(frozen=True, slots=True)
class Meters:
    """What the parent reads of the server under test."""

    rss: Callable[[], int]
    cpu: Callable[[], float]
    redis_clients: Callable[[], int] | None = None


@dataclass(frozen=True, slots=True)
class StreamsFigures:
    label: str
    streams: int
    opened: int
    errors: int
    first_error: str
    connect_seconds: float
    rss_per_stream: float  # bytes
    get_session_ms: Summary
    fanout_ms: Summary | None  # None: not measured (the no-op server has no state)
    fanned: int
    redis_clients: int | None
    server_cpu_percent: float


def settings_for(streams: int, per_session: int, procs: int, cpus: str, prefix: str) -> LagSettings:
    """Watcher-process settings for ``streams`` streams (no ticks: idle streams)."""
    return LagSettings(
        windows=max(1, streams // per_session),
        per_session=per_session,
        procs=procs,
        ticks=False,
        cpus=cpus,
        prefix=prefix,
    )


async def measure_streams(
    label: str, target: str, settings: LagSettings, meters: Meters, log_dir: Path, *, fanout: bool
) -> StreamsFigures:
    """Open ``settings.watchers`` streams on ``target`` and measure (see the module's doc)."""
    ids = session_ids(settings.prefix, settings.windows)
    async with SessionClient(target) as client:
        if fanout:
            await create_sessions(client, ids, window_seconds=settings.window_seconds)
        if settings.player_ids or settings.rostered:
            players = [player_of(k) for k in range(settings.per_session)]
            await for_each(ids, lambda sid: _join_all(client, sid, players), 64)
        rss_before = meters.rss()
        started = time.monotonic()
        procs = [
            await WatcherProcess.start(target, i, settings, log_dir / f"streams-{settings.prefix}{i}.log")
            for i in range(settings.procs)
        ]
        fanned = 0
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(p.expect("READY") for p in procs)), CONNECT_TIMEOUT)
            if settings.player_ids:
                await _all_online(client, settings.watchers)
            connect_seconds = time.monotonic() - started
            rss_after = meters.rss()
            latencies = await _get_session_latencies(client, ids if fanout else ["bench-00000"])
            redis_clients = meters.redis_clients() if meters.redis_clients else None
            cpu_before, wall_before = meters.cpu(), time.monotonic()
            if fanout:
                await for_each(ids, lambda sid: client.update_session_state(sid, {"tick": 1}, timeout=CALL_TIMEOUT), 64)
                waits = [asyncio.create_task(p.expect("FANNED")) for p in procs]
                done, pending = await asyncio.wait(waits, timeout=FANOUT_TIMEOUT)
                fanned = len(done)
                for task in pending:
                    task.cancel()
            cpu_percent = 100 * (meters.cpu() - cpu_before) / max(time.monotonic() - wall_before, 1e-9)
        finally:
            results: list[Samples] = await asyncio.gather(*(p.stop() for p in procs))
    return StreamsFigures(
        label=label,
        streams=settings.watchers,
        opened=sum(r.opened for r in results),
        errors=sum(r.errors for r in results),
        first_error=next((r.first_error for r in results if r.first_error), ""),
        connect_seconds=connect_seconds,
        rss_per_stream=(rss_after - rss_before) / settings.watchers,
        get_session_ms=Summary.of(latencies),
        fanout_ms=Summary.of(1000 * x for r in results for x in r.fanout) if fanout else None,
        fanned=fanned,
        redis_clients=redis_clients,
        server_cpu_percent=cpu_percent if fanout else 0.0,
    )


async def _all_online(client: SessionClient, players: int) -> None:
    """Wait (polling the server's count, up to CONNECT_TIMEOUT) until ``players`` are
    settled ONLINE: those commits and their events are the cost of opening the streams,
    not of the fan-out measured next."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while (await client.get_service_stats(timeout=CALL_TIMEOUT)).online_players < players:
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.2)


async def _join_all(client: SessionClient, session_id: str, players: list[str]) -> None:
    for pid in players:
        await client.join_session(session_id, pid, timeout=CALL_TIMEOUT)


@dataclass(frozen=True, slots=True)
class PresenceFigures:
    """Rounds of the same load, each variant on a fresh sessiond and Redis: streams without,
    and with, player ids (the order alternates from round to round)."""

    without_ids: list[StreamsFigures]
    with_ids: list[StreamsFigures]


def presence_settings(streams: int, per_session: int, procs: int, cpus: str, *, player_ids: bool) -> LagSettings:
    """The same sessions (``per_session`` players joined in each) and streams, whose streams
    name a rostered player or not: the one difference is presence."""
    kind = "named" if player_ids else "plain"
    base = settings_for(streams, per_session, procs, cpus, f"{kind}-{streams}-")
    return replace(base, rostered=True, player_ids=player_ids)


async def _get_session_latencies(client: SessionClient, ids: list[str]) -> list[float]:
    """GetSession round trips (ms) while the streams are open, 8 at a time."""
    latencies: list[float] = []

    async def get(index: int) -> None:
        begun = time.perf_counter()
        with contextlib.suppress(SessiondError):  # the no-op server answers any id; sessiond knows them
            await client.get_session(ids[index % len(ids)], timeout=CALL_TIMEOUT)
        latencies.append(1000 * (time.perf_counter() - begun))

    await for_each(list(range(GET_SESSION_CALLS)), get, concurrency=8)
    return latencies


@dataclass(frozen=True, slots=True)
class StormFigures:
    streams: int
    opened: int
    failed: int
    hung: int
    first_error: str


async def measure_storm(target: str, streams: int, per_session: int, cpus: str, log_dir: Path) -> StormFigures:
    """``streams`` WatchSession streams started at once from one process, on fresh sessions;
    a stream is not retried (a failure is a failure, not a reconnect)."""
    settings = replace(
        settings_for(streams, per_session, 1, cpus, f"storm-{streams}-"), channels=4, window_seconds=60.0
    )
    ids = session_ids(settings.prefix, settings.windows)
    async with SessionClient(target) as client:
        await create_sessions(client, ids, window_seconds=settings.window_seconds)
    process = await WatcherProcess.start(
        target, 0, settings, log_dir / f"storm-{streams}.log", ramp=settings.watchers, reconnect=False
    )
    with contextlib.suppress(TimeoutError, EOFError):
        await asyncio.wait_for(process.expect("READY"), STORM_TIMEOUT)
    result = await process.stop()
    hung = settings.watchers - result.opened - result.errors
    return StormFigures(settings.watchers, result.opened, result.errors, max(hung, 0), result.first_error)
