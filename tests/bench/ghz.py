"""Running ghz (the pinned gRPC load generator, see install-ghz.sh) and reading its report."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.procs import ROOT, pinned
from tests.bench.stats import Summary

INSTALL_SCRIPT = Path(__file__).with_name("install-ghz.sh")
PROTO_DIR = ROOT / "proto"
PROTO = PROTO_DIR / "sessiond" / "v1" / "session_service.proto"
# google/api/*.proto (field_behavior) come with googleapis-common-protos, as for gen_proto.
_FIELD_BEHAVIOR = importlib.util.find_spec("google.api.field_behavior_pb2")
GOOGLE_API_DIR = Path(str(_FIELD_BEHAVIOR and _FIELD_BEHAVIOR.origin)).parents[2]
# Calls cut short when ghz stops at its time limit (-x) are not the server's errors.
STOP_ARTEFACTS = ("use of closed network connection", "context canceled", "client connection is closing")


def ensure_ghz() -> str:
    """The ghz binary: install-ghz.sh installs the pinned version if it is not there yet."""
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        found = shutil.which("ghz")
        if found:
            return found
        raise RuntimeError(f"ghz is missing and install-ghz.sh failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def ghz_version(ghz: str) -> str:
    """The module version ghz was built from (``ghz --version`` says "dev" for ``go install``)."""
    done = subprocess.run(["go", "version", "-m", ghz], capture_output=True, text=True, check=False, timeout=30)
    for line in done.stdout.splitlines():
        fields = line.split()
        if fields[:2] == ["mod", "github.com/bojand/ghz"]:
            return fields[2]
    return "unknown"


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """One ghz run: ``concurrency`` workers over ``connections`` HTTP/2 connections, until
    ``duration`` seconds or ``max_requests`` requests, whichever comes first."""

    concurrency: int
    connections: int
    duration: float
    max_requests: int
    cpus: str


@dataclass(slots=True)
class LoadResult:
    """OK calls, their latencies (ms), errors, and the seconds the run took. Adds up over runs."""

    ok: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def summary(self) -> Summary:
        return Summary.of(self.latencies_ms)

    def add(self, other: LoadResult) -> None:
        self.ok += other.ok
        self.seconds += other.seconds
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error


def run_ghz(ghz: str, target: str, call: str, data_file: Path, settings: LoadSettings, out: Path) -> LoadResult:
    """Load ``target`` with the unary ``call`` (full method name), requests from ``data_file``
    (a JSON array, used round-robin)."""
    command = [
        ghz, "--insecure",
        "--import-paths", f"{PROTO_DIR},{GOOGLE_API_DIR}", "--proto", str(PROTO),
        "--call", call,
        "--data-file", str(data_file),
        "--concurrency", str(settings.concurrency),
        "--connections", str(settings.connections),
        "--total", str(settings.max_requests),
        "--max-duration", f"{settings.duration}s",
        "--timeout", "10s",
        "--format", "json", "--output", str(out),
        target,
    ]  # fmt: skip
    # Go sizes GOMAXPROCS to the CPUs taskset leaves it.
    done = subprocess.run(
        pinned(command, settings.cpus), capture_output=True, text=True, check=False, timeout=settings.duration + 60
    )
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"ghz failed ({done.returncode}): {done.stderr.strip()}")
    return parse_report(json.loads(out.read_text()))


def parse_report(report: dict[str, Any]) -> LoadResult:
    stopped_by_time = report.get("endReason") == "timeout"
    result = LoadResult(seconds=report["total"] / 1e9)
    for call in report.get("details") or []:
        if call["status"] == "OK":
            result.ok += 1
            result.latencies_ms.append(call["latency"] / 1e6)
        elif not (stopped_by_time and any(a in call["error"] for a in STOP_ARTEFACTS)):
            result.errors += 1
            result.first_error = result.first_error or f"{call['status']}: {call['error']}"
    return result
