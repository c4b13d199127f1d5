"""Play the Helm chart's rendered manifests with ``podman kube play``.

What podman (4.3, Debian bookworm) plays of the chart: the Deployment, as one pod. It
takes and skips every other kind the chart renders (``SKIPPED_KINDS``), and the ``helm
test`` Pod is played on its own once the pod serves.

The played copy differs from the rendered objects only where podman 4.3 needs it, each
change named here and nothing else:

- the chart's Secret becomes a podman secret made with ``podman secret create`` from
  its ``data`` as JSON, the form 4.3's ``secretKeyRef`` reads: 4.3 stores a played
  Secret as the whole object in YAML and then fails to read it back;
- container ports get ``hostPort`` on 127.0.0.1 (a free port each): kube play has no
  ``--publish``;
- emptyDir volumes get a name private to the run: podman makes a named volume from the
  volume's name (``tmp``, ``data``), shared by every pod that uses the name;
- the bearer-tokens Secret volume becomes a hostPath directory whose file has the mode
  and group Kubernetes would give it (``defaultMode`` 0440, group = ``fsGroup``): podman
  4.3 ignores ``defaultMode`` and ``fsGroup`` and writes the file 0644, which sessiond
  rightly refuses as readable by others.

Also unlike a kubelet, podman runs no preStop hook (the tests run its command) and
stops a pod after its own 10 seconds rather than ``terminationGracePeriodSeconds``;
``Pod.stop()`` does what the kubelet does: SIGTERM, then SIGKILL after the grace period.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.image.podman import podman
from tests.redis_server import free_port

PLAYED_KINDS = frozenset({"Deployment"})
SECRET_KINDS = frozenset({"Secret"})
SKIPPED_KINDS = frozenset(
    {
        "ServiceAccount",
        "Service",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
    }
)
LOOPBACK = "127.0.0.1"
SESSIOND_GID = 10001


@dataclass
class Pod:
    """A played pod: its podman names, host ports by container port name, and files."""

    name: str
    manifest: Path
    ports: dict[str, int] = field(default_factory=dict)
    grace_seconds: int = 30
    volumes: dict[str, str] = field(default_factory=dict)  # pod volume name -> podman volume
    secrets: list[dict[str, Any]] = field(default_factory=list)  # Secret objects, created first

    def container(self, name: str = "sessiond") -> str:
        return f"{self.name}-{name}"

    def address(self, port_name: str = "grpc") -> str:
        return f"{LOOPBACK}:{self.ports[port_name]}"

    def ip(self) -> str:
        """The pod's address on podman's network (where other pods reach it)."""
        infra = podman("pod", "inspect", self.name, "--format", "{{.InfraContainerID}}").stdout.strip()
        networks = json.loads(podman("inspect", infra, "--format", "{{json .NetworkSettings.Networks}}").stdout)
        return str(next(iter(networks.values()))["IPAddress"])

    def exec(self, *argv: str, check: bool = False) -> tuple[int, str]:
        """Run ``argv`` in the sessiond container as its user; (exit code, stdout+stderr)."""
        proc = podman("exec", self.container(), *argv, check=check)
        return proc.returncode, proc.stdout + proc.stderr

    def logs(self) -> str:
        proc = podman("logs", self.container(), check=False)
        return proc.stdout + proc.stderr

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(podman("inspect", self.container(), "--format", "{{json .State}}").stdout)
        return state

    def volume_path(self, pod_volume: str) -> Path:
        """Where a pod volume's files are on this machine."""
        out = podman("volume", "inspect", self.volumes[pod_volume], "--format", "{{.Mountpoint}}").stdout
        return Path(out.strip())

    def stop(self) -> float:
        """Stop as the kubelet does (SIGTERM; SIGKILL after the grace period); seconds taken."""
        start = time.monotonic()
        podman("pod", "stop", "--time", str(self.grace_seconds), self.name, timeout=self.grace_seconds + 60)
        return time.monotonic() - start

    def down(self) -> None:
        """``podman kube down`` the played file, then what 4.3 leaves behind (volumes, secrets)."""
        podman("kube", "down", str(self.manifest), check=False)
        for volume in self.volumes.values():
            podman("volume", "rm", "--force", volume, check=False)
        for secret in self.secrets:
            podman("secret", "rm", secret["metadata"]["name"], check=False)


def _installed(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``helm install`` creates: every object but the ``helm test`` hook's."""
    installed = [o for o in objects if o.get("metadata", {}).get("annotations", {}).get("helm.sh/hook") != "test"]
    for obj in installed:
        if obj["kind"] not in PLAYED_KINDS | SECRET_KINDS | SKIPPED_KINDS:
            raise ValueError(f"the chart renders a {obj['kind']}: say whether podman plays it")
    return installed


def _publish(spec: dict[str, Any]) -> dict[str, int]:
    ports: dict[str, int] = {}
    for container in spec["containers"]:
        for port in container.get("ports") or []:
            port["hostPort"] = ports[port["name"]] = free_port()
            port["hostIP"] = LOOPBACK
    return ports


def _tokens_directory(tokens: dict[str, Any], where: Path) -> Path:
    """tokens.json as Kubernetes mounts it: root-owned, group fsGroup, mode 0440."""
    where.mkdir(parents=True, exist_ok=True)
    path = where / "tokens.json"
    path.write_text(json.dumps(tokens))
    os.chown(path, 0, SESSIOND_GID)
    path.chmod(0o440)
    return where


def for_podman(
    objects: Iterable[dict[str, Any]],
    workdir: Path,
    *,
    tokens: dict[str, Any] | None = None,
) -> Pod:
    """Write the played copy of ``objects`` under ``workdir``; the Pod it will make."""
    installed = _installed(copy.deepcopy(list(objects)))
    deployment = next(o for o in installed if o["kind"] == "Deployment")
    secrets = [o for o in installed if o["kind"] in SECRET_KINDS]
    # The kinds podman skips stay in the played file: it must take them and go on.
    played = [o for o in installed if o["kind"] not in SECRET_KINDS]
    spec = deployment["spec"]["template"]["spec"]
    run = workdir.name
    pod = Pod(
        name=f"{deployment['metadata']['name']}-pod-0",
        manifest=workdir / "played.yaml",
        grace_seconds=int(spec["terminationGracePeriodSeconds"]),
        secrets=secrets,
    )
    pod.ports = _publish(spec)
    for volume in spec["volumes"]:
        if "emptyDir" in volume:
            private = f"{run}-{volume['name']}"
            pod.volumes[volume["name"]] = private
            for container in spec["containers"]:
                for mount in container.get("volumeMounts") or []:
                    if mount["name"] == volume["name"]:
                        mount["name"] = private
            volume["name"] = private
        elif volume["name"] == "auth-tokens":
            if tokens is None:
                raise ValueError("the chart mounts bearer tokens: pass tokens={'tokens': [...]}")
            volume.pop("secret")
            volume["hostPath"] = {"path": str(_tokens_directory(tokens, workdir / "auth")), "type": "Directory"}
    pod.manifest.write_text(yaml.safe_dump_all(played, sort_keys=False))
    return pod


def play(pod: Pod) -> Pod:
    """Create the pod's secrets, then ``podman kube play`` it."""
    podman("pod", "rm", "--force", pod.name, check=False)  # left by an interrupted run
    for secret in pod.secrets:
        data = pod.manifest.with_name(f"{secret['metadata']['name']}.json")
        data.write_text(json.dumps(secret["data"]))
        podman("secret", "rm", secret["metadata"]["name"], check=False)  # left by an earlier run
        podman("secret", "create", secret["metadata"]["name"], str(data))
        data.unlink()
    podman("kube", "play", str(pod.manifest), timeout=300)
    return pod


def play_test_pod(test_pod: dict[str, Any], workdir: Path, service_ip: str) -> tuple[int, str]:
    """Play the chart's ``helm test`` Pod, its Service name resolving to ``service_ip``;
    (exit code, logs) once it has finished."""
    pod = copy.deepcopy(test_pod)
    host = pod["spec"]["containers"][0]["args"][0].removeprefix("-addr=").rsplit(":", 1)[0]
    pod["spec"]["hostAliases"] = [{"ip": service_ip, "hostnames": [host]}]
    manifest = workdir / "helm-test.yaml"
    manifest.write_text(yaml.safe_dump(pod, sort_keys=False))
    podman("kube", "play", str(manifest), timeout=300)
    container = f"{pod['metadata']['name']}-{pod['spec']['containers'][0]['name']}"
    try:
        code = int(podman("wait", container, timeout=120).stdout.strip())
        proc = podman("logs", container, check=False)
        return code, proc.stdout + proc.stderr
    finally:
        podman("kube", "down", str(manifest), check=False)
