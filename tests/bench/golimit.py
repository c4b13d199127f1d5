"""The Go limit: tests/bench/goserver (grpc-go answering canned bytes), built here with the
Go toolchain, answering each measured method with the bytes the no-op baseline sends."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.bench.procs import GrpcServer
from tests.bench.workload import RPCS

SOURCE = Path(__file__).with_name("goserver")
BUILD_TIMEOUT = 300.0


def go_server(cpus: str, work: Path) -> GrpcServer | str:
    """The Go server, ready to start, or why it cannot run here."""
    if shutil.which("go") is None:
        return "go is not installed"
    binary = work / "goserver"
    done = subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        cwd=SOURCE,
        capture_output=True,
        text=True,
        check=False,
        timeout=BUILD_TIMEOUT,
    )
    if done.returncode != 0:
        return f"go build failed: {done.stderr.strip()[:200]}"
    answers = work / "go-answers"
    answers.mkdir(exist_ok=True)
    for rpc in RPCS.values():
        (answers / f"{rpc.method}.bin").write_bytes(rpc.canned().SerializeToString())
    return GrpcServer(
        "go-limit", lambda address: ["-listen", address, "-answers", str(answers)], cpus, work, program=str(binary)
    )
