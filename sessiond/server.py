"""The one place that wires the store, the manager, the servicers, health,
reflection, snapshots, metrics, TLS, authentication and graceful shutdown together."""

from __future__ import annotations

import asyncio
import importlib.metadata
import signal
import time
from collections.abc import Callable
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from sessiond_client._proto.sessiond.v1 import player_service_pb2 as ppb
from sessiond_client._proto.sessiond.v1 import player_service_pb2_grpc as ppb_grpc
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as spb_grpc

from sessiond.api.interceptor import CallInterceptor
from sessiond.api.players import PlayerServicer
from sessiond.api.sessions import SessionServicer
from sessiond.config import Config
from sessiond.console import Bridge, Console, ConsoleListener
from sessiond.core.errors import SessiondError
from sessiond.manager.players import PlayerManager
from sessiond.manager.sessions import SessionManager
from sessiond.ops import (
    HealthListener,
    MetricsListener,
    OpsConfigError,
    ServerMetrics,
    load_auth,
    server_credentials,
    server_ssl_context,
)
from sessiond.ops.reflection import enable_reflection
from sessiond.store import snapshot
from sessiond.store.durable import DurableStore
from sessiond.store.memory import MemoryStore
from sessiond.store.neo4j import GraphAuthFailed, GraphStore, GraphUnavailable
from sessiond.store.protocols import SessionStore
from sessiond.store.redis import RedisStore

log = structlog.get_logger("sessiond")

SERVICE_NAME = spb.DESCRIPTOR.services_by_name["SessionService"].full_name
PLAYER_SERVICE_NAME = ppb.DESCRIPTOR.services_by_name["PlayerService"].full_name
GRAPH_HEALTH_NAME = "sessiond.v1.Graph"  # redis+neo4j: Neo4j's reachability, apart from readiness
HEALTH_PROBE_INTERVAL = 2.0
# grpc core holds calls that arrived before the server asked for them in a queue of 1,000
# (3,000 at most), and cancels what overflows it: a reconnect storm of watchers would lose
# streams before any handler saw them. Calls wait there microseconds unless thousands
# arrive at once, so a deep queue costs nothing in normal traffic.
SERVER_OPTIONS = (
    ("grpc.server.max_pending_requests", 20_000),
    ("grpc.server.max_pending_requests_hard_limit", 50_000),
)

try:
    VERSION = importlib.metadata.version("sessiond")
except importlib.metadata.PackageNotFoundError:
    VERSION = "0.0.0+source"


def build_store(config: Config, clock: Callable[[], float] = time.time) -> SessionStore:
    if config.store == "memory":
        return MemoryStore(clock=clock, history=config.history_turns, event_retention=config.event_retention)
    hot = RedisStore.from_url(
        config.redis_url,
        cluster=config.redis_cluster,
        key_prefix=config.redis_key_prefix,
        history=config.history_turns,
        event_retention=config.event_retention,
        # Redis frees a session's keys by itself this long after the janitor could have.
        ttl_margin=config.expired_retention + config.janitor_interval,
        outbox=config.store == "redis+neo4j",
        id_registry=config.store == "redis+neo4j",
    )
    if config.store == "redis":
        return hot
    return DurableStore(hot, build_graph(config), history=config.history_turns)


def build_graph(config: Config) -> GraphStore:
    """The graph of ``config`` (no I/O yet); a malformed URI stops the process with the reason."""
    try:
        return GraphStore.connect(config.neo4j_uri, config.neo4j_user, config.neo4j_password, config.neo4j_database)
    except ValueError as exc:
        raise SystemExit(f"--neo4j-uri: {exc}") from exc


class Service:
    """A running sessiond: ``await start()``, then ``await stop()`` (or run ``serve``)."""

    def __init__(self, config: Config, store: SessionStore | None = None) -> None:
        self.config = config
        self.store = store if store is not None else build_store(config)
        self.metrics = ServerMetrics()
        durable = self.store if isinstance(self.store, DurableStore) else None
        self.manager = SessionManager(
            self.store, config.manager_config(), on_close_lag=self.metrics.observe_close_lag, projection=durable
        )
        self.players = PlayerManager(self.store, config.manager_config(), archive=durable)
        self.health = health_aio.HealthServicer()
        try:
            auth = load_auth(config.auth_tokens_file)
            self.metrics_listener = (
                MetricsListener(self.metrics.registry, config.metrics_listen) if config.metrics_listen else None
            )
        except OpsConfigError as exc:
            raise SystemExit(str(exc)) from exc
        self.health_listener = HealthListener(self.health, config.health_listen) if config.health_listen else None
        self.session_servicer = SessionServicer(self.manager, VERSION)
        self.player_servicer = PlayerServicer(self.players, self.store.name)
        self._auth = auth
        self.console_listener: ConsoleListener | None = None
        self.calls = CallInterceptor(self.metrics, auth, stream_write_timeout=config.watch_write_timeout)
        self.server = grpc.aio.server(interceptors=[self.calls], options=SERVER_OPTIONS)
        self.port = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        # Side listeners take their ports first: a bad setting stops us before anything runs.
        try:
            credentials = server_credentials(self.config.tls_cert, self.config.tls_key, self.config.tls_client_ca)
            if self.health_listener is not None:
                self.health_listener.bind()
            if self.metrics_listener is not None:
                self.metrics_listener.start()
        except OpsConfigError as exc:
            raise SystemExit(str(exc)) from exc
        self._load_snapshot()
        if isinstance(self.store, DurableStore):
            try:
                await self.store.start()
            except GraphAuthFailed as exc:
                raise SystemExit(f"neo4j refused the credentials: {exc.message}") from exc
        await self.manager.start()
        spb_grpc.add_SessionServiceServicer_to_server(self.session_servicer, self.server)
        ppb_grpc.add_PlayerServiceServicer_to_server(self.player_servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        enable_reflection(
            (SERVICE_NAME, PLAYER_SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name),
            self.server,
        )
        try:
            if credentials is None:
                self.port = self.server.add_insecure_port(self.config.listen)
            else:
                self.port = self.server.add_secure_port(self.config.listen, credentials)
        except RuntimeError as exc:
            raise SystemExit(f"cannot listen on {self.config.listen}: {exc}") from exc
        # Readiness tells the truth from the first Check: NOT_SERVING while the store is down.
        serving = await self._store_reachable()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING, ("",))  # the process is alive
        await self._set_health(self._status(serving), (SERVICE_NAME,))
        await self.server.start()
        if self.health_listener is not None:
            await self.health_listener.start()
        await self._start_console()
        self._tasks.append(asyncio.create_task(self._probe_store(serving), name="store-probe"))
        if self.metrics_listener is not None:
            self._tasks.append(asyncio.create_task(self.metrics.follow(self.manager.stats), name="metrics-stats"))
        if isinstance(self.store, DurableStore):
            graph_health = self.store.gate.follow(lambda up: self._set_health(self._status(up), (GRAPH_HEALTH_NAME,)))
            self._tasks.append(asyncio.create_task(graph_health, name="graph-health"))
        if isinstance(self.store, MemoryStore) and self.config.snapshot_path:
            self._tasks.append(asyncio.create_task(self._snapshot_forever(), name="snapshots"))
        log.info(
            "serving",
            port=self.port,
            tls="off" if credentials is None else "mutual" if self.config.tls_client_ca else "on",
            health_port=self.health_listener.port if self.health_listener else None,
            metrics_port=self.metrics_listener.port if self.metrics_listener else None,
            console=self.console_listener.url if self.console_listener else None,
            store=self.store.name,
            version=VERSION,
        )

    async def stop(self, grace: float | None = None) -> None:
        """Drain: NOT_SERVING, end watch streams (UNAVAILABLE), refuse new calls, let
        unary calls in flight finish within ``grace`` seconds, then save and close."""
        if self._stopped.is_set():
            return
        grace = self.config.shutdown_grace if grace is None else grace
        log.info("draining", grace_seconds=grace)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        await self.health.enter_graceful_shutdown()
        for task in self._tasks:
            task.cancel()
        await self.manager.hub.close()
        # Calls that arrive from now on are answered UNAVAILABLE (retry elsewhere), not cancelled.
        await self.calls.drain(grace)
        await self.server.stop(max(0.0, deadline - loop.time()))
        # Probes and scrapes keep answering (NOT_SERVING) through the drain.
        if self.health_listener is not None:
            await self.health_listener.stop(0)
        if self.metrics_listener is not None:
            await self.metrics_listener.stop()
        if self.console_listener is not None:
            await self.console_listener.stop()
        await self.manager.stop()
        await self.save_snapshot()
        await self.store.close()
        self._stopped.set()
        log.info("stopped")

    async def _start_console(self) -> None:
        if not self.config.console_listen:
            return
        bridge = Bridge(
            {
                spb.DESCRIPTOR.services_by_name["SessionService"]: self.session_servicer,
                ppb.DESCRIPTOR.services_by_name["PlayerService"]: self.player_servicer,
            }
        )
        tls = server_ssl_context(self.config.tls_cert, self.config.tls_key, self.config.tls_client_ca)
        listener = ConsoleListener(Console(bridge, self._auth, self.store.name), self.config.console_listen, tls)
        try:
            await listener.start()
        except OpsConfigError as exc:
            raise SystemExit(str(exc)) from exc
        self.console_listener = listener

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def _set_health(self, status: Any, services: tuple[str, ...] = ("", SERVICE_NAME)) -> None:
        for name in services:
            await self.health.set(name, status)

    @staticmethod
    def _status(serving: bool) -> Any:
        return health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING

    async def _store_reachable(self) -> bool:
        try:
            await self.store.ping()
            return True
        except SessiondError as exc:
            log.warning("store unreachable", error=exc.message)
            return False

    async def _probe_store(self, serving: bool) -> None:
        """Serve SessionService's health from the store's reachability, so a replica
        without its backend is taken out of rotation (readiness) and put back when it
        recovers. The overall "" status stays SERVING while the process is alive, so a
        liveness probe does not restart every pod when the backend is down."""
        while True:
            await asyncio.sleep(HEALTH_PROBE_INTERVAL)
            ok = await self._store_reachable()
            if ok != serving:
                serving = ok
                await self._set_health(self._status(ok), (SERVICE_NAME,))

    def _load_snapshot(self) -> None:
        path = self.config.snapshot_path
        if not (isinstance(self.store, MemoryStore) and path):
            return
        data = snapshot.read(path)
        if data is not None:
            count = self.store.load(data)
            log.info("snapshot loaded", path=str(path), sessions=count)

    async def save_snapshot(self) -> None:
        path = self.config.snapshot_path
        if isinstance(self.store, MemoryStore) and path:
            size = await asyncio.to_thread(snapshot.write, path, self.store.dump())
            log.info("snapshot written", path=str(path), bytes=size)

    async def _snapshot_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.snapshot_interval)
            try:
                await self.save_snapshot()
            except OSError as exc:
                log.error("snapshot failed", error=str(exc))


async def migrate(config: Config) -> int:
    """``sessiond migrate``: apply the Neo4j migrations not yet applied; 0 on success."""
    graph = build_graph(config)
    try:
        applied = await graph.migrate()
    except GraphUnavailable as exc:
        log.error("migration failed", uri=config.neo4j_uri, error=exc.message)
        return 1
    finally:
        await graph.close()
    log.info("migrated", uri=config.neo4j_uri, applied=applied or "nothing: the schema is current")
    return 0


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then drain gracefully."""
    service = Service(config)
    await service.start()
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    await stop_requested.wait()
    await service.stop()
