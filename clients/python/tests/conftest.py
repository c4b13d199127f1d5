"""Fixtures: the scripted fake service on a local port, and a client of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from client_fake import FAST, FakeService

from sessiond_client import SessionClient
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc


@pytest.fixture
async def fake() -> AsyncIterator[FakeService]:
    service = FakeService()
    server = grpc.aio.server()
    session_service_pb2_grpc.add_SessionServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    service.target = f"127.0.0.1:{port}"
    yield service
    await server.stop(None)


@pytest.fixture
async def client(fake: FakeService) -> AsyncIterator[SessionClient]:
    async with SessionClient(fake.target, token="t0k", retry=FAST, default_timeout=5.0) as c:
        yield c
