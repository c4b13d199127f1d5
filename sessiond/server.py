"""The running service: the gRPC server, its health (and the plaintext health listener),
and the graceful drain. Everything it serves is built by sessiond.bootstrap."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from sessiond_client._proto.sessiond.v1 import player_service_pb2 as ppb
from sessiond_client._proto.sessiond.v1 import player_service_pb2_grpc as ppb_grpc
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as spb_grpc

from sessiond import bootstrap
from sessiond.api.interceptor import CallInterceptor
from sessiond.bootstrap import VERSION
from sessiond.config import Config
from sessiond.core.errors import SessiondError
from sessiond.ops import HealthListener, OpsConfigError, server_credentials
from sessiond.ops.reflection import enable_reflection
from sessiond.periodic import Loops, periodic
from sessiond.store.protocols import SessionStore

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


class Service:
    """A running sessiond: ``await start()``, then ``await stop()`` (or run ``serve``)."""

    def __init__(self, config: Config, store: SessionStore | None = None) -> None:
        self.config = config
        self.parts = bootstrap.build(config, store)
        self.store = self.parts.store
        self.manager = self.parts.manager
        self.players = self.parts.players
        self.metrics = self.parts.metrics
        self.metrics_listener = self.parts.metrics_listener
        self.console_listener = self.parts.console_listener
        self.health = health_aio.HealthServicer()
        self.health_listener = HealthListener(self.health, config.health_listen) if config.health_listen else None
        self.calls = CallInterceptor(self.metrics, self.parts.auth, stream_write_timeout=config.watch_write_timeout)
        self.server = grpc.aio.server(interceptors=[self.calls], options=SERVER_OPTIONS)
        self.port = 0
        self._loops = Loops("service")
        self._store_serving = False
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
        await self.parts.start_store()  # e.g. the memory store's snapshot, before any window is scheduled
        await self.manager.start()
        spb_grpc.add_SessionServiceServicer_to_server(self.parts.session_servicer, self.server)
        ppb_grpc.add_PlayerServiceServicer_to_server(self.parts.player_servicer, self.server)
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
        self._store_serving = await self._store_reachable()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING, ("",))  # the process is alive
        await self._set_health(self._status(self._store_serving), (SERVICE_NAME,))
        await self.server.start()
        if self.health_listener is not None:
            await self.health_listener.start()
        if self.console_listener is not None:
            try:
                await self.console_listener.start()
            except OpsConfigError as exc:
                raise SystemExit(str(exc)) from exc
        self._loops.start(self._background())
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

    def _background(self) -> dict[str, Coroutine[Any, Any, None]]:
        loops = {"store-probe": periodic(HEALTH_PROBE_INTERVAL, self._probe_store, "store-probe")}
        if self.metrics_listener is not None:
            loops["metrics-stats"] = self.metrics.follow(self.manager.stats)
        gate = self.parts.graph_gate
        if gate is not None:
            loops["graph-health"] = gate.follow(lambda up: self._set_health(self._status(up), (GRAPH_HEALTH_NAME,)))
        return loops

    async def stop(self, grace: float | None = None) -> None:
        """Drain: NOT_SERVING, end watch streams (UNAVAILABLE), refuse new calls, let
        unary calls in flight finish within ``grace`` seconds, then close the store
        (the memory store writes its snapshot)."""
        if self._stopped.is_set():
            return
        grace = self.config.shutdown_grace if grace is None else grace
        log.info("draining", grace_seconds=grace)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        await self.health.enter_graceful_shutdown()
        await self._loops.stop()
        await self.manager.hub.close()
        # Calls that arrive from now on are answered UNAVAILABLE (retry elsewhere), not cancelled.
        await self.calls.drain(grace)
        self.calls.end_streams()  # health watchers have seen NOT_SERVING; none holds the stop
        await self.server.stop(max(0.0, deadline - loop.time()))
        # Probes and scrapes keep answering (NOT_SERVING) through the drain.
        if self.health_listener is not None:
            await self.health_listener.stop(0)
        if self.metrics_listener is not None:
            await self.metrics_listener.stop()
        if self.console_listener is not None:
            await self.console_listener.stop()
        await self.manager.stop()
        await self.store.close()
        self._stopped.set()
        log.info("stopped")

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

    async def _probe_store(self) -> None:
        """Serve SessionService's health from the store's reachability, so a replica
        without its backend is taken out of rotation (readiness) and put back when it
        recovers. The overall "" status stays SERVING while the process is alive, so a
        liveness probe does not restart every pod when the backend is down."""
        ok = await self._store_reachable()
        if ok != self._store_serving:
            self._store_serving = ok
            await self._set_health(self._status(ok), (SERVICE_NAME,))


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, drain gracefully, then end the process (exit 0)."""
    service = Service(config)
    await service.start()
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    await stop_requested.wait()
    await service.stop()
    # Everything is written and closed: freeing a large memory store object by object
    # would take longer than the drain (seconds per 100,000 sessions), for nothing.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
