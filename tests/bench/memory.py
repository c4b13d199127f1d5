"""Redis memory per idle session: 4 players, 1 KiB of state, no open window.

A fresh redis-server (with the given extra config) and a sessiond on it; ``count``
sessions are created and joined through the API, exactly as clients do. Two figures:

- ``used_memory`` delta / count, less the client buffers (``mem_clients_normal``): all that
  the sessions cost Redis, including the index entries, the dictionary slots of the keys
  and the request-id keys CreateSession leaves for 24 h;
- MEMORY USAGE (SAMPLES 0) of each session's own keys (record, events stream, turns).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import redis
from sessiond_client import SessionClient

from sessiond.store.redis import Keys
from tests.bench.fleet import create_sessions
from tests.bench.procs import GrpcServer, PinnedRedis
from tests.bench.workload import session_ids

PREFIX = "idle-"
KEY_PREFIX = "sessiond"  # sessiond's default --redis-key-prefix


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    slug: str
    name: str
    redis_args: tuple[str, ...]


DEFAULT = MemoryConfig("default", "default config", ())
TUNED = MemoryConfig("tuned", "stream-node-max-bytes 512", ("--stream-node-max-bytes", "512"))


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    config: MemoryConfig
    sessions: int
    used_memory: float  # bytes per session
    key_usage: float  # bytes per session: MEMORY USAGE of its own keys
    parts: dict[str, float]  # bytes per session by kind of key


def measure_memory(config: MemoryConfig, count: int, server_cpus: str, redis_cpus: str, log_dir: Path) -> MemoryFigures:
    server = PinnedRedis(redis_cpus, config.redis_args).start()
    sessiond = None
    try:
        sessiond = GrpcServer.sessiond(f"sessiond-memory-{config.slug}", server.url, server_cpus, log_dir)
        sessiond.start()
        return asyncio.run(_measure(config, count, sessiond.address, server))
    finally:
        if sessiond is not None:
            sessiond.stop()
        server.remove()


async def _measure(config: MemoryConfig, count: int, target: str, server: PinnedRedis) -> MemoryFigures:
    keys = Keys(KEY_PREFIX)
    ids = session_ids(PREFIX, count + 1)
    async with SessionClient(target) as client:
        # One session first: scripts loaded, index keys created, connections open.
        await create_sessions(client, ids[:1], window_seconds=10.0, players="join")
        with server.client() as probe:
            before, shared_before = _data_memory(server), _shared_keys(probe, keys)
        await create_sessions(client, ids[1:], window_seconds=10.0, players="join")
        with server.client() as probe:
            after, shared_after = _data_memory(server), _shared_keys(probe, keys)
            mine = [keys.session(sid) for sid in ids[1:]]
            parts = {
                "record": _usage(probe, (k.session for k in mine)),
                "events stream": _usage(probe, (k.events for k in mine)),
                "turns": _usage(probe, (k.turns for k in mine)),
                **{name: shared_after[name] - shared_before[name] for name in shared_after},
            }
    per = {name: value / count for name, value in parts.items()}
    return MemoryFigures(
        config=config,
        sessions=count,
        used_memory=(after - before) / count,
        key_usage=per["record"] + per["events stream"] + per["turns"],
        parts=per,
    )


def _data_memory(server: PinnedRedis) -> int:
    info = server.info_memory()
    return info["used_memory"] - info.get("mem_clients_normal", 0)


def _shared_keys(probe: redis.Redis, keys: Keys) -> dict[str, int]:
    """MEMORY USAGE of the keys that are not one session's own: indexes, request ids."""
    return {
        "indexes": _usage(probe, keys.index.all),
        "request ids": _usage(probe, probe.scan_iter(match=keys.request("*"), count=1000)),
    }


def _usage(probe: redis.Redis, names: Iterable[str | bytes]) -> int:
    """Sum of MEMORY USAGE ... SAMPLES 0 (every element counted); missing keys count 0."""
    pipe = probe.pipeline(transaction=False)
    for name in names:
        pipe.memory_usage(name, samples=0)
    return sum(int(size or 0) for size in pipe.execute())
