"""A sessiond daemon in its own process, as an operator runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# The daemon runs this checkout's code, whatever the environment's editable install points at.
ROOT = Path(__file__).resolve().parents[2]
SOURCE_PATH = os.pathsep.join((str(ROOT), str(ROOT / "clients" / "python")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def source_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with this checkout's packages first on PYTHONPATH."""
    inherited = base.get("PYTHONPATH", "")
    return {**base, "PYTHONPATH": os.pathsep.join(p for p in (SOURCE_PATH, inherited) if p)}


class Daemon:
    """``python -m sessiond serve`` on 127.0.0.1:``port``, logging JSON to ``log``.

    ``snapshot`` is the memory store's snapshot file (None: no snapshot); ``store`` picks
    the backend, ``env`` adds SESSIOND_* variables (e.g. SESSIOND_REDIS_URL) and ``args``
    adds flags. ``start`` again after ``terminate`` or ``kill`` reuses the port and log.
    """

    def __init__(
        self,
        port: int,
        snapshot: Path | None,
        log: Path,
        *,
        store: str = "memory",
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.port, self.snapshot, self.log = port, snapshot, log
        self.store, self.env, self.args = store, dict(env or {}), tuple(args)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.launch()
        self.wait_serving()

    def launch(self) -> None:
        """Start the process without waiting for it to serve (see ``wait_serving``)."""
        env = {
            **source_env(os.environ),
            "SESSIOND_LISTEN": self.target,
            "SESSIOND_STORE": self.store,
            "SESSIOND_LOG_FORMAT": "json",
            # A free port: daemons of parallel test runs must not fight over 9464.
            "SESSIOND_METRICS_LISTEN": "127.0.0.1:0",
            "SESSIOND_CONSOLE_LISTEN": "",
            **self.env,
        }
        if self.snapshot is not None:
            env["SESSIOND_SNAPSHOT"] = str(self.snapshot)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sessiond", "serve", *self.args], env=env, cwd=ROOT, stderr=log
            )

    def wait_serving(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)  # type: ignore[no-untyped-call]
            while True:
                assert self.proc is not None, "launch() first"
                code = self.proc.poll()
                assert code is None, f"sessiond exited ({code}) before serving:\n{self.log_tail()}"
                try:
                    if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                        return
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill(self) -> int:
        """SIGKILL (kill -9): no drain, no snapshot, nothing flushed."""
        assert self.proc is not None
        self.proc.kill()
        return self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Make sure the process is gone (for teardown): SIGTERM, then SIGKILL."""
        if not self.running:
            return
        try:
            self.terminate()
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def log_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]
