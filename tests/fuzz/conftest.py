"""Hypothesis profiles of the fuzzer, and its servers.

``SESSIOND_FUZZ_PROFILE`` picks the profile: ``quick`` (the default, a few examples
per RPC, so the suite stays fast) or ``nightly`` (hundreds per RPC). Failing examples
are kept in .pytest_cache and replayed first on the next run.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from sessiond.server import Service
from tests.e2e.conftest import server_config
from tests.integration.conftest import redis_server  # noqa: F401  (the suite's one Redis fixture)

PROFILE_VARIABLE = "SESSIOND_FUZZ_PROFILE"
_DATABASE = DirectoryBasedExampleDatabase(Path(__file__).parents[2] / ".pytest_cache" / "hypothesis-fuzz")
_BASE = settings(
    deadline=None,  # each example starts a server: timing varies with the machine's load
    database=_DATABASE,
    print_blob=True,
    # No explain phase: it re-runs the failing example many times, each with its own server.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.register_profile("sessiond-fuzz-quick", _BASE, max_examples=8)
settings.register_profile("sessiond-fuzz-nightly", _BASE, max_examples=400)


def fuzz_settings(share: float = 1.0) -> settings:
    """The profile ``SESSIOND_FUZZ_PROFILE`` names, with ``share`` of its examples."""
    chosen = settings.get_profile(f"sessiond-fuzz-{os.environ.get(PROFILE_VARIABLE, 'quick')}")
    return settings(chosen, max_examples=max(1, round(chosen.max_examples * share)))


READER = "fuzz-reader-token-0123456789"
WRITER = "fuzz-writer-token-0123456789"


@pytest.fixture(scope="module")
async def auth_service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """A server with authentication on: a reader and a writer token."""
    path = tmp_path_factory.mktemp("fuzz-auth") / "tokens.json"
    callers = [
        {"name": "reader", "token": READER, "scopes": ["read"]},
        {"name": "writer", "token": WRITER, "scopes": ["read", "write"]},
    ]
    path.write_text(json.dumps({"tokens": callers}))
    path.chmod(0o600)
    service = Service(server_config(auth_tokens_file=str(path)))
    await service.start()
    yield service
    await service.stop(0)
