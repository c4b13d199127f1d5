"""The daemon as an operator runs it: `python -m sessiond serve` in its own process,
configured by environment, stopped by SIGTERM, restarted from its snapshot."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from sessiond_client import SessionClient, pb

from tests.e2e.daemon import Daemon, free_port


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(free_port(), tmp_path / "snapshot.json", tmp_path / "sessiond.log")
    d.start()
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.proc.kill()
        d.proc.wait()


async def test_health_and_reflection_work_without_proto_files(daemon: Daemon) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{daemon.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "sessiond.v1.SessionService"):
            assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == 1
        db = ProtoReflectionDescriptorDatabase(channel)
        assert "sessiond.v1.SessionService" in db.get_services()
        assert "grpc.health.v1.Health" in db.get_services()
        described = db.FindFileContainingSymbol("sessiond.v1.SessionService")
        assert "WatchSession" in [m.name for m in described.service[0].method]


async def test_sigterm_drains_and_a_restart_keeps_sessions_and_open_windows(daemon: Daemon) -> None:
    target = f"127.0.0.1:{daemon.port}"
    async with SessionClient(target) as client:
        kept = await client.create_session(session_id="kept", window_seconds=600.0, early_close=False, state={"a": 1})
        opened = await client.submit_choice("kept", "p1", "stay")
        await client.create_session(session_id="due", window_seconds=1.0, early_close=False)
        due = await client.submit_choice("due", "p1", "go")
    assert daemon.terminate() == 0
    assert daemon.snapshot.exists()

    # Let the short window's deadline pass while the service is down.
    await asyncio.sleep(max(0.0, due.deadline.ToNanoseconds() / 1e9 + 0.1 - time.time()))
    daemon.start()
    async with SessionClient(target) as client:
        restored = await client.get_session("kept")
        assert restored.session_state["a"] == 1 and restored.state_version == kept.state_version
        assert restored.window.deadline == opened.deadline and restored.window.choice_count == 1
        # The overdue window was closed at start, with its choice in the turn record.
        turns = (await client.list_turns("due")).turns
        assert [t.turn_number for t in turns] == [1]
        assert turns[0].close_reason == pb.Turn.DEADLINE and turns[0].choices[0].choice == "go"
        assert (await client.get_session("due")).turn_number == 2
    lines = daemon.log_lines()
    assert any(line.get("event") == "snapshot written" for line in lines)
    assert any(line.get("event") == "snapshot loaded" and line.get("sessions") == 2 for line in lines)


async def test_every_call_is_logged_with_method_session_status_and_duration(daemon: Daemon) -> None:
    async with SessionClient(f"127.0.0.1:{daemon.port}") as client:
        await client.create_session(session_id="logged")
        try:
            await client.get_session("missing")
        except Exception:
            pass
    daemon.terminate()
    rpcs = [line for line in daemon.log_lines() if line.get("event") == "rpc"]
    missing = [r for r in rpcs if r.get("session_id") == "missing"]
    assert missing and missing[0]["status"] == "NOT_FOUND"
    assert missing[0]["method"] == "/sessiond.v1.SessionService/GetSession"
    assert isinstance(missing[0]["duration_ms"], float) and missing[0]["level"] == "warning"


def test_an_unknown_store_is_refused_clearly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sessiond", "serve", "--store", "mongo", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "invalid choice: 'mongo'" in result.stderr


def test_migrate_without_a_reachable_neo4j_fails_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sessiond", "migrate", "--neo4j-uri", f"bolt://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SESSIOND_LOG_FORMAT": "json"},
    )
    assert result.returncode == 1 and "migration failed" in result.stderr and "unavailable" in result.stderr.lower()


def test_a_bad_environment_value_is_refused_clearly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sessiond", "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SESSIOND_MAX_SESSIONS": "lots"},
    )
    assert result.returncode == 2 and "SESSIOND_MAX_SESSIONS='lots'" in result.stderr
