"""Every example of README.md and clients/python/README.md runs, as printed, and says
what the text around it says.

Each fenced block stands under a marker naming it (tests/readme_blocks.py); the tests
below run them by name. Addresses are the only thing changed: ``localhost:50051``,
``redis:6379``, ``sessiond.example:50051`` become the loopback servers a test started.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import StartServer
from tests.e2e.daemon import Daemon, free_port, source_env
from tests.e2e.test_ops import Pki, pki, tls_overrides  # noqa: F401 (the pki fixture)
from tests.neo4j.launcher import Neo4jServer
from tests.neo4j_fixtures import neo4j_server_fixture  # noqa: F401
from tests.readme_blocks import CLIENT_README, README, ROOT, block, blocks, commands
from tests.redis_server import RedisServer, started
from tests.support import grpcurl

# The names of the blocks, and where each one runs (this module unless said otherwise).
RUN_HERE = {
    README: {"serve", "grpcurl", "python", "stores", "tokens", "secured-grpcurl", "secured-python"},
    CLIENT_README: {"install", "client", "ranges", "development"},
}
RUN_ELSEWHERE = {"tests": ROOT / ".ci" / "run", "image": ROOT / "scripts" / "test"}
INSTALL_TIMEOUT = 600


def test_every_readme_block_is_named_and_run() -> None:
    for path, names in RUN_HERE.items():
        found = blocks(path)
        unnamed = [b.line for b in found if b.name is None]
        assert not unnamed, f"{path.name}: blocks at lines {unnamed} have no <!-- example NAME: ... --> marker"
        unknown = {b.name for b in found} - names - set(RUN_ELSEWHERE) - {"text"}
        assert not unknown, f"{path.name}: no test runs the blocks {sorted(map(str, unknown))}"
        assert names <= {b.name for b in found}, f"{path.name} lost blocks {sorted(names - {b.name for b in found})}"
    for runner in RUN_ELSEWHERE.values():
        assert runner.exists(), runner


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(free_port(), tmp_path / "snapshot.json", tmp_path / "sessiond.log")
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this checkout's files, as a newcomer's fresh clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    copy = tmp_path_factory.mktemp("clone") / "sessiond"
    for name in listed.stdout.splitlines():
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)  # a clone's tools honour .gitignore
    return copy


def venv(directory: Path, *, system_site_packages: bool) -> dict[str, str]:
    """A new virtualenv; the environment a shell has with it activated."""
    args = [sys.executable, "-m", "venv", str(directory)]
    subprocess.run([*args, "--system-site-packages"] if system_site_packages else args, check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    return {**env, "VIRTUAL_ENV": str(directory), "PATH": f"{directory / 'bin'}{os.pathsep}{env['PATH']}"}


def run(command: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``command`` as a shell runs it; fails the test, with its output, unless it exits 0."""
    done = subprocess.run(["bash", "-c", command], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


def python(code: str, env: dict[str, str], cwd: Path = ROOT, executable: str = sys.executable) -> list[str]:
    done = subprocess.run([executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def launched(command: str, port: int, log: Path, env: dict[str, str], cwd: Path) -> Daemon:
    """``command`` (a ``sessiond serve`` line) started as a daemon serving on ``port``."""
    daemon = Daemon(port, None, log)
    with open(log, "ab") as out:
        daemon.proc = subprocess.Popen(["bash", "-c", f"exec {command}"], env=env, cwd=cwd, stderr=out)
    try:
        daemon.wait_serving(timeout=60)
    except BaseException:
        daemon.stop()
        raise
    return daemon


# --- README.md -----------------------------------------------------------------------------


def test_the_readme_run_command_installs_and_serves_with_a_snapshot(tree: Path, tmp_path: Path) -> None:
    """The newcomer's command, in a fresh virtualenv: it installs, serves on 50051 with the
    console at the printed address, and SIGTERM writes a 0600 snapshot holding the session."""
    install, serve = (part.strip() for part in block(README, "serve").body.strip().split("&&"))
    for port in (50051, 9464, 8080):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} is taken: the README's command serves on it")
    env = venv(tmp_path / "venv", system_site_packages=True)
    run(install, env, tree, timeout=INSTALL_TIMEOUT)
    assert shutil.which("sessiond", path=env["PATH"]) == str(tmp_path / "venv" / "bin" / "sessiond")
    daemon = launched(serve, 50051, tmp_path / "serve.log", env, tree)
    try:
        created = python(
            "import asyncio\nfrom sessiond_client import SessionClient\n"
            "async def main():\n"
            "    async with SessionClient('127.0.0.1:50051') as c:\n"
            "        print((await c.create_session(session_id='newcomer', title='Hello')).session_id)\n"
            "asyncio.run(main())\n",
            source_env(os.environ),
        )
        assert created == ["newcomer"]
        [serving] = [line for line in daemon.log_lines() if line.get("event") == "serving"]
        assert serving["console"] == "http://127.0.0.1:8080/"
        with urllib.request.urlopen(str(serving["console"]), timeout=10) as page:
            assert page.status == 200 and "sessiond" in page.read().decode()
    finally:
        assert daemon.terminate() == 0, daemon.log_tail()
    snapshot = tree / "sessiond.snapshot.json"
    assert snapshot.stat().st_mode & 0o777 == 0o600
    assert "newcomer" in snapshot.read_text()


def test_the_readme_grpcurl_examples_run(daemon: Daemon) -> None:
    outputs: dict[str, list[str]] = {}
    for command in commands(block(README, "grpcurl").body):
        argv = shlex.split(command.replace("localhost:50051", f"127.0.0.1:{daemon.port}"))
        assert argv[0] == "grpcurl", command
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


def test_the_readme_python_example_runs_and_prints_the_winner(daemon: Daemon) -> None:
    """Run as printed; the example reads the server's address from SESSIOND_TARGET."""
    env = {**source_env(os.environ), "SESSIOND_TARGET": daemon.target}
    assert python(block(README, "python").body, env) == ["turn 1 events 2 to 4", "winner: left"]


@pytest.mark.redis
@pytest.mark.neo4j
def test_the_readme_redis_and_neo4j_commands_serve(neo4j_server: Neo4jServer, tmp_path: Path) -> None:
    """Both lines, against a Redis with the password the first one names and the test's Neo4j."""
    redis_line, durable_line = commands(block(README, "stores").body)
    with started(RedisServer().start) as secured, started(RedisServer().start) as plain:
        with secured.client() as admin:
            admin.config_set("requirepass", "PASSWORD")  # the first line's redis://:PASSWORD@
        graph = f"127.0.0.1:{neo4j_server.port}"
        cases = [
            (redis_line.replace("redis:6379", secured.address), "redis"),
            (durable_line.replace("redis:6379", plain.address).replace("neo4j:7687", graph), "redis+neo4j"),
        ]
        for command, store in cases:
            port = free_port()
            env = {
                **source_env(os.environ),
                "NEO4J_PASSWORD": neo4j_server.password,
                "SESSIOND_LISTEN": f"127.0.0.1:{port}",
                "SESSIOND_METRICS_LISTEN": "",
                "SESSIOND_CONSOLE_LISTEN": "",
                "SESSIOND_LOG_FORMAT": "json",
            }
            daemon = launched(command, port, tmp_path / f"{store}.log", env, ROOT)
            try:
                stats = python(
                    "import asyncio\nfrom sessiond_client import SessionClient\n"
                    "async def main():\n"
                    f"    async with SessionClient('{daemon.target}') as c:\n"
                    "        await c.create_session(title='t')\n"
                    "        print((await c.get_service_stats()).store)\n"
                    "asyncio.run(main())\n",
                    source_env(os.environ),
                )
                assert stats == [store]
            finally:
                assert daemon.terminate() == 0, daemon.log_tail()


async def test_the_readme_secured_examples_run(start_server: StartServer, pki: Pki, tmp_path: Path) -> None:  # noqa: F811
    """The tokens file, the grpcurl line and the Python lines: mutual TLS and a token."""
    token = secrets.token_hex(16)
    tokens = tmp_path / "tokens.json"
    tokens.write_text(block(README, "tokens").body.replace("<at least 16 random characters>", token))
    tokens.chmod(0o600)
    shutil.copy(pki.ca.cert_path, tmp_path / "ca.pem")
    shutil.copy(pki.client.cert_path, tmp_path / "client.pem")
    shutil.copy(pki.client.key_path, tmp_path / "client-key.pem")
    service = await start_server(**tls_overrides(pki, mutual=True, auth_tokens_file=str(tokens)))
    target = f"localhost:{service.port}"  # the name the server's certificate is for
    env = {
        **source_env(os.environ),
        "SESSIOND_TOKEN": token,
        "SESSIOND_TARGET": target,
        "PATH": f"{Path(grpcurl()).parent}{os.pathsep}{os.environ['PATH']}",
    }
    [command] = commands(block(README, "secured-grpcurl").body)
    done = await asyncio.to_thread(run, command.replace("sessiond.example:50051", target), env, tmp_path)
    assert json.loads(done.stdout)["store"] == "memory"
    printed = await asyncio.to_thread(python, block(README, "secured-python").body, env, tmp_path)
    assert 'store: "memory"' in printed


# --- clients/python/README.md --------------------------------------------------------------


@pytest.fixture(scope="module")
def client_venv(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A virtualenv with nothing but the client, installed by the README's command."""
    env = venv(tmp_path_factory.mktemp("client") / "venv", system_site_packages=False)
    [install] = commands(block(CLIENT_README, "install").body)
    run(install, env, tree, timeout=INSTALL_TIMEOUT)
    return env


def test_the_client_installs_alone_with_grpcio_and_protobuf(client_venv: dict[str, str], tree: Path) -> None:
    frozen = run("python -m pip list --format=freeze", client_venv, tree).stdout.splitlines()
    installed = {line.split("==")[0].lower().replace("_", "-") for line in frozen} - {"pip", "setuptools", "wheel"}
    # What the README says it needs, and grpcio's own typing-extensions; no server package.
    assert installed == {"sessiond-client", "grpcio", "protobuf", "googleapis-common-protos", "typing-extensions"}


def test_the_client_readme_example_runs_with_the_client_alone(client_venv: dict[str, str], daemon: Daemon) -> None:
    """As printed but for the server's address, by the virtualenv holding only the client."""
    script = block(CLIENT_README, "client").body.replace("127.0.0.1:50051", daemon.target)
    lines = python(script, client_venv, executable="python")
    assert lines[0].startswith("turn 1 closes at")
    assert "winner: a" in lines and lines[-1].startswith("StatusCode.FAILED_PRECONDITION")


def test_the_client_readme_event_ranges_example_sees_what_its_calls_caused(daemon: Daemon) -> None:
    env = {**source_env(os.environ), "SESSIOND_TARGET": daemon.target}
    assert python(block(CLIENT_README, "ranges").body, env) == ["winner: a", "then: status_changed ENDED"]


def test_the_client_development_commands_pass(client_venv: dict[str, str], tree: Path) -> None:
    """The client's checks, in its own virtualenv: no server, no server-side package."""
    for command in commands(block(CLIENT_README, "development").body):
        run(command, client_venv, tree, timeout=INSTALL_TIMEOUT)
