"""The call interceptor end to end, on real grpc.aio servers on loopback: requests that
do not parse, authentication before parsing, bugs answered INTERNAL (and logged and
counted as such), grpc's health Watch, and state nested deeper than the limit."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sessiond_client import RetryPolicy, SessionClient
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb

from sessiond.api.interceptor import CallInterceptor
from sessiond.core.errors import SessionNotFound
from sessiond.server import Service
from tests.e2e.conftest import StartServer
from tests.e2e.test_ops import (  # noqa: F401 (fixtures)
    READER,
    WRITER,
    auth_server,
    json_logs,
    log_lines,
    tokens_file,
)

UPDATE = "/sessiond.v1.SessionService/UpdateSessionState"
GET = "/sessiond.v1.SessionService/GetSession"
NO_RETRY = RetryPolicy(max_attempts=1)


def nested(levels: int) -> dict[str, Any]:
    """A JSON object whose objects nest ``levels`` deep (a flat object is 1)."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def update_bytes(session_id: str, patch: dict[str, Any]) -> bytes:
    struct = struct_pb2.Struct()
    struct.update(patch)
    return spb.UpdateSessionStateRequest(session_id=session_id, patch=struct).SerializeToString()


def _field(number: int, payload: bytes) -> bytes:
    """Field ``number`` holding ``payload`` (wire type 2, varint length)."""
    length, size = b"", len(payload)
    while True:
        byte, size = size & 0x7F, size >> 7
        length += bytes([byte | (0x80 if size else 0)])
        if not size:
            return bytes([number << 3 | 2]) + length + payload


def deep_update_bytes(session_id: str, levels: int) -> bytes:
    """UpdateSessionStateRequest bytes whose patch nests ``levels`` objects, written by hand:
    protobuf's own encoder refuses to build what its decoder cannot read."""
    struct = _field(1, _field(1, b"leaf") + _field(2, b"\x11" + bytes(8)))  # {"leaf": 0.0}
    for _ in range(levels - 1):
        struct = _field(1, _field(1, b"a") + _field(2, _field(5, struct)))  # {"a": {...}}
    return _field(1, session_id.encode()) + _field(2, struct)


async def raw(
    port: int, method: str, body: bytes, metadata: tuple[tuple[str, str], ...] = ()
) -> tuple[grpc.StatusCode, str]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            await call(body, timeout=5, metadata=metadata)
        except grpc.aio.AioRpcError as err:
            return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


@pytest.fixture
async def seeded(start_server: StartServer) -> AsyncIterator[tuple[Service, SessionClient]]:
    server = await start_server()
    async with SessionClient(f"127.0.0.1:{server.port}", default_timeout=5, retry=NO_RETRY) as c:
        await c.create_session(session_id="s1", state={"torch": "lit"})
        yield server, c


# Field 1 (session_id) with a 2-byte string that is not UTF-8; a truncated varint; a
# length that runs past the end; and a patch with 33 objects nested inside it (385 bytes):
# more levels than protobuf's decoder accepts.
MALFORMED = {
    "invalid UTF-8": b"\x0a\x02\xc3\x28",
    "truncated varint": b"\x18\xff\xff\xff",
    "length past the end": b"\x0a\x7fabc",
    "nested 33 deep": deep_update_bytes("s1", 34),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_a_request_that_does_not_parse_is_invalid_argument_and_changes_nothing(
    seeded: tuple[Service, SessionClient], case: str
) -> None:
    server, c = seeded
    before = await c.get_session("s1")
    code, message = await raw(server.port, UPDATE, MALFORMED[case])
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, message)
    assert "not a valid sessiond.v1.UpdateSessionStateRequest message" in message
    assert "Error" not in message and "<class" not in message  # no Python exception names
    after = await c.get_session("s1")
    assert after == before


async def test_state_deeper_than_the_limit_is_refused_by_the_server_and_the_client(
    seeded: tuple[Service, SessionClient],
) -> None:
    server, c = seeded
    # 25 levels decode fine but are over the documented limit of 24.
    code, message = await raw(server.port, UPDATE, update_bytes("s1", {"p": nested(24)}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message == "patch: objects and arrays nest 25 levels deep; the limit is 24"
    with pytest.raises(ValueError, match="nests deeper than 24 levels"):
        await c.update_session_state("s1", {"p": nested(24)})
    assert (await c.update_session_state("s1", {"p": nested(23)})).session_state["p"]["a"]
    deep_list: list[Any] = [1]
    for _ in range(30):
        deep_list = [deep_list]
    code, message = await raw(server.port, UPDATE, update_bytes("s1", {"l": deep_list}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "the limit is 24" in message


async def test_authentication_comes_before_parsing(auth_server: Service) -> None:  # noqa: F811
    garbage = MALFORMED["truncated varint"]
    code, message = await raw(auth_server.port, UPDATE, garbage)
    assert code == grpc.StatusCode.UNAUTHENTICATED and "missing bearer token" in message
    code, _ = await raw(auth_server.port, UPDATE, garbage, (("authorization", "Bearer nope-nope-nope"),))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    code, _ = await raw(auth_server.port, UPDATE, garbage, (("authorization", f"Bearer {READER}"),))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, _ = await raw(auth_server.port, UPDATE, garbage, (("authorization", f"Bearer {WRITER}"),))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


# --- a servicer with a bug, behind the real interceptor -------------------------------------


class Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[str, grpc.StatusCode]] = []

    def observe_rpc(self, method: str, code: grpc.StatusCode, seconds: float | None) -> None:
        self.calls.append((method, code))


async def _buggy(request: bytes, context: Any) -> bytes:
    raise KeyError("a bug")


async def _not_found(request: bytes, context: Any) -> bytes:
    raise SessionNotFound("gone")


async def _buggy_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield b""
    raise RuntimeError("a bug mid-stream")


@pytest.fixture
async def buggy_server() -> AsyncIterator[tuple[int, Recorded]]:
    observed = Recorded()
    server = grpc.aio.server(interceptors=[CallInterceptor(observed)])
    handlers = {
        "Buggy": grpc.unary_unary_rpc_method_handler(_buggy),
        "NotFound": grpc.unary_unary_rpc_method_handler(_not_found),
        "BuggyStream": grpc.unary_stream_rpc_method_handler(_buggy_stream),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Bugs", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port, observed
    await server.stop(0)


async def test_an_unexpected_exception_is_internal_in_the_answer_the_log_and_the_metrics(
    buggy_server: tuple[int, Recorded],
    json_logs: io.StringIO,  # noqa: F811
) -> None:
    port, observed = buggy_server
    code, message = await raw(port, "/test.Bugs/Buggy", b"")
    assert code == grpc.StatusCode.INTERNAL
    assert message == "internal error in /test.Bugs/Buggy; the server log has details"
    code, message = await raw(port, "/test.Bugs/NotFound", b"")
    assert (code, message) == (grpc.StatusCode.NOT_FOUND, "session 'gone' does not exist")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stream = channel.unary_stream("/test.Bugs/BuggyStream")(b"", timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for _ in stream:
                pass
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert observed.calls == [
        ("/test.Bugs/Buggy", grpc.StatusCode.INTERNAL),
        ("/test.Bugs/NotFound", grpc.StatusCode.NOT_FOUND),
        ("/test.Bugs/BuggyStream", grpc.StatusCode.INTERNAL),
    ]
    lines = log_lines(json_logs)
    statuses = [(line["method"], line["status"]) for line in lines if line.get("event") == "rpc"]
    assert statuses == [
        ("/test.Bugs/Buggy", "INTERNAL"),
        ("/test.Bugs/NotFound", "NOT_FOUND"),
        ("/test.Bugs/BuggyStream", "INTERNAL"),
    ]
    assert sum(line.get("event") == "unexpected error" for line in lines) == 2


# --- health Watch ---------------------------------------------------------------------------


async def first_watch_status(target: str, service: str = "", credentials: Any = None) -> int:
    channel = (
        grpc.aio.secure_channel(target, credentials) if credentials is not None else grpc.aio.insecure_channel(target)
    )
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        call = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=5)
        async for reply in call:
            call.cancel()
            return int(reply.status)
    raise AssertionError("the Watch ended without a status")


async def test_health_watch_works_on_the_main_port_and_the_health_listener(
    auth_server: Service,  # noqa: F811
    start_server: StartServer,
) -> None:
    serving = health_pb2.HealthCheckResponse.SERVING
    assert await first_watch_status(f"127.0.0.1:{auth_server.port}") == serving
    assert await first_watch_status(f"127.0.0.1:{auth_server.port}", "sessiond.v1.SessionService") == serving
    plain = await start_server(health_listen="127.0.0.1:0")
    assert plain.health_listener is not None
    assert await first_watch_status(f"127.0.0.1:{plain.health_listener.port}") == serving
    assert await first_watch_status(f"127.0.0.1:{plain.port}") == serving


async def test_health_watch_reports_the_drain(start_server: StartServer) -> None:
    server = await start_server()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
        replies = aiter(call)
        assert (await anext(replies)).status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(server.stop(60))
        assert (await anext(replies)).status == health_pb2.HealthCheckResponse.NOT_SERVING
        # Then the stream ends, UNAVAILABLE, once the drain is done: it does not hold the
        # server's stop until the grace runs out (and is then cancelled).
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await anext(replies)
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        assert ended.value.details() == "the server is shutting down; retry the call on another replica"
        await stopping


async def test_a_draining_server_answers_new_calls_unavailable(start_server: StartServer) -> None:
    server = await start_server()
    async with SessionClient(f"127.0.0.1:{server.port}", default_timeout=5, retry=NO_RETRY) as c:
        await c.create_session(session_id="d1")
        # The drain task starts at the call's first await, before the request is sent.
        draining = asyncio.create_task(server.calls.drain(5, quiet=0.5))
        code, message = await raw(server.port, GET, spb.GetSessionRequest(session_id="d1").SerializeToString())
        assert code == grpc.StatusCode.UNAVAILABLE
        assert message == "the server is shutting down; retry the call on another replica"
        await draining
