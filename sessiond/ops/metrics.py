"""Prometheus metrics of one server.

`ServerMetrics` owns a registry of its own (not prometheus_client's global one, so one
process can run several servers, as the tests do) holding:

- ``sessiond_rpc_requests_total{method,code}`` and ``sessiond_rpc_duration_seconds{method}``,
  fed by the call interceptor (sessiond/api/interceptor.py);
- ``sessiond_sessions{state}``, ``sessiond_open_windows`` and ``sessiond_watchers``, read at
  scrape time from the figures of the manager's stats that `ServerMetrics.follow` refreshes;
- ``sessiond_window_close_lag_seconds`` (`ServerMetrics.observe_close_lag`, for the window
  closer);
- the Neo4j projection (redis+neo4j; 0 on the other stores), from the same stats:
  ``sessiond_outbox_lag_seconds``, ``sessiond_outbox_pending`` and
  ``sessiond_graph_unreachable_seconds``;
- the standard ``process_*`` and ``python_*`` metrics.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

import grpc
import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sessiond.core.models import SessionState
from sessiond.manager.sessions import Stats
from sessiond.periodic import periodic

log = structlog.get_logger("sessiond.metrics")

StatsSource: TypeAlias = Callable[[], Awaitable[Stats]]

# Unary calls answer in about a millisecond from memory and a few from Redis; the top
# buckets catch calls stuck behind a slow store.
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A timer closes a window a few ms after its deadline; the 1 s sweep catches the rest,
# and windows that fell due while no replica ran close up to minutes late.
CLOSE_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
STATS_INTERVAL = 5.0
UNKNOWN_METHOD = "unknown"  # label of calls to methods the server does not have


@dataclass(frozen=True, slots=True)
class GaugeFigures:
    """The live figures the gauges show, as of the last refresh.

    Attributes:
        sessions: Sessions held by the store, by state name (every state present).
        open_windows: Choice windows open now.
        watchers: WatchSession streams this process serves.
    """

    sessions: Mapping[str, int]
    open_windows: int
    watchers: int

    @classmethod
    def of(cls, stats: Stats) -> GaugeFigures:
        """The figures of the manager's stats."""
        by_state = stats.store_stats.sessions_by_state
        return cls(
            {state.value: by_state.get(state, 0) for state in SessionState},
            stats.store_stats.open_windows,
            stats.watchers,
        )


class _LiveCollector(Collector):
    """Gauges computed from the latest figures. It runs on the HTTP listener's thread,
    so it only reads the figures (one reference): it never awaits the event loop."""

    def __init__(self, latest: Callable[[], GaugeFigures | None]) -> None:
        self._latest = latest

    def describe(self) -> Iterable[Metric]:
        return self._families(None)

    def collect(self) -> Iterable[Metric]:
        figures = self._latest()
        # Before the first refresh there is nothing true to say; absent beats zero.
        return self._families(figures) if figures is not None else []

    @staticmethod
    def _families(figures: GaugeFigures | None) -> list[Metric]:
        # Store-wide figures: every replica of a shared store reports the same (use max, not sum).
        sessions = GaugeMetricFamily("sessiond_sessions", "Sessions in the store, by state.", labels=["state"])
        windows = GaugeMetricFamily("sessiond_open_windows", "Choice windows open in the store.")
        watchers = GaugeMetricFamily("sessiond_watchers", "WatchSession streams served by this process.")
        if figures is not None:
            for state, count in sorted(figures.sessions.items()):
                sessions.add_metric([state], count)
            windows.add_metric([], figures.open_windows)
            watchers.add_metric([], figures.watchers)
        return [sessions, windows, watchers]


class ServerMetrics:
    """The metrics of one server, in a registry of their own.

    Attributes:
        registry: What the /metrics listener exposes.
        requests: ``sessiond_rpc_requests_total{method,code}``.
        duration: ``sessiond_rpc_duration_seconds{method}`` (unary calls).
        close_lag: ``sessiond_window_close_lag_seconds``.
        outbox_lag: ``sessiond_outbox_lag_seconds``.
        outbox_pending: ``sessiond_outbox_pending``.
        graph_unreachable: ``sessiond_graph_unreachable_seconds``.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sessiond_rpc_requests",
            "RPCs finished, by full method name and status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "sessiond_rpc_duration_seconds",
            "Time to answer a unary RPC (streams are left out: a watch's lifetime is not latency).",
            ["method"],
            buckets=RPC_BUCKETS,
            registry=self.registry,
        )
        self.close_lag = Histogram(
            "sessiond_window_close_lag_seconds",
            "From a choice window's deadline to the commit that resolved its turn.",
            buckets=CLOSE_LAG_BUCKETS,
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "sessiond_outbox_lag_seconds",
            "Age of the oldest durable fact not yet projected into Neo4j (0 when caught up).",
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "sessiond_outbox_pending",
            "Durable facts waiting in the outbox to be projected into Neo4j (0 when caught up).",
            registry=self.registry,
        )
        self.graph_unreachable = Gauge(
            "sessiond_graph_unreachable_seconds",
            "How long this server has found Neo4j unreachable (0 while it answers). The hot path "
            "keeps serving meanwhile; what needs the graph fails UNAVAILABLE.",
            registry=self.registry,
        )
        self._figures: GaugeFigures | None = None
        self.registry.register(_LiveCollector(lambda: self._figures))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def observe_rpc(self, method: str, code: grpc.StatusCode, seconds: float | None) -> None:
        """Count a finished call and, for a unary call, its duration.

        Args:
            method: The full method name, e.g. ``/sessiond.v1.SessionService/GetSession``.
            code: The status the call ended with.
            seconds: How long it took; None for a stream.
        """
        self.requests.labels(method=method, code=code.name).inc()
        if seconds is not None:
            self.duration.labels(method=method).observe(seconds)

    def observe_close_lag(self, seconds: float) -> None:
        """Record how late a window closed: deadline to the commit resolving its turn.

        For the window closer, on closes at the deadline (not early ALL_CHOSEN closes).

        Args:
            seconds: Commit time minus deadline, by the store's clock; a negative
                value (clocks a hair apart) counts as 0.
        """
        self.close_lag.observe(max(0.0, seconds))

    def set_outbox_lag(self, seconds: float) -> None:
        """Set the projection lag, for the Neo4j outbox projector.

        Args:
            seconds: Age of the oldest unprojected outbox entry; 0 when caught up.
        """
        self.outbox_lag.set(max(0.0, seconds))

    def update(self, stats: Stats) -> None:
        """Replace the figures the session, window and watcher gauges show, and the
        projection's figures (0 unless the store projects into a graph)."""
        self._figures = GaugeFigures.of(stats)
        self.set_outbox_lag(stats.store_stats.outbox_lag_seconds)
        self.outbox_pending.set(stats.store_stats.outbox_pending)
        self.graph_unreachable.set(stats.store_stats.graph_unreachable_seconds)

    async def follow(self, stats: StatsSource, interval: float = STATS_INTERVAL) -> None:
        """Refresh the figures from ``stats`` now and every ``interval`` seconds, until cancelled.

        A failed refresh is logged and the previous figures kept.

        Args:
            stats: The manager's ``stats`` method.
            interval: Seconds between refreshes.
        """

        async def refresh() -> None:
            self.update(await stats())

        await periodic(interval, refresh, "metrics refresh", first=True)
