"""A sessiond daemon in its own process, as an operator runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    def __init__(self, port: int, snapshot: Path, log: Path) -> None:
        self.port, self.snapshot, self.log = port, snapshot, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "SESSIOND_LISTEN": f"127.0.0.1:{self.port}",
            "SESSIOND_SNAPSHOT": str(self.snapshot),
            "SESSIOND_LOG_FORMAT": "json",
        }
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "sessiond", "serve"], env=env, stderr=log)
        self.wait_serving()

    def wait_serving(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
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

    def log_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]
