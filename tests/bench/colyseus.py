"""The Colyseus peer: the same vote as the close-lag benchmark, in a Colyseus room.

tests/bench/peers/colyseus holds a minimal vote room (server.js: the first vote opens a
window, votes replaceable, close at the deadline, broadcast the tally and winner) and its
load (load.js), on pinned npm packages (package-lock.json). The server runs pinned to the
servers' CPU like sessiond; load processes on the others, each with whole rooms. Figures:
close lag (receive time of the result - deadline, at every client), fan-out of one
broadcast per room (receive - send), and the server's RSS growth per connected client.

What differs from sessiond's figures: WebSocket instead of gRPC/HTTP2, one Node process
holding everything in memory, while sessiond keeps it in Redis so any replica serves any
session (which a Colyseus room, bound to its process, cannot).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.bench.procs import cpu_seconds_of, pinned, rss_bytes
from tests.bench.stats import Summary

PEER = Path(__file__).resolve().parent / "peers" / "colyseus"
CONNECT_TIMEOUT = 180.0


@dataclass(frozen=True, slots=True)
class PeerSettings:
    rooms: int = 1000
    per_room: int = 5
    procs: int = 2
    window_seconds: float = 5.0
    spread: float = 2.0
    server_cpus: str = ""
    client_cpus: str = ""


@dataclass(frozen=True, slots=True)
class PeerFigures:
    settings: PeerSettings
    lag_ms: Summary
    fanout_ms: Summary
    rss_per_client: float  # bytes
    connect_seconds: float
    server_cpu_percent: float
    errors: int


def available() -> str | None:
    """Why the peer cannot run here (None: it can). Installs its packages if missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    if not (PEER / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True, capture_output=True)
    return None


def measure_peer(settings: PeerSettings, port: int, work: Path) -> PeerFigures:
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            _process(["server.js", "--port", str(port)], settings.server_cpus, work / "colyseus-server.log")
        )
        assert server.stdout is not None
        assert server.stdout.readline().startswith("READY"), f"the Colyseus server did not start (see {work})"
        time.sleep(0.5)
        rss_before = rss_bytes(server.pid)
        shares = [
            settings.rooms // settings.procs + (i < settings.rooms % settings.procs) for i in range(settings.procs)
        ]
        started = time.monotonic()
        loads = []
        for i, rooms in enumerate(shares):
            argv = [
                "load.js",
                "--url",
                f"ws://127.0.0.1:{port}",
                "--rooms",
                str(rooms),
                "--per-room",
                str(settings.per_room),
            ]
            argv += [
                "--window-ms",
                str(int(settings.window_seconds * 1000)),
                "--spread-ms",
                str(int(settings.spread * 1000)),
            ]
            loads.append(stack.enter_context(_process(argv, settings.client_cpus, work / f"colyseus-load-{i}.log")))
        for load in loads:
            assert _line(load).startswith("READY"), f"a Colyseus load process failed (see {work})"
        connect_seconds = time.monotonic() - started
        rss_after = rss_bytes(server.pid)
        cpu_before, wall_before = cpu_seconds_of(server.pid), time.monotonic()
        for load in loads:
            assert load.stdin is not None
            load.stdin.write("GO\n")
            load.stdin.flush()
        lag: list[float] = []
        fanout: list[float] = []
        errors = 0
        for load in loads:
            line = _line(load)
            assert line.startswith("RESULT "), f"a Colyseus load process failed (see {work})"
            result = json.loads(line.removeprefix("RESULT "))
            lag += result["lag"]
            fanout += result["fanout"]
            errors += result["errors"]
        cpu = (cpu_seconds_of(server.pid) - cpu_before) / (time.monotonic() - wall_before) * 100
        clients = settings.rooms * settings.per_room
        rss = (rss_after - rss_before) / clients
        return PeerFigures(settings, Summary.of(lag), Summary.of(fanout), rss, connect_seconds, cpu, errors)


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline()


@contextlib.contextmanager
def _process(argv: list[str], cpus: str, log: Path) -> Iterator[subprocess.Popen[str]]:
    """``node argv`` in the peer's folder, pinned to ``cpus``, stderr to ``log``; ended on exit."""
    with open(log, "wb") as err:
        process = subprocess.Popen(
            pinned(["node", *argv], cpus),
            cwd=PEER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
