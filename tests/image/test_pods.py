"""The chart's pods, played with ``podman kube play`` from the image the Dockerfile
builds, for the memory store and for the Redis store (Redis in a pod of its own, from
Debian's redis-server), with bearer tokens: what a platform team checks before a
rollout. See tests/image/kube.py for what podman plays and how the played copy differs.

Tests of one store share one pod, in file order; the drain test stops it, so it is last.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.helm.render import find, manifests
from tests.image import build, kube
from tests.image.conftest import FIGURES
from tests.image.podman import podman, podman_env
from tests.support import grpcurl

pytestmark = pytest.mark.timeout(1200)  # a first build on a fresh machine takes minutes

TOKEN = secrets.token_hex(16)
TOKENS = {"tokens": [{"name": "image-test", "token": TOKEN, "scopes": ["write"]}]}
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
READY_TIMEOUT = 120.0


@dataclass
class Played:
    store: str
    pod: kube.Pod
    objects: list[dict[str, Any]]

    @property
    def container_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = find(self.objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        return spec

    def probe_address(self) -> str:
        """Host address of the port the kubelet's gRPC probes use."""
        number = self.container_spec["readinessProbe"]["grpc"]["port"]
        name = next(p["name"] for p in self.container_spec["ports"] if p["containerPort"] == number)
        return self.pod.address(name)


def chart_objects(release: str, image: str, probe: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart rendered for this machine's images, tokens on, a short preStop sleep."""
    repository, tag = image.rsplit(":", 1)
    probe_repository, probe_tag = probe.rsplit(":", 1)
    return manifests(
        set_values={
            "image.repository": repository,
            "image.tag": tag,
            "auth.enabled": True,
            "auth.existingSecret": f"{release}-tokens",
            "preStopSleepSeconds": 1,
            "tests.image.repository": probe_repository,
            "tests.image.tag": probe_tag,
            **values,
        },
        release=release,
    )


def follow_logs_until(container: str, text: str, timeout: float = READY_TIMEOUT) -> None:
    """Read the container's log as it is written until a line contains ``text``."""
    proc = subprocess.Popen(
        ["podman", "logs", "--follow", container],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=podman_env(),
    )
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if text in line:
                return
        pytest.fail(f"{container} never logged {text!r} within {timeout} s")
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()


def wait_serving(address: str, service: str = "", timeout: float = READY_TIMEOUT) -> None:
    """Block until health ``service`` is SERVING at ``address`` (its Watch says so)."""
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        stub = health_pb2_grpc.HealthStub(channel)
        for reply in stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=timeout):
            if reply.status == SERVING:
                return


def play_sessiond(played_dir: Path, objects: list[dict[str, Any]], store: str) -> Iterator[Played]:
    pod = kube.for_podman(objects, played_dir, tokens=TOKENS)
    try:
        kube.play(pod)
        played = Played(store, pod, objects)
        wait_serving(played.probe_address(), "sessiond.v1.SessionService")
        yield played
    finally:
        pod.down()


@pytest.fixture(scope="module")
def redis_pod(tmp_path_factory: pytest.TempPathFactory, redis_image: str) -> Iterator[tuple[str, str]]:
    """A Redis pod (password on); (its pod IP, the password)."""
    workdir = tmp_path_factory.mktemp("redis")
    password = secrets.token_hex(12)
    name = f"{workdir.name}-redis"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "redis",
                    "image": redis_image,
                    "args": ["--port", "6379", "--requirepass", password, "--save", "", "--appendonly", "no"],
                }
            ]
        },
    }
    manifest = workdir / "redis.yaml"
    manifest.write_text(yaml.safe_dump(pod))
    podman("kube", "play", str(manifest))
    try:
        follow_logs_until(f"{name}-redis", "Ready to accept connections")
        played = kube.Pod(name=name, manifest=manifest)
        yield played.ip(), password
    finally:
        podman("kube", "down", str(manifest), check=False)


@pytest.fixture(scope="module", params=["memory", "redis"])
def played(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    image: build.Built,
    probe_image: str,
) -> Iterator[Played]:
    store: str = request.param
    release = f"sessiond-{store}"
    # Between them, the two render every kind of object the chart has.
    if store == "memory":
        values: dict[str, Any] = {
            "store.memory.snapshot": True,
            "console.enabled": True,
            "networkPolicy.enabled": True,
            "metrics.serviceMonitor.enabled": True,
        }
    else:
        ip, password = request.getfixturevalue("redis_pod")
        values = {
            "store.type": "redis",
            "store.redis.url": f"redis://:{password}@{ip}:6379/0",
            "autoscaling.enabled": True,
            "podDisruptionBudget.enabled": True,
        }
    objects = chart_objects(release, image.ref, probe_image, values)
    yield from play_sessiond(tmp_path_factory.mktemp(store), objects, store)


def test_podman_plays_the_deployment_and_skips_the_other_kinds(played: Played) -> None:
    kinds = {doc["kind"] for doc in yaml.safe_load_all(played.pod.manifest.read_text())}
    assert "Deployment" in kinds and kinds - {"Deployment"} <= kube.SKIPPED_KINDS
    assert podman("pod", "exists", played.pod.name, check=False).returncode == 0
    skipped = sorted(kinds - {"Deployment"})
    FIGURES.append(f"{played.store}: podman kube play ran the Deployment and skipped {', '.join(skipped)}")


# --- the container is what its securityContext says ---------------------------------------


def test_runs_as_10001_on_a_read_only_root_without_capabilities(played: Played) -> None:
    pod = played.pod
    assert pod.exec("id", "-u") == (0, "10001\n")
    assert pod.exec("id", "-g") == (0, "10001\n")
    code, out = pod.exec("sh", "-c", "echo x > /written-by-test")
    assert code != 0 and "Read-only file system" in out
    assert pod.exec("sh", "-c", "echo x > /tmp/written-by-test")[0] == 0  # the /tmp emptyDir
    status = dict(
        line.split(":\t", 1)
        for line in pod.exec("cat", "/proc/self/status", check=True)[1].splitlines()
        if ":\t" in line
    )
    assert status["CapEff"] == status["CapPrm"] == status["CapAmb"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"  # allowPrivilegeEscalation: false


def test_pid_1_is_tini_and_the_prestop_command_runs(played: Played) -> None:
    _, cmdline = played.pod.exec("cat", "/proc/1/cmdline", check=True)
    assert cmdline.split("\0")[:3] == ["tini", "--", "sessiond"]
    pre_stop = played.container_spec["lifecycle"]["preStop"]["exec"]["command"]
    assert played.pod.exec(*pre_stop)[0] == 0  # podman runs no hooks: the kubelet would


# --- it serves ------------------------------------------------------------------------------


def test_health_check_and_watch_serving_on_the_probe_port(played: Played) -> None:
    spec = played.container_spec
    with grpc.insecure_channel(played.probe_address()) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            service = spec[probe]["grpc"]["service"]
            assert stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status == SERVING
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert next(watch).status == SERVING
        watch.cancel()


def _grpcurl(played: Played, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    headers = ["-H", f"authorization: Bearer {token}"] if token else []
    return subprocess.run(
        [grpcurl(), "-plaintext", *headers, *args[:-1], played.pod.address("grpc"), args[-1]],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_reflection_lists_the_services(played: Played) -> None:
    listed = set(_grpcurl(played, "list").stdout.split())
    assert {"sessiond.v1.SessionService", "sessiond.v1.PlayerService", "grpc.health.v1.Health"} <= listed


def test_create_session_needs_the_token(played: Played) -> None:
    body = '{"session": {"title": "played by podman"}}'
    refused = _grpcurl(played, "-d", body, "sessiond.v1.SessionService/CreateSession")
    assert refused.returncode != 0 and "Unauthenticated" in refused.stderr, refused.stderr
    created = _grpcurl(played, "-d", body, "sessiond.v1.SessionService/CreateSession", token=TOKEN)
    assert created.returncode == 0, created.stderr
    assert '"title": "played by podman"' in created.stdout


def test_metrics_answer_on_the_metrics_port(played: Played) -> None:
    with urllib.request.urlopen(f"http://{played.pod.address('metrics')}/metrics", timeout=10) as reply:
        assert reply.status == 200
        assert "sessiond_rpc_requests" in reply.read().decode()


def test_console_only_when_enabled(played: Played) -> None:
    """memory: console.enabled, served on its published port; redis: off, so nothing
    listens on sessiond's default console address inside the pod either."""
    if played.store == "memory":
        with urllib.request.urlopen(f"http://{played.pod.address('console')}/", timeout=10) as reply:
            assert reply.status == 200
    else:
        assert "console" not in played.pod.ports
        probe = "import socket; socket.create_connection(('127.0.0.1', 8080), timeout=5)"
        code, out = played.pod.exec("python", "-c", probe)
        assert code != 0 and "ConnectionRefusedError" in out


def test_helm_test_pod_passes(played: Played, tmp_path: Path) -> None:
    test_pod = next(o for o in played.objects if o["kind"] == "Pod")
    code, logs = kube.play_test_pod(test_pod, tmp_path, played.pod.ip())
    assert code == 0, logs
    assert "status: SERVING" in logs


# --- SIGTERM drains (last: it stops the pod) -------------------------------------------------


def test_sigterm_drains_within_the_grace_period(played: Played) -> None:
    created = _grpcurl(
        played,
        "-d",
        '{"session": {"title": "kept across the drain"}}',
        "sessiond.v1.SessionService/CreateSession",
        token=TOKEN,
    )
    assert created.returncode == 0, created.stderr
    statuses: list[int] = []
    with grpc.insecure_channel(played.probe_address()) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        assert next(watch).status == SERVING

        def collect() -> None:
            try:
                for reply in watch:
                    statuses.append(reply.status)
                    if reply.status == NOT_SERVING:
                        # An open health Watch holds sessiond's drain for its whole
                        # shutdownGrace, as any call in flight does; a prober hangs up.
                        watch.cancel()
            except grpc.RpcError:
                pass  # the stream ends: cancelled here, or the server stopped

        reader = threading.Thread(target=collect)
        reader.start()
        seconds = played.pod.stop()
        reader.join(timeout=30)
    state = played.pod.state()
    FIGURES.append(f"{played.store} pod: SIGTERM to exit {seconds:.1f} s (grace {played.pod.grace_seconds} s)")
    assert NOT_SERVING in statuses
    assert state["ExitCode"] == 0, (
        f"exit {state['ExitCode']} (137: SIGKILLed after the grace period)\n{played.pod.logs()}"
    )
    assert '"event": "stopped"' in played.pod.logs()
    if played.store == "memory":
        snapshot = played.pod.volume_path("data") / "snapshot.json"
        assert "kept across the drain" in snapshot.read_text()


def test_sigterm_stops_a_pod_still_starting(tmp_path: Path, image: build.Built, probe_image: str) -> None:
    """SIGTERM before sessiond has set its own handler still stops the pod at once: tini
    (PID 1) passes it on, and sessiond, not PID 1, takes the default action. sessiond
    itself as PID 1 would ignore it until SIGKILL at the end of the grace period (137).
    Its start is held deterministically: the snapshot it reads first is a FIFO with no
    writer."""
    objects = chart_objects("sessiond-starting", image.ref, probe_image, {"store.memory.snapshot": True})
    pod = kube.for_podman(objects, tmp_path, tokens=TOKENS)
    try:
        podman("volume", "create", pod.volumes["data"])
        fifo = pod.volume_path("data") / "snapshot.json"
        os.mkfifo(fifo)
        os.chown(fifo, kube.SESSIOND_GID, kube.SESSIOND_GID)
        kube.play(pod)
        follow_logs_until(pod.container(), '"event": "authentication on"')
        pod.stop()
        assert pod.state()["ExitCode"] == 143, pod.logs()  # 128 + SIGTERM, not 137 (SIGKILL)
    finally:
        pod.down()
