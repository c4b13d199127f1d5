"""Building redis-py clients from a URL, and turning connection failures into Unavailable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from redis import exceptions as rex
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from sessiond.core.errors import Unavailable
from sessiond.store.redis import _cancellation

Client = Redis | RedisCluster


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """Timeouts and pool sizes. Short timeouts make calls fail fast when Redis is down."""

    connect_timeout: float = 1.0
    command_timeout: float = 5.0
    # Connections for commands (per node on a cluster). On one node a caller waits up to
    # command_timeout for a free one; redis-py's cluster client fails at once instead
    # (Unavailable), so size it for the replica's peak of concurrent calls.
    max_connections: int = 128
    # Connections that may block for long: the one event-notice subscription of the
    # process, and one per wait_events call (not used for watching).
    max_blocking_connections: int = 64
    # One quick retry lets a pooled connection broken by a Redis restart reconnect
    # transparently; more would only make calls hang longer while Redis is down.
    retries: int = 1
    # Idle connections are PINGed before reuse after this many seconds.
    health_check_interval: float = 15.0


def _retry(options: ConnectOptions) -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), options.retries)


def connect(url: str, *, cluster: bool, options: ConnectOptions) -> tuple[Client, Client]:
    """Two clients on ``url`` (redis://, rediss://, user:password@, /db): one for commands and
    one whose connections may block in XREAD for as long as a watcher waits."""
    _cancellation.install()
    if cluster:
        return _cluster(url, options, options.command_timeout), _cluster(url, options, None)
    return _single(url, options, options.command_timeout, options.max_connections), _single(
        url, options, None, options.max_blocking_connections
    )


def _single(url: str, options: ConnectOptions, socket_timeout: float | None, size: int) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=size,
        timeout=options.command_timeout,
        socket_connect_timeout=options.connect_timeout,
        socket_timeout=socket_timeout,
        retry=_retry(options),
        health_check_interval=options.health_check_interval,
    )
    return Redis.from_pool(pool)


def _cluster(url: str, options: ConnectOptions, socket_timeout: float | None) -> RedisCluster:
    size = options.max_connections if socket_timeout is not None else options.max_blocking_connections
    return RedisCluster.from_url(
        url,
        max_connections=size,
        socket_connect_timeout=options.connect_timeout,
        socket_timeout=socket_timeout,
        retry=_retry(options),
        health_check_interval=options.health_check_interval,
    )


# Failures that say "Redis cannot serve right now", as opposed to a bug (a script error).
_UNAVAILABLE: tuple[type[Exception], ...] = (
    rex.ConnectionError,  # includes BusyLoadingError and a full connection pool
    rex.TimeoutError,
    rex.ClusterDownError,
    rex.TryAgainError,
    rex.MasterDownError,
    rex.ReadOnlyError,  # a failover is in progress
    rex.SlotNotCoveredError,
    rex.RedisClusterException,
    TimeoutError,
    OSError,
)

FAILURES = _UNAVAILABLE  # for code that handles connection failures itself
_BUGS = (rex.CrossSlotTransactionError, rex.InvalidPipelineStack)


@contextlib.contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Re-raise connection-level failures as Unavailable, so callers see one retryable error."""
    try:
        yield
    except _BUGS:
        raise
    except rex.OutOfMemoryError as exc:  # maxmemory reached under noeviction: retry later
        raise Unavailable(f"redis refused the write: {exc}") from exc
    except _UNAVAILABLE as exc:
        raise Unavailable(f"redis unreachable: {type(exc).__name__}: {exc}") from exc
