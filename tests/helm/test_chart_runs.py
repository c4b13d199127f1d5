"""The pod spec the chart writes actually serves: sessiond is started on this machine
with exactly the rendered container's command, arguments and environment, against a
real redis-server, and checked through the health service and with grpcurl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.helm.render import CHART, rendered_container
from tests.redis_server import RedisServer, free_port
from tests.support import grpcurl

pytestmark = pytest.mark.redis



@pytest.fixture
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def pod(redis_url: str, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    grpc_port, metrics_port = free_port(), free_port()
    argv, env = rendered_container(
        [CHART / "ci" / "redis-values.yaml"],
        set_values={"ports": {"grpc": grpc_port, "metrics": metrics_port, "health": free_port()}},
        secrets={"sessiond-redis": {"redis-url": redis_url}},
    )
    assert env["SESSIOND_STORE"] == "redis" and env["SESSIOND_REDIS_URL"] == redis_url
    # Only what the pod would have: no SESSIOND_* of this machine leaks in.
    base = {k: v for k, v in os.environ.items() if not k.startswith("SESSIOND_")}
    log = tmp_path / "pod.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env={**base, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_serving(grpc_port, proc, log)
        yield grpc_port, proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_serving(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            assert proc.poll() is None, f"sessiond exited:\n{log.read_text()}"
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)


def call(port: int, *args: str) -> str:
    result = subprocess.run(
        [grpcurl(), "-plaintext", *args[:-1], f"127.0.0.1:{port}", args[-1]],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_rendered_pod_spec_serves_on_redis(pod: tuple[int, subprocess.Popen[bytes], Path]) -> None:
    port, proc, log = pod
    assert "sessiond.v1.SessionService" in call(port, "list")
    health = json.loads(call(port, "-d", '{"service": "sessiond.v1.SessionService"}', "grpc.health.v1.Health/Check"))
    assert health["status"] == "SERVING"
    created = json.loads(call(port, "-d", '{"session_id": "pod-check"}', "sessiond.v1.SessionService/CreateSession"))
    assert created["session_id"] == "pod-check"
    stats = json.loads(call(port, "sessiond.v1.SessionService/GetServiceStats"))
    assert stats["store"] == "redis"
    proc.send_signal(signal.SIGTERM)  # what the kubelet sends after the preStop hook
    assert proc.wait(timeout=30) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("event") == "stopped" for line in lines), "the pod logs JSON, as the chart asks"
