"""The README's grpcurl examples work, as written, against a fresh daemon."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.daemon import Daemon, free_port, source_env
from tests.support import grpcurl

README = Path(__file__).resolve().parents[2] / "README.md"
CLIENT_README = README.parent / "clients" / "python" / "README.md"


def readme_commands() -> list[str]:
    block = re.search(r"<!-- grpcurl-examples:.*?```sh\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its grpcurl-examples block"
    return [line for line in block.group(1).splitlines() if line.startswith("grpcurl ")]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(free_port(), tmp_path / "snapshot.json", tmp_path / "sessiond.log")
    d.start()
    yield d
    d.terminate()


def test_the_readme_grpcurl_examples_run(daemon: Daemon) -> None:
    outputs: dict[str, list[str]] = {}
    for command in readme_commands():
        argv = shlex.split(command.replace("localhost:50051", f"127.0.0.1:{daemon.port}"))
        argv[0] = grpcurl()
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        method = argv[-1]
        # The watch is ended by -max-time (grpcurl then exits non-zero by design).
        if "WatchSession" not in method:
            assert result.returncode == 0, f"{command}\n{result.stderr}"
        outputs.setdefault(method, []).append(result.stdout)
    assert "sessiond.v1.SessionService" in outputs["list"][0]
    assert '"status": "SERVING"' in outputs["grpc.health.v1.Health/Check"][0]
    opened, closed = (json.loads(out) for out in outputs["sessiond.v1.SessionService/SubmitChoice"])
    assert opened["opened_window"] is True and opened["turn_number"] == "1"
    assert closed["resolved_turn"]["close_reason"] == "ALL_CHOSEN"
    watched = outputs["sessiond.v1.SessionService/WatchSession"][0]
    for kind in ("player_joined", "window_opened", "choice_received", "state_changed", "countdown_tick"):
        assert kind in watched, f"{kind} missing from the watch output"
    [turn] = json.loads(outputs["sessiond.v1.SessionService/ListTurns"][0])["turns"]
    assert turn["winner"] == "left" and turn["tied"] is True
    switched = json.loads(outputs["sessiond.v1.SessionService/SwitchCharacterWorld"][0])
    assert switched["created"] is True and switched["session"]["content_settings"]["intensity"] == "LOW"
    games = json.loads(outputs["sessiond.v1.SessionService/ListGames"][0])["games"]
    assert sorted((g["session_id"], g.get("active", False)) for g in games) == [("hitch-1", True), ("zork-1", False)]
    loaded = json.loads(outputs["sessiond.v1.SessionService/LoadGame"][0])
    assert loaded["session"]["session_id"] == "zork-1" and loaded["saved"]["session_id"] == "hitch-1"
    assert json.loads(outputs["sessiond.v1.SessionService/SetGameMaster"][0])["game_master_player_id"] == "bob"
    board = json.loads(outputs["sessiond.v1.PlayerService/GetPlayerDashboard"][0])
    assert board["profile"]["display_name"] == "Ann" and board["characters"][0]["character_id"] == "elf"


def readme_python(marker: str) -> str:
    block = re.search(rf"<!-- {marker}:.*?```python\n(.*?)```", README.read_text(), re.S)
    assert block, f"README.md lost its {marker} block"
    return block.group(1)


def test_the_readme_python_example_runs_and_prints_the_winner(daemon: Daemon) -> None:
    """Run as printed; the example reads the server's address from SESSIOND_TARGET."""
    env = {**source_env(os.environ), "SESSIOND_TARGET": daemon.target}
    result = subprocess.run(
        [sys.executable, "-c", readme_python("python-example")], capture_output=True, text=True, timeout=30, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["turn 1 events 2 to 4", "winner: left"]


def test_the_client_readme_example_runs(daemon: Daemon) -> None:
    """Its first python block, as printed but for the server's address."""
    code = re.search(r"## Example\n\n```python\n(.*?)```", CLIENT_README.read_text(), re.S)
    assert code, "clients/python/README.md lost its example"
    script = code.group(1).replace("127.0.0.1:50051", daemon.target)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, env=source_env(os.environ)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("turn 1 closes at")
    assert "winner: a" in lines and lines[-1].startswith("StatusCode.FAILED_PRECONDITION")
