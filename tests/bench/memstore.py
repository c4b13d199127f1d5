"""The memory store's resident memory per idle session: ``count`` sessions of 4 joined
players and 1 KiB of state, created through the API on a fresh sessiond --store memory.

RSS after minus RSS after the first session (imports done, buffers warm), over
``count``: everything the sessions cost the process (records, indexes, events kept, request
ids), measured as the operating system sees it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sessiond_client import SessionClient

from tests.bench.fleet import create_sessions
from tests.bench.procs import GrpcServer
from tests.bench.workload import session_ids


@dataclass(frozen=True, slots=True)
class MemoryStoreFigures:
    sessions: int
    rss_before: int
    rss_after: int
    seconds: float  # to create and join them all

    @property
    def per_session(self) -> float:
        return (self.rss_after - self.rss_before) / self.sessions


def measure_memory_store(count: int, server_cpus: str, log_dir: Path) -> MemoryStoreFigures:
    server = GrpcServer.sessiond("sessiond-memory-rss", "", server_cpus, log_dir).start()
    try:
        return asyncio.run(_measure(server, count))
    finally:
        server.stop()


async def _measure(server: GrpcServer, count: int) -> MemoryStoreFigures:
    ids = session_ids("idle-", count + 1)
    loop = asyncio.get_running_loop()
    async with SessionClient(server.address) as client:
        await create_sessions(client, ids[:1], window_seconds=10.0, players="join")
        before = server.rss_bytes()
        start = loop.time()
        await create_sessions(client, ids[1:], window_seconds=10.0, players="join")
        seconds = loop.time() - start
        return MemoryStoreFigures(count, before, server.rss_bytes(), seconds)
