"""The processes of a benchmark run: CPU-pinned subprocesses, the servers, machine facts.

Every child gets PYTHONPATH pointing at this checkout (the shared environment's editable
install may point at another one) and is pinned with ``taskset -c`` to a CPU list.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import grpc
from sessiond_client import pb

from tests.redis_server import HOST, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0
BENCH_MAX_SESSIONS = 10_000_000  # above any load a bench run makes
STOP_TIMEOUT = 15.0  # sessiond's default shutdown grace is 10 s


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every child: this checkout first on PYTHONPATH."""
    paths = [str(ROOT), str(ROOT / "clients" / "python")]
    inherited = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, *([inherited] if inherited else [])]), **extra}


def pinned(command: list[str], cpus: str) -> list[str]:
    """``command`` under ``taskset -c cpus`` (unchanged when cpus is empty)."""
    return ["taskset", "-c", cpus, *command] if cpus else command


def pin_self(cpus: str) -> None:
    """Pin this process (the orchestrator and its in-process clients) to ``cpus``."""
    if cpus:
        os.sched_setaffinity(0, parse_cpus(cpus))


def parse_cpus(cpus: str) -> set[int]:
    out: set[int] = set()
    for part in cpus.split(","):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PinnedRedis(RedisServer):
    """tests.redis_server.RedisServer under taskset."""

    def __init__(self, cpus: str, extra_args: tuple[str, ...] = ()) -> None:
        super().__init__(extra_args=extra_args)
        self.cpus = cpus

    def command(self) -> list[str]:
        return pinned(super().command(), self.cpus)

    def start(self) -> PinnedRedis:
        super().start()
        return self

    def __enter__(self) -> PinnedRedis:
        return self.start()

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far (INFO cpu)."""
        with self.client() as probe:
            info = probe.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def info_memory(self) -> dict[str, int]:
        with self.client() as probe:
            info = probe.info("memory")
        return {k: int(v) for k, v in info.items() if isinstance(v, int)}


class GrpcServer:
    """A Python gRPC server in its own pinned process; ready once it answers GetSession."""

    def __init__(
        self,
        name: str,
        argv: Callable[[str], list[str]],
        cpus: str,
        log_dir: Path,
        env: dict[str, str] | None = None,
        *,
        program: str = sys.executable,
    ) -> None:
        """``argv(address)``: the arguments after ``program`` (python) that serve on ``address``."""
        self.name = name
        self.port = free_port()
        self.address = f"{HOST}:{self.port}"
        self._command = pinned([program, *argv(self.address)], cpus)
        self._env = env or {}
        self.log_path = log_dir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def noop(cls, cpus: str, log_dir: Path) -> GrpcServer:
        return cls("baseline", lambda address: ["-m", "tests.bench.noop_server", "--listen", address], cpus, log_dir)

    @classmethod
    def sessiond(cls, name: str, redis_url: str, cpus: str, log_dir: Path) -> GrpcServer:
        """sessiond on the Redis at ``redis_url``, or on its memory store when that is empty."""

        def argv(address: str) -> list[str]:
            store = ["--store", "redis", "--redis-url", redis_url] if redis_url else ["--store", "memory"]
            return ["-m", "sessiond", "serve", "--listen", address, *store]

        # Its metrics listener on loopback too, on a port of its own (the default is 0.0.0.0:9464);
        # no session limit in reach: the CreateSession load makes more than the default 10,000.
        env = {
            "SESSIOND_METRICS_LISTEN": f"{HOST}:{free_port()}",
            "SESSIOND_CONSOLE_LISTEN": "",
            "SESSIOND_MAX_SESSIONS": str(BENCH_MAX_SESSIONS),
        }
        return cls(name, argv, cpus, log_dir, env)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> GrpcServer:
        self._log = open(self.log_path, "ab")  # closed in stop()
        self._process = subprocess.Popen(
            self._command, env=child_env(**self._env), stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        with grpc.insecure_channel(self.address) as channel:
            get = channel.unary_unary(
                "/sessiond.v1.SessionService/GetSession",
                request_serializer=pb.GetSessionRequest.SerializeToString,
                response_deserializer=pb.Session.FromString,
            )
            while True:
                if self._process is None or self._process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
                try:
                    get(pb.GetSessionRequest(session_id="probe"), timeout=1.0)
                    return
                except grpc.RpcError as err:
                    if err.code() == grpc.StatusCode.NOT_FOUND:  # sessiond: served, store reachable
                        return
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.name} not ready in {READY_TIMEOUT}s: {err}") from err
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        return cpu_seconds_of(self.pid)

    def rss_bytes(self) -> int:
        return rss_bytes(self.pid)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass(frozen=True, slots=True)
class Machine:
    nproc: int
    cpu_model: str
    python: str
    grpcio: str
    redis: str
    load_before: tuple[float, float, float]

    @classmethod
    def now(cls) -> Machine:
        return cls(
            nproc=os.cpu_count() or 0,
            cpu_model=_cpu_model(),
            python=platform.python_version(),
            grpcio=grpc.__version__,
            redis=_redis_version(),
            load_before=os.getloadavg(),
        )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _redis_version() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        return "missing"
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False, timeout=10)
    return next((w.removeprefix("v=") for w in done.stdout.split() if w.startswith("v=")), done.stdout.strip())
