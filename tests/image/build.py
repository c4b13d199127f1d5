"""Build the sessiond image from the Dockerfile, unchanged, with podman, and the images
its tests need; report its size and layers.

    python -m tests.image.build        # install podman & co, build everything, report

The official ``python:3.11-slim`` cannot be pulled here, so the Dockerfile gets a
stand-in through its ``PYTHON_IMAGE`` build argument: Debian's python3 in a minbase
root made by mmdebstrap, plus a venv at /usr/local so ``python`` and ``pip`` are on
PATH as in the official image. Images are tagged with a digest of their recipe and
kept in podman's store, so a second run on the machine reuses them (the sessiond build
itself reuses podman's layer cache).

Also built: a Redis image (the Debian root plus redis-server) for the Redis store's
pod, and the ``helm test`` pod's grpc_health_probe (``go install`` of the version the
chart pins) on an empty base.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.image.podman import PodmanError, podman, unusable

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "sessiond"
SUITE = "bookworm"
STANDIN_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Left out of the root like the official slim images do (copyright files stay).
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
)
STANDIN_CONTAINERFILE = """\
FROM {root}
RUN python3 -m venv /usr/local
CMD ["python3"]
"""
REDIS_CONTAINERFILE = """\
FROM {root}
RUN apt-get update \\
 && apt-get install -y --no-install-recommends redis-server \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER redis
ENTRYPOINT ["redis-server"]
"""
PROBE_CONTAINERFILE = """\
FROM scratch
COPY grpc_health_probe /grpc_health_probe
ENTRYPOINT ["/grpc_health_probe"]
"""
# The pip index is reached through the host's network and its CA bundle.
BUILD_NETWORK = ("--network=host", "--volume=/etc/ssl/certs:/etc/ssl/certs:ro")


@dataclass(frozen=True)
class Layer:
    size: int
    created_by: str


@dataclass(frozen=True)
class Built:
    """An image this module built: its reference, size in bytes, layers and build time."""

    ref: str
    size: int
    layers: tuple[Layer, ...]
    seconds: float

    def report(self) -> str:
        lines = [f"{self.ref}: {self.size / 1e6:.1f} MB, {len(self.layers)} layers, built in {self.seconds:.1f} s"]
        for layer in self.layers:
            lines.append(f"  {layer.size / 1e6:8.1f} MB  {layer.created_by[:90]}")
        return "\n".join(lines)


def _recipe_tag(name: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]
    return f"localhost/sessiond-test/{name}:{digest}"


def _exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


def _build(ref: str, containerfile: str, context: Path, *args: str) -> None:
    (context / "Containerfile").write_text(containerfile)
    podman("build", *BUILD_NETWORK, *args, "--tag", ref, "--file", str(context / "Containerfile"), str(context))


def debian_root() -> str:
    """The mmdebstrap minbase root with python3, imported as an image (cached)."""
    ref = _recipe_tag("debian", SUITE, *STANDIN_PACKAGES, *DPKG_EXCLUDES)
    if _exists(ref):
        return ref
    with tempfile.TemporaryDirectory(prefix="sessiond-root-") as tmp:
        tar = Path(tmp) / "root.tar"
        cmd = ["mmdebstrap", "--variant=minbase", f"--include={','.join(STANDIN_PACKAGES)}"]
        cmd += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
        proc = subprocess.run([*cmd, SUITE, str(tar)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise PodmanError(f"mmdebstrap failed:\n{proc.stderr[-3000:]}")
        podman("import", str(tar), ref)
    return ref


def _on_debian_root(name: str, containerfile: str) -> str:
    """``containerfile`` (FROM {root}) built on the Debian root, unless already built."""
    containerfile = containerfile.format(root=debian_root())
    ref = _recipe_tag(name, containerfile)
    if not _exists(ref):
        with tempfile.TemporaryDirectory(prefix=f"sessiond-{name}-") as tmp:
            _build(ref, containerfile, Path(tmp))
    return ref


def python_standin() -> str:
    """The stand-in for python:3.11-slim (cached)."""
    return _on_debian_root("python", STANDIN_CONTAINERFILE)


def redis_image() -> str:
    """Debian's redis-server on the same root (cached)."""
    return _on_debian_root("redis", REDIS_CONTAINERFILE)


def probe_version() -> str:
    """The grpc-health-probe tag the chart's ``helm test`` pod uses."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    return str(values["tests"]["image"]["tag"])


def probe_image() -> str:
    """grpc_health_probe at the chart's version on an empty base, as ``localhost/grpc-health-probe``."""
    version = probe_version()
    ref = f"localhost/grpc-health-probe:{version}"
    if _exists(ref):
        return ref
    gobin = Path(os.environ.get("GOBIN") or Path.home() / "go" / "bin")
    binary = gobin / "grpc-health-probe"
    go = shutil.which("go")
    if not go:
        raise PodmanError("go is needed to build grpc_health_probe for the helm test pod")
    env = {**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0"}
    module = f"github.com/grpc-ecosystem/grpc-health-probe@{version}"
    proc = subprocess.run([go, "install", module], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PodmanError(f"go install {module} failed:\n{proc.stderr[-3000:]}")
    with tempfile.TemporaryDirectory(prefix="sessiond-probe-") as tmp:
        shutil.copy(binary, Path(tmp) / "grpc_health_probe")
        _build(ref, PROBE_CONTAINERFILE, Path(tmp))
    return ref


def app_version() -> str:
    return str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])


def sessiond_image(tag: str | None = None) -> Built:
    """``podman build`` of the repository's Dockerfile on the stand-in base."""
    base = python_standin()
    ref = f"localhost/sessiond:{tag or app_version()}"
    start = time.monotonic()
    podman("build", *BUILD_NETWORK, "--build-arg", f"PYTHON_IMAGE={base}", "--tag", ref, str(REPO), timeout=1200)
    seconds = time.monotonic() - start
    # Stages of builds from older sources pile up untagged; recent ones are the cache.
    podman("image", "prune", "--force", "--filter", "until=72h")
    return inspect(ref, seconds)


def inspect(ref: str, seconds: float = 0.0) -> Built:
    """Size and layers (newest last) of an image in podman's store."""
    size = int(podman("image", "inspect", ref, "--format", "{{.Size}}").stdout)
    history = json.loads(podman("history", "--format", "json", ref).stdout)
    layers = tuple(Layer(int(h.get("size") or 0), str(h.get("CreatedBy") or "")) for h in reversed(history))
    return Built(ref, size, tuple(layer for layer in layers if layer.size), seconds)


def main() -> int:
    reason = unusable()
    if reason:
        print(f"podman cannot run here: {reason}")
        return 1
    start = time.monotonic()
    extras = [python_standin(), redis_image(), probe_image()]
    print(f"base images ready in {time.monotonic() - start:.1f} s: {', '.join(extras)}")
    print(sessiond_image().report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
