"""Fixtures of the image tests: podman ready (or a clean skip off CI), the images built,
and the chart's pods played. Figures (image size, layers, build and drain times) are
printed at the end of the run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.image import build
from tests.image.podman import in_ci, unusable

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("image and pods (podman)")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def podman_ready() -> None:
    """Skips where podman cannot run at all; in CI (CI=true) that fails instead."""
    reason = unusable()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"podman cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"podman cannot run here: {reason}")


@pytest.fixture(scope="session")
def image(podman_ready: None) -> build.Built:
    built = build.sessiond_image()
    FIGURES.append(built.report())
    return built


@pytest.fixture(scope="session")
def redis_image(podman_ready: None) -> str:
    return build.redis_image()


@pytest.fixture(scope="session")
def probe_image(podman_ready: None) -> str:
    return build.probe_image()
