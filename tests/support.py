"""Helpers shared by the test suites (no fixtures here: see the conftest files)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sessiond.core.lifecycle import Defaults, SessionSpec, new_session
from sessiond.core.limits import Limits
from sessiond.core.models import Session

T0 = 1_800_000_000.0  # a fixed start time for unit tests


@dataclass
class FakeClock:
    """An injected clock that only moves when a test moves it."""

    now: float = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def make_session(session_id: str, now: float, **spec: object) -> Session:
    return new_session(session_id, SessionSpec(**spec), now, Defaults(), Limits())  # type: ignore[arg-type]


def grpcurl() -> str:
    """The grpcurl binary (PATH, then ~/go/bin); fails the test when it is not installed."""
    import pytest

    found = shutil.which("grpcurl") or str(Path.home() / "go" / "bin" / "grpcurl")
    if not os.access(found, os.X_OK):
        pytest.fail("grpcurl is not installed: scripts/test installs it (go install ...grpcurl@v1.9.4)")
    return found
