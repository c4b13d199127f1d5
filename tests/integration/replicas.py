"""sessiond replicas as Kubernetes runs them: ``python -m sessiond serve --store redis``
processes on loopback ports, sharing one real redis-server. Each replica comes with a
client and a health stub on one channel; ``Replicas.close`` stops whatever is left."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sessiond_client import SessionClient, pb

from tests.e2e.daemon import Daemon, free_port

T = TypeVar("T")

SESSION_SERVICE = "sessiond.v1.SessionService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Replica:
    """One sessiond process on the Redis store, and a channel to it."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._connect()

    def _connect(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.daemon.target)
        self.client = SessionClient.from_channel(self._channel, default_timeout=10)
        self._health = health_pb2_grpc.HealthStub(self._channel)  # type: ignore[no-untyped-call]

    async def restart(self) -> None:
        """Start the stopped (or killed) process again on its port, with a new channel:
        the old one may be waiting out a reconnect backoff after calls to the dead process."""
        await self._channel.close()
        self.daemon.launch()
        await self.wait_serving()
        self._connect()

    async def health(self, service: str = "") -> int:
        """The health status of ``service`` ("" is the whole process)."""
        reply = await self._health.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        return int(reply.status)

    async def wait_serving(self) -> None:
        await asyncio.to_thread(self.daemon.wait_serving)

    def log_events(self) -> list[str]:
        return [str(line.get("event")) for line in self.daemon.log_lines()]

    async def close(self) -> None:
        await self._channel.close()
        await asyncio.to_thread(self.daemon.stop)


class Replicas:
    """Starts replicas whose logs and files go to ``workdir``; ``close`` stops them all."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Replica] = []

    async def start(self, count: int, redis_url: str, env: dict[str, str] | None = None) -> list[Replica]:
        """``count`` replicas on ``redis_url`` (with ``env`` set too), launched together,
        once all serve."""
        made = [Replica(self._daemon(redis_url, len(self.started) + n, env or {})) for n in range(count)]
        self.started += made
        for replica in made:
            replica.daemon.launch()
        await asyncio.gather(*(replica.wait_serving() for replica in made))
        return made

    def _daemon(self, redis_url: str, number: int, more_env: dict[str, str]) -> Daemon:
        env = {"SESSIOND_REDIS_URL": redis_url, **more_env}
        return Daemon(free_port(), None, self.workdir / f"replica-{number}.log", store="redis", env=env)

    async def close(self) -> None:
        await asyncio.gather(*(replica.close() for replica in self.started))


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str | Callable[[], str], interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something other than None (an external effect we
    wait for, never a fixed sleep); fail after ``timeout`` seconds, saying ``what``."""
    deadline = time.monotonic() + timeout
    while (found := await probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what() if callable(what) else what}")
        await asyncio.sleep(interval)
    return found


async def wait_health(replica: Replica, service: str, status: int, timeout: float = 10.0) -> float:
    """Seconds until ``service`` of ``replica`` reports ``status``."""
    began = time.monotonic()

    async def reached() -> bool | None:
        return True if await replica.health(service) == status else None

    await eventually(reached, timeout=timeout, what=f"health of {service!r} to become {status}")
    return time.monotonic() - began


async def stored_events(client: SessionClient, session_id: str, after: int, last: int) -> list[pb.SessionEvent]:
    """The stored events ``after`` < id <= ``last`` as a replica replays them."""
    found: list[pb.SessionEvent] = []
    if last <= after:
        return found
    async with client.watch(session_id, after_event_id=after, exclude_ticks=True, timeout=15) as events:
        async for event in events:
            found.append(event)
            if event.event_id >= last:
                break
    return found


async def resolved_turns(client: SessionClient, session_ids: Sequence[str], timeout: float) -> dict[str, list[pb.Turn]]:
    """Poll ListTurns until every session has a resolved turn; then every session's turns."""
    pending = set(session_ids)

    async def all_resolved() -> bool | None:
        asked = sorted(pending)
        answers = await asyncio.gather(*(client.list_turns(sid) for sid in asked))
        pending.difference_update(sid for sid, answer in zip(asked, answers, strict=True) if answer.turns)
        return None if pending else True

    await eventually(all_resolved, timeout=timeout, interval=0.2, what=lambda: f"open windows left: {sorted(pending)}")
    answers = await asyncio.gather(*(client.list_turns(sid) for sid in session_ids))
    return {sid: list(answer.turns) for sid, answer in zip(session_ids, answers, strict=True)}


def choices_of(turn: pb.Turn) -> dict[str, str]:
    return {c.player_id: c.choice for c in turn.choices}


def seconds(stamp: Timestamp) -> float:
    return stamp.ToNanoseconds() / 1e9
