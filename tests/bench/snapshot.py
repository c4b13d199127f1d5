"""Snapshots of the memory store under load (issue 9, item 6).

    PYTHONPATH=.:clients/python python -m tests.bench.snapshot [--sessions 100000]

Writes a snapshot file of ``--sessions`` sessions (1 KiB of state, four players, an open
window), then runs ``sessiond serve --store memory`` on it twice, each time measuring
start-up (spawn to the first answer) and GetSession latency under a closed-loop load:

- quiet: periodic snapshots every hour, so none is written while measured;
- snapshotting: ``--snapshot-interval 0.1``, so snapshots are written back to back and
  every call of the measured run overlaps one.

The second daemon then gets SIGTERM with the load still running; the time to exit
includes the drain and the last snapshot. ``--source DIR`` runs another checkout's
sessiond (e.g. main's, for a before/after figure) against the same file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import grpc
from sessiond_client import pb

from tests.bench import report
from tests.bench.procs import ROOT, pinned
from tests.bench.stats import Summary
from tests.bench.workload import PLAYERS, session_state
from tests.redis_server import free_port

GET = "/sessiond.v1.SessionService/GetSession"
P99_MAX_RATIO = 2.0
STOP_MAX_SECONDS = 10.0
STOP_WAIT_SECONDS = 120.0  # then SIGKILL, and the figure says how long it was given
QUIET_INTERVAL = "3600"
BACK_TO_BACK_INTERVAL = "0.1"


@dataclass(frozen=True, slots=True)
class SnapshotSettings:
    sessions: int = 100_000
    duration: float = 8.0
    concurrency: int = 8
    source: Path = ROOT
    server_cpus: str = ""


@dataclass(frozen=True, slots=True)
class Run:
    startup_seconds: float
    latency_ms: Summary
    errors: int
    snapshots: int  # written from the first answer to the end of the measured load
    serving_seconds: float  # from the first answer to the end of the measured load


@dataclass(frozen=True, slots=True)
class SnapshotFigures:
    settings: SnapshotSettings
    file_bytes: int
    quiet: Run
    snapshotting: Run
    stop_seconds: float
    exit_code: int


def write_snapshot_file(path: Path, sessions: int) -> int:
    """A snapshot of ``sessions`` copies of one session made by the memory store, with its
    index; returns its size."""
    from sessiond.core.lifecycle import SessionSpec
    from sessiond.manager.manager_config import ManagerConfig
    from sessiond.manager.sessions import SessionManager
    from sessiond.store import snapshot
    from sessiond.store.memory import MemoryStore

    async def one_session() -> dict[str, Any]:
        store = MemoryStore()
        manager = SessionManager(store, ManagerConfig())
        spec = SessionSpec(game_id="bench-game", title="Benchmark", session_state=session_state(), window_seconds=3600)
        created = await manager.create_session(spec, "template", "")
        for player in PLAYERS:
            await manager.submit_choice(created.session_id, player, "left")
        return json.loads(snapshot.encode(store.dump()))  # type: ignore[no-any-return]

    dump = asyncio.run(one_session())
    [template] = dump.pop("sessions")
    blob = json.dumps(template)

    def session(i: int) -> dict[str, Any]:
        return json.loads(blob.replace('"template"', f'"snap-{i:06d}"'))  # type: ignore[no-any-return]

    # As sessiond writes it at shutdown: with its index, so the next snapshot copies what did not change.
    records = [(f"snap-{i:06d}", 0, partial(session, i)) for i in range(sessions)]
    contents = snapshot.Contents(dump, records)
    snapshot.write_indexed(path, snapshot.index_path(path), "0" * 16, contents, snapshot.Previous("", {}))
    return path.stat().st_size


class Daemon:
    def __init__(self, settings: SnapshotSettings, snapshot_file: Path, interval: str, log: Path) -> None:
        self.target = f"127.0.0.1:{free_port()}"
        paths = [str(settings.source), str(settings.source / "clients" / "python")]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(paths),
            "PYTHONDONTWRITEBYTECODE": "1",
            "SESSIOND_LISTEN": self.target,
            "SESSIOND_STORE": "memory",
            "SESSIOND_SNAPSHOT": str(snapshot_file),
            "SESSIOND_SNAPSHOT_INTERVAL": interval,
            "SESSIOND_MAX_SESSIONS": str(settings.sessions * 2),
            "SESSIOND_METRICS_LISTEN": "",
            "SESSIOND_CONSOLE_LISTEN": "",
            "SESSIOND_LOG_FORMAT": "json",
        }
        self.log = log
        command = pinned([sys.executable, "-m", "sessiond", "serve"], settings.server_cpus)
        self.started = time.monotonic()
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(command, env=env, stderr=out, cwd=settings.source)

    async def wait_serving(self, timeout: float = 900.0) -> float:
        """Seconds from spawn to the first GetSession answered."""
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sessiond exited at start; see {self.log}")
            # A new channel each time: a channel refused a few times backs off for up to 2 minutes.
            async with grpc.aio.insecure_channel(self.target) as channel:
                try:
                    await channel.unary_unary(GET, request_serializer=pb.GetSessionRequest.SerializeToString)(
                        pb.GetSessionRequest(session_id="snap-000000"), timeout=1.0
                    )
                    return time.monotonic() - self.started
                except grpc.aio.AioRpcError:
                    if time.monotonic() - self.started > timeout:
                        raise
            await asyncio.sleep(0.2)

    def snapshots_written(self) -> int:
        lines = self.log.read_text(errors="replace").splitlines()
        return sum(1 for line in lines if line.startswith("{") and json.loads(line).get("event") == "snapshot written")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def get_load(
    channel: grpc.aio.Channel, settings: SnapshotSettings, stop: asyncio.Event
) -> tuple[list[float], int]:
    """Closed-loop GetSession of random sessions until ``stop``: latencies (ms) and errors."""
    get: grpc.aio.UnaryUnaryMultiCallable[pb.GetSessionRequest, bytes] = channel.unary_unary(
        GET, request_serializer=pb.GetSessionRequest.SerializeToString
    )
    latencies: list[float] = []
    errors = 0

    async def caller() -> None:
        nonlocal errors
        while not stop.is_set():
            request = pb.GetSessionRequest(session_id=f"snap-{random.randrange(settings.sessions):06d}")
            began = time.perf_counter()
            try:
                await get(request, timeout=30)
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            latencies.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(caller() for _ in range(settings.concurrency)))
    return latencies, errors


async def measure_run(daemon: Daemon, settings: SnapshotSettings, *, then_stop: bool) -> tuple[Run, float, int]:
    """The daemon's start-up and latency; with ``then_stop`` also SIGTERM-to-exit under load."""
    startup = await daemon.wait_serving()
    serving_since = time.monotonic()
    async with grpc.aio.insecure_channel(daemon.target) as channel:
        stop = asyncio.Event()
        load = asyncio.create_task(get_load(channel, settings, stop))
        await asyncio.sleep(1.0)  # warm-up, not measured
        stop.set()
        await load
        stop = asyncio.Event()
        load = asyncio.create_task(get_load(channel, settings, stop))
        await asyncio.sleep(settings.duration)
        stop.set()
        latencies, errors = await load
        serving = time.monotonic() - serving_since
        run = Run(startup, Summary.of(latencies), errors, daemon.snapshots_written(), serving)
        if not then_stop:
            return run, 0.0, 0
        stop = asyncio.Event()
        load = asyncio.create_task(get_load(channel, settings, stop))  # SIGTERM under load
        await asyncio.sleep(0.5)
        signalled = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(daemon.proc.wait, STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            daemon.kill()
            code = daemon.proc.returncode
        stopped = time.monotonic() - signalled
        stop.set()
        await load
        return run, stopped, code


def measure_snapshots(settings: SnapshotSettings, work: Path) -> SnapshotFigures:
    path = work / f"snapshot-{settings.sessions}.json"
    size = path.stat().st_size if path.exists() else write_snapshot_file(path, settings.sessions)
    runs: list[Run] = []
    stopped, code = 0.0, 0
    for name, interval in (("quiet", QUIET_INTERVAL), ("snapshotting", BACK_TO_BACK_INTERVAL)):
        daemon = Daemon(settings, path, interval, work / f"sessiond-{name}.log")
        try:
            run, stopped, code = asyncio.run(measure_run(daemon, settings, then_stop=name == "snapshotting"))
            runs.append(run)
        finally:
            daemon.kill()
    return SnapshotFigures(settings, size, runs[0], runs[1], stopped, code)


def rows(figures: SnapshotFigures) -> list[report.Row]:
    quiet, busy = figures.quiet, figures.snapshotting
    ratio = busy.latency_ms.p99 / quiet.latency_ms.p99
    label = f"memory store, {figures.settings.sessions:,} sessions ({figures.file_bytes / 1e6:,.0f} MB snapshot)"

    def latency(run: Run) -> str:
        s = run.latency_ms
        return f"p50 {s.p50:.1f} / p99 {s.p99:.1f} / max {s.max:,.0f} ms over {s.count:,} calls, {run.errors} errors"

    return [
        report.Row(
            f"{label}: GetSession p99 while snapshots are written / without",
            f"**{ratio:.2f}x** ({busy.latency_ms.p99:.1f} / {quiet.latency_ms.p99:.1f} ms)",
            f"<= {P99_MAX_RATIO:g}x, no errors",
            ratio <= P99_MAX_RATIO and busy.errors == 0,
        ),
        report.Row(f"{label}: GetSession without snapshots", latency(quiet)),
        report.Row(
            f"{label}: GetSession while snapshots are written",
            f"{latency(busy)}; {busy.snapshots} snapshot(s) completed in the first {busy.serving_seconds:.0f} s "
            "of serving, back to back",
        ),
        report.Row(
            f"{label}: SIGTERM to exit under load (drain + last snapshot)",
            f"**{figures.stop_seconds:.1f} s** (exit code {figures.exit_code})",
            f"<= {STOP_MAX_SECONDS:g} s, exit 0",
            figures.stop_seconds <= STOP_MAX_SECONDS and figures.exit_code == 0,
        ),
        report.Row(
            f"{label}: start-up, spawn to first answer",
            f"{quiet.startup_seconds:.1f} s (second start {busy.startup_seconds:.1f} s)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.snapshot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000, help="sessions in the snapshot [100000]")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of each measured load [8]")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent GetSession calls [8]")
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout whose sessiond runs [this one]")
    parser.add_argument("--work-dir", type=Path, help="snapshot and logs (default: a new temporary directory)")
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sessiond-snapshot-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = SnapshotSettings(args.sessions, args.duration, args.concurrency, args.source.resolve())
    figures = measure_snapshots(settings, work)
    print(f"sessiond from {settings.source}; logs in {work}")
    print(report.table(rows(figures)))


if __name__ == "__main__":
    main()
