"""Every bounded setting is checked at start, through the real command line: a value the
API would refuse later stops `sessiond serve` with the flag, the variable and the bounds."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sessiond.config import OPTIONS, Option, load
from tests.e2e.daemon import ROOT, source_env

BOUNDED = [opt for opt in OPTIONS if opt.bounds is not None]


def outside(opt: Option) -> list[str]:
    """Values just past each bound of ``opt``."""
    assert opt.bounds is not None
    step = 1 if opt.type is int else 0.5
    values: list[float] = []
    if opt.bounds.positive:
        values.append(0)
    if opt.bounds.low is not None:
        values.append(opt.bounds.low - step)
    if opt.bounds.high is not None:
        values.append(opt.bounds.high + step)
    return [str(int(v) if opt.type is int else float(v)) for v in values]


CASES = [pytest.param(opt, value, id=f"{opt.flag}={value}") for opt in BOUNDED for value in outside(opt)]


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SESSIOND_")}
    return subprocess.run(
        [sys.executable, "-m", "sessiond", "serve", "--listen", "127.0.0.1:0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=source_env({**base, **(env or {})}),
    )


def test_a_session_ttl_below_what_create_session_accepts_stops_the_start() -> None:
    result = serve("--session-ttl", "2")
    assert result.returncode == 2
    assert "--session-ttl (SESSIOND_SESSION_TTL) is 2.0; it must be 60-2592000" in result.stderr


@pytest.mark.parametrize(("opt", "value"), CASES)
def test_each_bound_is_enforced_at_start(opt: Option, value: str) -> None:
    result = serve(opt.flag, value)
    assert result.returncode == 2, result.stderr
    assert f"{opt.flag} ({opt.env}) is " in result.stderr and f"it must be {opt.bounds}" in result.stderr


def test_a_bound_is_enforced_on_the_environment_variable_too() -> None:
    result = serve(env={"SESSIOND_WINDOW_SECONDS": "7200"})
    assert result.returncode == 2
    assert "--window-seconds (SESSIOND_WINDOW_SECONDS) is 7200.0; it must be 1-3600" in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_not_a_finite_number_is_refused(value: str) -> None:
    result = serve("--janitor-interval", value)
    assert result.returncode == 2 and "--janitor-interval (SESSIOND_JANITOR_INTERVAL) is" in result.stderr


def test_the_help_states_the_bounds() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sessiond", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=source_env(os.environ),
    )
    assert result.returncode == 0
    flat = " ".join(result.stdout.split())
    assert "default idle TTL of a session, seconds (60-2592000) [SESSIOND_SESSION_TTL]" in flat
    for opt in BOUNDED:
        assert f"({opt.bounds}) [{opt.env}]" in flat, opt.flag


def test_the_bounds_themselves_are_accepted() -> None:
    for opt in BOUNDED:
        assert opt.bounds is not None
        for edge in (opt.bounds.low, opt.bounds.high):
            if edge is not None and not (opt.bounds.positive and edge == 0):
                value = str(int(edge)) if opt.type is int else str(edge)
                assert getattr(load([opt.flag, value], env={}), opt.name) == opt.type(value)
