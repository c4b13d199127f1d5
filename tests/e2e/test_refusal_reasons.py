"""The call interceptor's own refusals carry a google.rpc.ErrorInfo with their documented
reason (sessiond.api.status_codes.CALL_REFUSALS), like the domain errors do. (WATCH_STALLED is
checked with a frozen watcher in test_drain.py.)"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessiond_client._call_errors import error_info
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb

from sessiond.api.status_codes import CALL_REFUSALS
from sessiond.server import Service
from tests.e2e.conftest import StartServer
from tests.e2e.test_calls import (
    GET,
    Recorded,
    buggy_server,  # noqa: F401 (a fixture)
)
from tests.e2e.test_ops import READER, auth_server, tokens_file  # noqa: F401 (fixtures)

CREATE = "/sessiond.v1.SessionService/CreateSession"


async def refused(
    port: int, method: str, body: bytes, metadata: tuple[tuple[str, str], ...] = ()
) -> tuple[grpc.StatusCode, str, str]:
    """The code, ErrorInfo reason and domain of a call that must fail."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(body, timeout=5, metadata=metadata)
    info = error_info(raised.value)
    return raised.value.code(), info.reason if info else "", info.domain if info else ""


def expected(reason: str) -> tuple[grpc.StatusCode, str, str]:
    return CALL_REFUSALS[reason], reason, "sessiond"


GET_BYTES = spb.GetSessionRequest(session_id="s1").SerializeToString()


async def test_authentication_refusals_carry_their_reason(auth_server: Service) -> None:  # noqa: F811
    assert await refused(auth_server.port, GET, GET_BYTES) == expected("UNAUTHENTICATED")
    garbage = b"\xff\xff\xff"  # authentication comes before parsing
    assert await refused(auth_server.port, GET, garbage) == expected("UNAUTHENTICATED")
    reader = (("authorization", f"Bearer {READER}"),)
    create = spb.CreateSessionRequest().SerializeToString()
    assert await refused(auth_server.port, CREATE, create, reader) == expected("PERMISSION_DENIED")


async def test_bytes_that_do_not_parse_carry_malformed_request(server: Service) -> None:
    assert await refused(server.port, GET, b"\xff\xff\xff") == expected("MALFORMED_REQUEST")


async def test_a_draining_server_says_server_draining(start_server: StartServer) -> None:
    server = await start_server()
    # The drain task starts at the call's first await, before the request is sent.
    draining = asyncio.create_task(server.calls.drain(5, quiet=0.5))
    assert await refused(server.port, GET, GET_BYTES) == expected("SERVER_DRAINING")
    await draining


async def test_a_bug_answers_internal_with_its_reason(buggy_server: tuple[int, Recorded]) -> None:  # noqa: F811
    port, _ = buggy_server
    assert await refused(port, "/test.Bugs/Buggy", b"") == expected("INTERNAL")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stream = channel.unary_stream("/test.Bugs/BuggyStream")(b"", timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for _ in stream:
                pass
    info = error_info(raised.value)
    assert (raised.value.code(), info and info.reason) == (grpc.StatusCode.INTERNAL, "INTERNAL")
