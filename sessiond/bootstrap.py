"""The composition root: every part of a sessiond built from its Config, nothing started.

The only module that knows which store class goes with which setting; everything it
returns is used through protocols (a store's ``start``/``close``, the manager's use cases).
A configuration error stops the process here, with the setting's name, before any I/O.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sessiond_client._proto.sessiond.v1 import player_service_pb2 as ppb
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb

from sessiond.api.players import PlayerServicer
from sessiond.api.sessions import SessionServicer
from sessiond.config import Config
from sessiond.console import Bridge, Console, ConsoleListener
from sessiond.manager.players import PlayerManager
from sessiond.manager.sessions import SessionManager
from sessiond.ops import Authorizer, MetricsListener, OpsConfigError, ServerMetrics, load_auth, server_ssl_context
from sessiond.store.durable import DurableStore
from sessiond.store.durable_gate import GraphGate
from sessiond.store.memory import MemoryStore
from sessiond.store.neo4j import GraphAuthFailed, GraphStore, GraphUnavailable
from sessiond.store.protocols import SessionStore
from sessiond.store.redis import RedisStore

log = structlog.get_logger("sessiond")

try:
    VERSION = importlib.metadata.version("sessiond")
except importlib.metadata.PackageNotFoundError:
    VERSION = "0.0.0+source"


@dataclass(frozen=True, slots=True)
class Parts:
    """What ``build`` makes; the server starts and stops it."""

    store: SessionStore
    graph_gate: GraphGate | None  # redis+neo4j: the graph's reachability, for its health name
    metrics: ServerMetrics
    manager: SessionManager
    players: PlayerManager
    session_servicer: SessionServicer
    player_servicer: PlayerServicer
    auth: Authorizer | None
    metrics_listener: MetricsListener | None
    console_listener: ConsoleListener | None

    async def start_store(self) -> None:
        """Start the store (load its snapshot, migrate its graph); wrong credentials stop the process."""
        try:
            await self.store.start()
        except GraphAuthFailed as exc:
            raise SystemExit(f"neo4j refused the credentials: {exc.message}") from exc


def build(config: Config, store: SessionStore | None = None) -> Parts:
    """Every part of a sessiond for ``config`` (``store`` replaces the configured one)."""
    store = store if store is not None else build_store(config)
    durable = store if isinstance(store, DurableStore) else None
    metrics = ServerMetrics()
    manager = SessionManager(store, config.manager_config(), on_close_lag=metrics.observe_close_lag, projection=durable)
    players = PlayerManager(store, config.manager_config(), archive=durable)
    session_servicer = SessionServicer(manager, VERSION)
    player_servicer = PlayerServicer(players, store.name)
    try:
        auth = load_auth(config.auth_tokens_file)
        metrics_listener = MetricsListener(metrics.registry, config.metrics_listen) if config.metrics_listen else None
        console_listener = _console(config, session_servicer, player_servicer, auth, store.name)
    except OpsConfigError as exc:
        raise SystemExit(str(exc)) from exc
    return Parts(
        store=store,
        graph_gate=durable.gate if durable is not None else None,
        metrics=metrics,
        manager=manager,
        players=players,
        session_servicer=session_servicer,
        player_servicer=player_servicer,
        auth=auth,
        metrics_listener=metrics_listener,
        console_listener=console_listener,
    )


def build_store(config: Config, clock: Callable[[], float] = time.time) -> SessionStore:
    if config.store == "memory":
        return MemoryStore(
            clock=clock,
            history=config.history_turns,
            event_retention=config.event_retention,
            snapshot_path=config.snapshot_path,
            snapshot_interval=config.snapshot_interval,
        )
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


def _console(
    config: Config,
    sessions: SessionServicer,
    players: PlayerServicer,
    auth: Authorizer | None,
    store_name: str,
) -> ConsoleListener | None:
    """The operator console, calling the same servicers as the gRPC API."""
    if not config.console_listen:
        return None
    bridge = Bridge(
        {
            spb.DESCRIPTOR.services_by_name["SessionService"]: sessions,
            ppb.DESCRIPTOR.services_by_name["PlayerService"]: players,
        }
    )
    tls = server_ssl_context(config.tls_cert, config.tls_key, config.tls_client_ca)
    return ConsoleListener(Console(bridge, auth, store_name), config.console_listen, tls)
