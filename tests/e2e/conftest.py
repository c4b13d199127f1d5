"""End-to-end fixtures: a real grpc.aio sessiond on a loopback port, reached through
the Python client."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sessiond_client import SessionClient, SessionWatch, pb

from sessiond.config import Config, load
from sessiond.server import Service

StartServer = Callable[..., Awaitable[Service]]


def server_config(**overrides: Any) -> Config:
    # No metrics listener or console unless a test asks: several servers run in one process.
    quiet = ["--metrics-listen", "", "--console-listen", "", "--log-level", "warning", "--log-format", "json"]
    base = load(["--listen", "127.0.0.1:0", *quiet], env={})
    return dataclasses.replace(base, **overrides)


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start in-process servers with config overrides; all are stopped at the end."""
    started: list[Service] = []

    async def start(**overrides: Any) -> Service:
        service = Service(server_config(**overrides))
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop(0)


@pytest.fixture
async def server(start_server: StartServer) -> Service:
    return await start_server()


@pytest.fixture
async def client(server: Service) -> AsyncIterator[SessionClient]:
    async with SessionClient(f"127.0.0.1:{server.port}", default_timeout=10) as c:
        yield c


class Recorder:
    """Consumes a watch in the background so a test can await the event it expects."""

    def __init__(self, events: AsyncGenerator[pb.SessionEvent, None] | SessionWatch) -> None:
        self.events: list[pb.SessionEvent] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._consume(events))

    async def _consume(self, events: AsyncGenerator[pb.SessionEvent, None] | SessionWatch) -> None:
        try:
            # Closed however the loop ends: `stop` may cancel it between two events, where
            # `async for` would leave the stream open until the watch is garbage-collected.
            async with contextlib.aclosing(events):
                async for event in events:
                    async with self._changed:
                        self.events.append(event)
                        self._changed.notify_all()
        except Exception as exc:
            self.error = exc
        async with self._changed:
            self._changed.notify_all()

    def stored(self) -> list[pb.SessionEvent]:
        return [e for e in self.events if e.event_id > 0]

    def of_kind(self, kind: str) -> list[pb.SessionEvent]:
        return [e for e in self.events if e.WhichOneof("kind") == kind]

    async def wait_for(
        self, predicate: Callable[[pb.SessionEvent], bool], timeout: float = 15.0
    ) -> pb.SessionEvent:
        async def first() -> pb.SessionEvent:
            async with self._changed:
                while True:
                    for event in self.events:
                        if predicate(event):
                            return event
                    if self._task.done():
                        raise AssertionError(f"watch ended ({self.error!r}) before the expected event")
                    await self._changed.wait()

        return await asyncio.wait_for(first(), timeout)

    async def wait_kind(self, kind: str, count: int = 1, timeout: float = 15.0) -> pb.SessionEvent:
        """The ``count``-th event of ``kind``, once it has arrived."""
        await self.wait_for(lambda _e: len(self.of_kind(kind)) >= count, timeout)
        return self.of_kind(kind)[count - 1]

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
