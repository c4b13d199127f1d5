"""Real redis-server processes for the tests: one node, or a 3-master Redis Cluster.

Each server runs on a free loopback port in its own temporary directory and is stopped
with SIGTERM (then SIGKILL). Nothing here is a pytest fixture, so any suite (and a
shell) can use it::

    server = RedisServer().start()          # server.url -> "redis://127.0.0.1:PORT/0"
    server.stop(); server.start()           # same port (and data, with appendonly=True)
    server.stop()

    cluster = RedisClusterServers().start() # cluster.url -> a seed node's URL
    cluster.stop()

A missing redis-server is an error, never a skip: the Redis suites are part of the
contract, and a silent skip would report a backend green that was never run.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import pytest
import redis

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
T = TypeVar("T")
CLUSTER_BUS_OFFSET = 10_000  # Redis Cluster talks node-to-node on port + 10000
INSTALL_HINT = "install it (apt-get install redis-server) to run the Redis tests"


class RedisServerMissing(RuntimeError):
    """redis-server or redis-cli cannot be found."""


def redis_binary(name: str) -> str:
    """The path of ``redis-server`` or ``redis-cli``; raises RedisServerMissing with the fix."""
    path = shutil.which(name)
    if path is None:
        raise RedisServerMissing(f"{name} is not on PATH: {INSTALL_HINT}")
    return path


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def started(start: Callable[[], T]) -> T:
    """``start()``, turning a missing redis-server into a failed test (for fixtures)."""
    try:
        return start()
    except RedisServerMissing as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


def free_port(*, with_cluster_bus: bool = False) -> int:
    """A loopback port nobody listens on (and, for cluster nodes, port + 10000 too)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if not with_cluster_bus:
            return port
        if port + CLUSTER_BUS_OFFSET < 65536 and _port_is_free(port + CLUSTER_BUS_OFFSET):
            return port
    raise RuntimeError("no free loopback port found")


class RedisServer:
    """One redis-server process on loopback; ``start`` again after ``stop`` reuses the port and directory."""

    def __init__(
        self,
        port: int | None = None,
        *,
        appendonly: bool = False,
        cluster: bool = False,
        data_dir: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = port if port is not None else free_port(with_cluster_bus=cluster)
        self.appendonly = appendonly
        self.cluster = cluster
        self.extra_args = extra_args
        self._own_dir = data_dir is None
        self.data_dir = data_dir if data_dir is not None else Path(tempfile.mkdtemp(prefix=f"redis-{self.port}-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self) -> redis.Redis:
        """A synchronous client for test set-up and inspection (the caller closes it)."""
        return redis.Redis(host=HOST, port=self.port, socket_timeout=STOP_TIMEOUT)

    def command(self) -> list[str]:
        args = [
            redis_binary("redis-server"),
            "--port", str(self.port),
            "--bind", HOST,
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--logfile", str(self.data_dir / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", str(self.data_dir / "nodes.conf")]
            args += ["--cluster-node-timeout", "2000"]
        return [*args, *self.extra_args]

    def start(self) -> RedisServer:
        """Start the process and wait until it answers PING."""
        if self.running:
            return self
        self._process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RuntimeError(f"redis-server on port {self.port} exited at start: {stderr}{self.log_tail()}")
            with contextlib.suppress(redis.RedisError), self.client() as probe:
                if probe.ping():
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING in {START_TIMEOUT}s")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()

    def remove(self) -> None:
        """Stop and delete the data directory (if this object made it)."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        log = self.data_dir / "redis.log"
        if not log.exists():
            return ""
        return "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()


class RedisClusterServers:
    """A Redis Cluster of ``masters`` loopback nodes without replicas, made with ``redis-cli --cluster create``."""

    def __init__(self, masters: int = 3) -> None:
        if masters < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 masters")
        self.nodes: list[RedisServer] = []
        self.masters = masters

    @property
    def url(self) -> str:
        """A seed node; a cluster client discovers the others from it."""
        return self.nodes[0].url

    def start(self) -> RedisClusterServers:
        redis_binary("redis-cli")
        ports: set[int] = set()
        try:
            while len(self.nodes) < self.masters:
                node = RedisServer(cluster=True)
                if node.port in ports or node.port + CLUSTER_BUS_OFFSET in ports:
                    node.remove()
                    continue
                ports |= {node.port, node.port + CLUSTER_BUS_OFFSET}
                self.nodes.append(node.start())
            self._create()
            self._wait_until_ok()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        command = [redis_binary("redis-cli"), "--cluster", "create", *(n.address for n in self.nodes)]
        command += ["--cluster-replicas", "0", "--cluster-yes"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{done.stdout}\n{done.stderr}")

    def _wait_until_ok(self) -> None:
        """Every node reports cluster_state:ok and knows every node (slots all assigned)."""
        deadline = time.monotonic() + START_TIMEOUT * 3
        while True:
            ready = True
            for node in self.nodes:
                with node.client() as probe:
                    info = probe.execute_command("CLUSTER", "INFO")
                    text = info.decode() if isinstance(info, bytes) else str(info)
                    known = len([ln for ln in _lines(probe.execute_command("CLUSTER", "NODES")) if ln.strip()])
                if "cluster_state:ok" not in text or known < len(self.nodes):
                    ready = False
            if ready:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    def flush(self) -> None:
        """Empty every master (FLUSHALL on each node)."""
        for node in self.nodes:
            with node.client() as probe:
                probe.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.remove()
        self.nodes = []

    def __enter__(self) -> RedisClusterServers:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _lines(reply: object) -> list[str]:
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    return text.splitlines()


if __name__ == "__main__":  # a manual check: python -m tests.redis_server
    with RedisServer() as one:
        print("single node", one.url)
    with RedisClusterServers() as many:
        print("cluster", [n.address for n in many.nodes])
