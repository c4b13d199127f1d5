"""Close lag: how late watchers hear that a window closed, with many windows closing at once.

``windows`` sessions each get ``per_session`` watchers (WatchSession streams, spread over
``procs`` client processes, see watchers.py). Then, per round, one choice per session opens
its window; the openings are paced evenly over ``spread`` seconds, so the deadlines
(open + ``window_seconds``) fall within those seconds too. Every watcher records, for each
turn_resolved it receives, ``receive time - deadline`` (the figure with the target) and
``resolve_time - deadline`` (the server's own close lag, without the delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sessiond_client import SessionClient

from tests.bench.fleet import CALL_TIMEOUT, create_sessions, for_each
from tests.bench.procs import child_env, pinned
from tests.bench.stats import Summary
from tests.bench.watchers import Samples
from tests.bench.workload import PLAYERS, session_ids

CONNECT_TIMEOUT = 120.0  # for every watcher to get its snapshot
ROUND_SLACK = 30.0  # past the last deadline, for every turn_resolved to arrive
RESULT_LINE_LIMIT = 64 << 20  # the RESULT line carries every sample


@dataclass(frozen=True, slots=True)
class LagSettings:
    windows: int = 1000
    per_session: int = 5
    procs: int = 4
    channels: int = 4  # HTTP/2 connections per client process
    window_seconds: float = 5.0
    spread: float = 2.0
    rounds: int = 2
    ticks: bool = True
    cpus: str = ""  # of the client processes
    prefix: str = "lag-"  # of the session ids (one per run on a sessiond)
    player_ids: bool = False  # each stream watches for a rostered player (presence leases)
    rostered: bool = False  # the sessions have per_session players joined (implied by player_ids)

    @property
    def watchers(self) -> int:
        return self.windows * self.per_session


@dataclass(frozen=True, slots=True)
class LagFigures:
    settings: LagSettings
    delivery_ms: Summary
    round_p99_ms: list[float]  # delivery p99 of each round
    resolve_ms: Summary
    expected: int
    rounds_done: int
    errors: int
    first_error: str
    connect_seconds: float
    deadline_spread: float
    server_cpu_percent: float
    client_cpu_percent_max: float


class WatcherProcess:
    """One ``python -m tests.bench.watchers`` child and its line protocol."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(
        cls, target: str, index: int, settings: LagSettings, log: Path, *, ramp: int = 50, reconnect: bool = True
    ) -> WatcherProcess:
        command = [
            sys.executable, "-m", "tests.bench.watchers",
            "--target", target, "--prefix", settings.prefix,
            "--sessions", str(settings.windows), "--per-session", str(settings.per_session),
            "--procs", str(settings.procs), "--index", str(index),
            "--channels", str(settings.channels), "--window-seconds", str(settings.window_seconds),
            "--ticks" if settings.ticks else "--no-ticks",
            "--player-ids" if settings.player_ids else "--no-player-ids",
            "--ramp", str(ramp), "--reconnect" if reconnect else "--no-reconnect",
            "--max-seconds", str(CONNECT_TIMEOUT + settings.rounds * (settings.window_seconds + 2 * ROUND_SLACK)),
        ]  # fmt: skip
        stderr = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            process = await asyncio.create_subprocess_exec(
                *pinned(command, settings.cpus),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=child_env(),
                limit=RESULT_LINE_LIMIT,
            )
        finally:
            os.close(stderr)
        return cls(process)

    async def expect(self, word: str) -> str:
        """The rest of the next line starting with ``word`` (EOFError if the child ended)."""
        assert self._process.stdout is not None
        while line := (await self._process.stdout.readline()).decode():
            text = line.strip()
            if text == word or text.startswith(word + " "):
                return text.removeprefix(word).strip()
        raise EOFError(f"watcher process ended before {word!r}")

    async def stop(self) -> Samples:
        """Its samples; a process that died or hung counts as one error (its log tells why)."""
        assert self._process.stdin is not None
        with contextlib.suppress(ConnectionError):
            self._process.stdin.write(b"STOP\n")
            await self._process.stdin.drain()
            self._process.stdin.close()
        try:
            return Samples(**json.loads(await asyncio.wait_for(self.expect("RESULT"), 60)))
        except (EOFError, TimeoutError) as exc:
            return Samples(errors=1, first_error=f"watcher process {self._process.pid}: {exc or 'no result'}")
        finally:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()


async def open_windows(client: SessionClient, ids: list[str], spread: float) -> list[float]:
    """One choice per session, paced evenly over ``spread`` seconds: each opens a window.
    Returns the deadlines the server set (slower than the pace if sessiond lags behind)."""
    loop = asyncio.get_running_loop()
    start, step = loop.time(), spread / len(ids)
    deadlines: list[float] = []

    async def submit(item: tuple[int, str]) -> None:
        index, session_id = item
        await asyncio.sleep(max(0.0, start + index * step - loop.time()))
        receipt = await client.submit_choice(session_id, PLAYERS[0], "left", timeout=CALL_TIMEOUT)
        deadlines.append(receipt.deadline.seconds + receipt.deadline.nanos / 1e9)

    await for_each(list(enumerate(ids)), submit, concurrency=64)
    return deadlines


@dataclass(slots=True)
class _Run:
    """What the parent observes of one close-lag run."""

    connect_seconds: float = 0.0
    rounds_done: int = 0
    deadline_spread: float = 0.0  # seconds between the first and the last deadline of a round, at most
    server_cpu_percent: float = 0.0


async def measure_close_lag(
    target: str, settings: LagSettings, server_cpu: Callable[[], float], log_dir: Path
) -> LagFigures:
    ids = session_ids(settings.prefix, settings.windows)
    run = _Run()
    async with SessionClient(target) as client:
        await create_sessions(client, ids, window_seconds=settings.window_seconds)
        started = time.monotonic()
        procs = [
            await WatcherProcess.start(target, i, settings, log_dir / f"watchers-{i}.log")
            for i in range(settings.procs)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(p.expect("READY") for p in procs)), CONNECT_TIMEOUT)
            run.connect_seconds = time.monotonic() - started
            await _rounds(client, ids, procs, settings, server_cpu, run)
        finally:
            results = await asyncio.gather(*(p.stop() for p in procs))
    return _figures(settings, results, run)


async def _rounds(
    client: SessionClient,
    ids: list[str],
    procs: list[WatcherProcess],
    settings: LagSettings,
    server_cpu: Callable[[], float],
    run: _Run,
) -> None:
    """Per round: open every window, then wait until every watcher saw its turn resolve."""
    cpu_before, measured_from = server_cpu(), time.monotonic()
    for turn in range(1, settings.rounds + 1):
        deadlines = await open_windows(client, ids, settings.spread)
        run.deadline_spread = max(run.deadline_spread, max(deadlines) - min(deadlines))
        done = asyncio.gather(*(p.expect(f"DONE {turn}") for p in procs))
        try:
            await asyncio.wait_for(done, settings.window_seconds + ROUND_SLACK)
        except TimeoutError:
            break  # some turn_resolved never came: the figures show how many did
        run.rounds_done = turn
    run.server_cpu_percent = 100 * (server_cpu() - cpu_before) / (time.monotonic() - measured_from)


def _figures(settings: LagSettings, results: list[Samples], run: _Run) -> LagFigures:
    def cpu_percent(r: Samples) -> float:
        return 100 * r.cpu_seconds / r.wall_seconds if r.wall_seconds else 0.0

    return LagFigures(
        settings=settings,
        delivery_ms=Summary.of(1000 * x for r in results for x in r.delivery),
        round_p99_ms=[
            Summary.of(1000 * x for r in results for x, t in zip(r.delivery, r.turns, strict=True) if t == turn).p99
            for turn in range(1, run.rounds_done + 1)
        ],
        resolve_ms=Summary.of(1000 * x for r in results for x in r.resolve),
        expected=settings.watchers * settings.rounds,
        rounds_done=run.rounds_done,
        errors=sum(r.errors for r in results),
        first_error=next((r.first_error for r in results if r.first_error), ""),
        connect_seconds=run.connect_seconds,
        deadline_spread=run.deadline_spread,
        server_cpu_percent=run.server_cpu_percent,
        client_cpu_percent_max=max((cpu_percent(r) for r in results), default=0.0),
    )
