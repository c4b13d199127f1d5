"""The image the Dockerfile builds (with podman, on the stand-in base): its user, init,
ports and layers. Its size and layers are reported at the end of the run."""

from __future__ import annotations

import json

import pytest

from tests.image.build import Built
from tests.image.podman import podman

pytestmark = pytest.mark.timeout(1200)  # a first build on a fresh machine takes minutes


def _config(ref: str) -> dict[str, object]:
    config: dict[str, object] = json.loads(podman("image", "inspect", ref, "--format", "{{json .Config}}").stdout)
    return config


def test_image_runs_sessiond_under_tini_as_10001(image: Built) -> None:
    config = _config(image.ref)
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["tini", "--", "sessiond"]
    assert config["Cmd"] == ["serve"]
    assert set(config["ExposedPorts"]) == {"50051/tcp", "9464/tcp"}  # type: ignore[arg-type]


def test_image_layers_hold_no_build_leftovers(image: Built) -> None:
    """Our layers: tini + the user (apt lists and caches removed), then the venv."""
    ours = [layer for layer in image.layers if "tini" in layer.created_by or "/opt/sessiond" in layer.created_by]
    assert len(ours) == 2, image.report()
    tini, venv = ours
    assert tini.size < 5_000_000, f"apt left its lists or caches in the layer:\n{image.report()}"
    assert venv.size < 150_000_000, image.report()


def test_image_serves_help_on_a_read_only_root(image: Built) -> None:
    proc = podman("run", "--rm", "--read-only", image.ref, "serve", "--help")
    assert "--console-listen" in proc.stdout
