"""Run a real embedded Neo4j 5.26 Community DBMS (Bolt + auth) for sessiond's tests.

The Java side (``pom.xml`` + ``Neo4jLauncher.java``) is built with Maven from Maven
Central artifacts only; this module builds it on demand, starts/stops the JVM and waits
until Bolt answers with the configured credentials.

Library use (e.g. from a pytest fixture)::

    server = Neo4jServer(data_dir=tmp_path / "neo4j", port=7687).start()
    ...  # neo4j.GraphDatabase.driver(server.uri, auth=server.auth)
    server.stop(); server.start()  # same data dir and port: data is kept
    server.stop()

CLI::

    python tests/neo4j/launcher.py build
    python tests/neo4j/launcher.py start [--port 7687] [--password PW] [--data DIR] [--pidfile FILE]
    python tests/neo4j/launcher.py stop  [--data DIR] [--pidfile FILE]
    python tests/neo4j/launcher.py run   [--port 7687] [--password PW] [--data DIR]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
JAR = HERE / "target" / "neo4j-launcher.jar"
LIB_DIR = HERE / "target" / "lib"
JAR_MARKER = "neo4j-launcher.jar"  # used to recognise our JVM in /proc/PID/cmdline

USER = "neo4j"
DEFAULT_PORT = 7687
DEFAULT_PASSWORD = "sessiond-test-password"
DEFAULT_DATA = Path("/tmp/sessiond-neo4j")
DEFAULT_HEAP = "1g"
DEFAULT_PAGECACHE = "64m"
READY_PREFIX = "NEO4J READY "

JVM_OPTS = [
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dfile.encoding=UTF-8",
]


def _sources() -> list[Path]:
    """Files whose change requires a rebuild."""
    return [HERE / "pom.xml", *sorted((HERE / "src").rglob("*.java"))]


def needs_build() -> bool:
    """True if the jar or its lib/ is missing, or pom.xml/Java sources are newer."""
    if not JAR.is_file() or not LIB_DIR.is_dir() or not any(LIB_DIR.glob("neo4j-bolt-*.jar")):
        return True
    jar_mtime = JAR.stat().st_mtime
    return any(p.stat().st_mtime > jar_mtime for p in _sources())


def build(force: bool = False) -> Path:
    """Run ``mvn -q -B -DskipTests package`` if needed; return the runnable jar path.

    A file lock serialises concurrent callers (e.g. pytest-xdist workers).
    """
    (HERE / "target").mkdir(exist_ok=True)
    with open(HERE / "target" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or needs_build():
            _mvn_package()
    return JAR


def _mvn_package() -> None:
    """Run Maven; its output (Maven 3.8 -q still prints stray ANSI resets) is shown on failure."""
    proc = subprocess.run(["mvn", "-q", "-B", "-DskipTests", "package"], cwd=HERE,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout)
    JAR.touch()  # mvn may skip re-jarring unchanged classes; keep the mtime check honest


def java_command(data_dir: Path, port: int, password: str,
                 heap: str = DEFAULT_HEAP, pagecache: str = DEFAULT_PAGECACHE) -> list[str]:
    """The single ``java`` command line that runs the launcher."""
    return [
        "java", f"-Xmx{heap}", *JVM_OPTS, "-jar", str(JAR),
        "--data", str(data_dir), "--port", str(port),
        "--password", password, "--pagecache", pagecache,
    ]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def is_launcher_pid(pid: int) -> bool:
    """True if pid is a live JVM running our launcher jar (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return JAR_MARKER.encode() in cmdline and pid_alive(pid)


def terminate_pid(pid: int, timeout: float = 60.0) -> None:
    """SIGTERM pid, wait up to timeout for it to exit, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 10
        time.sleep(0.1)


class Neo4jServer:
    """One embedded Neo4j JVM bound to a data directory and a loopback Bolt port.

    ``start()`` / ``stop()`` may be repeated on the same instance: the data directory and
    port stay the same, so data written before ``stop()`` is there after ``start()``.
    The JVM's stdout/stderr go to ``<data_dir>/launcher.log``; Neo4j's own logs are in
    ``<data_dir>/logs/``.
    """

    def __init__(self, data_dir: str | Path = DEFAULT_DATA, port: int = DEFAULT_PORT,
                 password: str = DEFAULT_PASSWORD, heap: str = DEFAULT_HEAP,
                 pagecache: str = DEFAULT_PAGECACHE, startup_timeout: float = 120.0) -> None:
        if len(password) < 8:
            raise ValueError("Neo4j 5 requires a password of at least 8 characters")
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.user = USER
        self.password = password
        self.heap = heap
        self.pagecache = pagecache
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """Bolt URI, e.g. ``bolt://127.0.0.1:7687``."""
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def auth(self) -> tuple[str, str]:
        """(user, password) tuple for ``neo4j.GraphDatabase.driver(uri, auth=...)``."""
        return (self.user, self.password)

    @property
    def log_path(self) -> Path:
        """File receiving the JVM's stdout and stderr."""
        return self.data_dir / "launcher.log"

    @property
    def pid(self) -> int | None:
        """Pid of the running JVM, or None."""
        return self.process.pid if self.process and self.process.poll() is None else None

    def is_running(self) -> bool:
        """True while the JVM started by this object is alive."""
        return self.pid is not None

    def command(self) -> list[str]:
        """The java command line this server runs."""
        return java_command(self.data_dir, self.port, self.password, self.heap, self.pagecache)

    def start(self) -> Neo4jServer:
        """Build if needed, spawn the JVM and block until Bolt accepts our credentials."""
        if self.is_running():
            return self
        build()
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; not starting Neo4j")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI parent; no stray terminal signals
            )
        try:
            self._wait_ready(offset)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, offset: int) -> None:
        """Wait for the READY line (after ``offset`` in the log), then verify via the driver."""
        deadline = time.monotonic() + self.startup_timeout
        while READY_PREFIX not in self._log_since(offset):
            self._check_alive(offset)
            if time.monotonic() > deadline:
                raise TimeoutError(f"Neo4j not ready after {self.startup_timeout}s; see {self.log_path}")
            time.sleep(0.2)
        from neo4j import GraphDatabase
        from neo4j.exceptions import ServiceUnavailable

        with GraphDatabase.driver(self.uri, auth=self.auth) as driver:
            while True:
                try:
                    driver.verify_connectivity()
                    return
                except ServiceUnavailable:
                    self._check_alive(offset)
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)

    def _log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def _check_alive(self, offset: int) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = "\n".join(self._log_since(offset).splitlines()[-30:])
            raise RuntimeError(f"Neo4j exited with code {self.process.returncode}:\n{tail}")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM the JVM (clean shutdown hook), wait up to ``timeout`` s, then SIGKILL."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Neo4jServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _read_pidfile(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build the launcher jar (mvn package) if out of date")
    for name, help_ in (("start", "start in the background and return once ready"),
                        ("run", "run in the foreground (Ctrl-C / SIGTERM stops)"),
                        ("stop", "stop a server started with `start`")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"data dir (default {DEFAULT_DATA})")
        p.add_argument("--pidfile", type=Path, help="pid file (default DATA/neo4j.pid)")
        if name != "stop":
            p.add_argument("--port", type=int, default=DEFAULT_PORT)
            p.add_argument("--password", default=DEFAULT_PASSWORD)
            p.add_argument("--heap", default=DEFAULT_HEAP, help="JVM -Xmx (default 1g)")
            p.add_argument("--pagecache", default=DEFAULT_PAGECACHE, help="page cache (default 64m)")
    args = parser.parse_args(argv)

    if args.cmd == "build":
        print(build(force=True))
        return 0
    pidfile: Path = (args.pidfile or args.data / "neo4j.pid").resolve()
    if args.cmd == "stop":
        pid = _read_pidfile(pidfile)
        if pid is None or not is_launcher_pid(pid):
            print(f"not running (pidfile {pidfile})", file=sys.stderr)
            pidfile.unlink(missing_ok=True)
            return 0
        terminate_pid(pid)
        pidfile.unlink(missing_ok=True)
        print(f"stopped pid {pid}")
        return 0

    server = Neo4jServer(args.data, args.port, args.password, args.heap, args.pagecache)
    if args.cmd == "run":
        build()
        server.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = server.command()
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(f"{os.getpid()}\n")  # exec keeps the pid, so `stop` works too
        os.execvp(cmd[0], cmd)  # java gets our stdout and signals directly
    old = _read_pidfile(pidfile)
    if old is not None and is_launcher_pid(old):
        print(f"already running as pid {old} (pidfile {pidfile})", file=sys.stderr)
        return 1
    try:
        server.start()
    except (RuntimeError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{server.pid}\n")
    print(server.uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
