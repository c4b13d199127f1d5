"""Every refusal reaches the caller with the right status and an actionable message,
and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
import pytest
from sessiond_client import SessionClient, SessiondError, pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as stubs

from tests.e2e.conftest import StartServer

Code = grpc.StatusCode
Call = Callable[[SessionClient], Awaitable[object]]

CASES: list[tuple[str, Call, Code, str]] = [
    ("bad session id", lambda c: c.get_session("no spaces allowed"), Code.INVALID_ARGUMENT, "session_id"),
    ("id too long", lambda c: c.get_session("x" * 129), Code.INVALID_ARGUMENT, "1-128 characters"),
    ("unknown session", lambda c: c.get_session("ghost"), Code.NOT_FOUND, "'ghost' does not exist"),
    ("taken id", lambda c: c.create_session(session_id="s1"), Code.ALREADY_EXISTS, "'s1' already exists"),
    (
        "oversize state",
        lambda c: c.update_session_state("s1", {"blob": "x" * 70_000}),
        Code.INVALID_ARGUMENT,
        "limit is 65536",
    ),
    ("choice not offered", lambda c: c.submit_choice("s1", "p1", "up"), Code.INVALID_ARGUMENT, "not one of"),
    ("choice too long", lambda c: c.submit_choice("s1", "p1", "x" * 257), Code.INVALID_ARGUMENT, "limit is 256"),
    ("empty choice", lambda c: c.submit_choice("s1", "p1", ""), Code.INVALID_ARGUMENT, "choice"),
    (
        "stale state version",
        lambda c: c.update_session_state("s1", {"a": 1}, expected_state_version=9),
        Code.ABORTED,
        "expected state_version 9",
    ),
    ("stale etag", lambda c: c.pause_session("s1", etag="r0"), Code.ABORTED, "etag 'r0' is stale"),
    ("resume an active session", lambda c: c.resume_session("s1"), Code.FAILED_PRECONDITION, "not EXPIRED or PAUSED"),
    ("unknown player leaves", lambda c: c.leave_session("s1", "nobody"), Code.NOT_FOUND, "'nobody' is not on"),
    ("unknown turn", lambda c: c.set_turn_summary("s1", 7, "text"), Code.NOT_FOUND, "turn 7"),
    ("bad page token", lambda c: c.list_sessions(page_token="nonsense"), Code.INVALID_ARGUMENT, "page_token"),
    ("bad filter", lambda c: c.list_sessions(filter="colour=red"), Code.INVALID_ARGUMENT, "unknown field 'colour'"),
    (
        "window too long",
        lambda c: c.create_session(window_seconds=7200),
        Code.INVALID_ARGUMENT,
        "window_duration",
    ),
    ("watch from the future", lambda c: _drain(c.watch("s1", after_event_id=99)), Code.INVALID_ARGUMENT, "is not an"),
    ("watch unknown session", lambda c: _drain(c.watch("ghost")), Code.NOT_FOUND, "'ghost' does not exist"),
    (
        "watch for a player not on the roster",
        lambda c: _drain(c.watch("s1", player_id="nobody")),
        Code.NOT_FOUND,
        "'nobody' is not on the roster",
    ),
    (
        "watch for a malformed player id",
        lambda c: _drain(c.watch("s1", player_id="no spaces")),
        Code.INVALID_ARGUMENT,
        "player_id",
    ),
    (
        "presence grace too long",
        lambda c: c.create_session(presence_grace_seconds=7200),
        Code.INVALID_ARGUMENT,
        "presence_grace",
    ),
    (
        "unknown early close scope",
        lambda c: c.create_session(early_close_scope=7),
        Code.INVALID_ARGUMENT,
        "early_close_scope",
    ),
]


async def _drain(events: object) -> None:
    async for _ in events:  # type: ignore[attr-defined]
        pass


@pytest.mark.parametrize(("call", "code", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_refusals_carry_their_code_and_message_and_change_nothing(
    client: SessionClient, call: Call, code: Code, text: str
) -> None:
    await client.create_session(session_id="s1", options=["left", "right"])
    before = await client.get_session("s1")
    with pytest.raises(SessiondError) as err:
        await call(client)
    assert err.value.status == code
    assert text in err.value.message
    assert await client.get_session("s1") == before


# The ErrorInfo reason each refusal of CASES carries (domain sessiond; README "Errors").
REASONS = {
    "bad session id": "INVALID_FIELD",
    "id too long": "INVALID_FIELD",
    "unknown session": "SESSION_NOT_FOUND",
    "taken id": "SESSION_EXISTS",
    "oversize state": "INVALID_FIELD",
    "choice not offered": "INVALID_FIELD",
    "choice too long": "INVALID_FIELD",
    "empty choice": "INVALID_FIELD",
    "stale state version": "STALE_STATE_VERSION",
    "stale etag": "STALE_ETAG",
    "resume an active session": "WRONG_SESSION_STATE",
    "unknown player leaves": "PLAYER_NOT_FOUND",
    "unknown turn": "TURN_NOT_FOUND",
    "bad page token": "INVALID_FIELD",
    "bad filter": "INVALID_FIELD",
    "window too long": "INVALID_FIELD",
    "watch from the future": "INVALID_FIELD",
    "watch unknown session": "SESSION_NOT_FOUND",
    "watch for a player not on the roster": "PLAYER_NOT_FOUND",
    "watch for a malformed player id": "INVALID_FIELD",
    "presence grace too long": "INVALID_FIELD",
    "unknown early close scope": "INVALID_FIELD",
}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_refusals_carry_a_stable_error_info_reason(
    client: SessionClient, case: tuple[str, Call, Code, str]
) -> None:
    name, call, _, _ = case
    await client.create_session(session_id="s1", options=["left", "right"])
    with pytest.raises(SessiondError) as err:
        await call(client)
    assert err.value.reason == REASONS[name]
    if err.value.reason == "INVALID_FIELD":
        assert err.value.metadata["field"] in err.value.message
    elif "session_id" in err.value.metadata:
        assert err.value.metadata["session_id"] in ("s1", "ghost")


async def test_error_info_is_in_the_standard_status_details(server: object) -> None:
    """Any gRPC client reads the reason from google.rpc.Status details (grpc-status-details-bin)."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:  # type: ignore[attr-defined]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stubs.SessionServiceStub(channel).GetSession(pb.GetSessionRequest(session_id="ghost"))
    status = rpc_status.from_call(err.value)
    assert status is not None and status.message == "session 'ghost' does not exist"
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == ("SESSION_NOT_FOUND", "sessiond", {"session_id": "ghost"})


async def test_choices_on_a_paused_session_fail_precondition(client: SessionClient) -> None:
    await client.create_session(session_id="s1")
    paused = await client.pause_session("s1")
    with pytest.raises(SessiondError) as err:
        await client.submit_choice("s1", "p1", "go")
    assert err.value.status == Code.FAILED_PRECONDITION and "is PAUSED" in err.value.message
    assert await client.get_session("s1") == paused


async def test_the_session_limit_is_resource_exhausted(start_server: StartServer) -> None:
    server = await start_server(max_sessions=2)
    async with SessionClient(f"127.0.0.1:{server.port}") as client:
        await client.create_session()
        await client.create_session()
        with pytest.raises(SessiondError) as err:
            await client.create_session()
        assert err.value.status == Code.RESOURCE_EXHAUSTED and "maximum of 2 sessions" in err.value.message
        assert (await client.list_sessions()).total_size == 2


async def test_a_full_roster_is_resource_exhausted(client: SessionClient) -> None:
    await client.create_session(session_id="s1", max_players=1)
    await client.join_session("s1", "p1")
    with pytest.raises(SessiondError) as err:
        await client.join_session("s1", "p2")
    assert err.value.status == Code.RESOURCE_EXHAUSTED and "maximum of 1 players" in err.value.message


async def test_a_nan_in_state_is_refused_not_internal(server: object) -> None:
    port = server.port  # type: ignore[attr-defined]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = stubs.SessionServiceStub(channel)
        await stub.CreateSession(pb.CreateSessionRequest(session_id="s1", session=pb.Session()))
        patch = pb.UpdateSessionStateRequest(session_id="s1")
        patch.patch.update({"x": float("nan")})
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.UpdateSessionState(patch)
        assert err.value.code() == Code.INVALID_ARGUMENT and "NaN" in (err.value.details() or "")
