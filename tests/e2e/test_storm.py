"""A reconnect storm: thousands of WatchSession streams opened at once on one connection
all reach their handler and get their first message (grpc core's default queue of calls
waiting for the server cancels what overflows 1,000)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as stubs

from tests.e2e.daemon import Daemon, free_port

STREAMS = 4_000
SESSIONS = 800


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(free_port(), None, tmp_path / "sessiond.log", env={"SESSIOND_LOG_LEVEL": "warning"})
    d.start()
    yield d
    d.stop()


async def test_thousands_of_streams_opened_at_once_all_get_their_first_message(daemon: Daemon) -> None:
    async with grpc.aio.insecure_channel(daemon.target) as channel:
        stub = stubs.SessionServiceStub(channel)
        for i in range(SESSIONS):
            await stub.CreateSession(spb.CreateSessionRequest(session_id=f"storm-{i}"))
        requests = [
            spb.WatchSessionRequest(session_id=f"storm-{i % SESSIONS}", exclude_ticks=True) for i in range(STREAMS)
        ]
        calls = [stub.WatchSession(request, timeout=60) for request in requests]

        async def first(call: grpc.aio.UnaryStreamCall[spb.WatchSessionRequest, object]) -> str:
            try:
                message = await call.read()
            except grpc.aio.AioRpcError as err:
                return err.code().name
            return "first message" if message is not grpc.aio.EOF else "ended empty"

        outcomes = Counter(await asyncio.gather(*(first(call) for call in calls)))
        for call in calls:
            call.cancel()
    assert outcomes == {"first message": STREAMS}
