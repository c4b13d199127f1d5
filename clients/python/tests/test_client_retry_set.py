"""The retry set comes from the proto: idempotency_level options, the request fields that
guard a repeat, and the service config that hands the former to gRPC's own retry."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from client_fake import FakeService
from google.protobuf import message

from sessiond_client import RetryPolicy, SessionClient, Unavailable, pb
from sessiond_client._methods import METHODS, repeat_is_safe
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc
from sessiond_client._service_config import service_config

PUBLISHED = Path(__file__).resolve().parents[2] / "service_config.json"
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE

READS = {
    "GetSession",
    "ListSessions",
    "ListPlayers",
    "ListTurns",
    "ListGames",
    "WatchSession",
    "GetServiceStats",
    "GetPlayerProfile",
    "GetPlayerDashboard",
}
IDEMPOTENT_WRITES = {
    "JoinSession",
    "SetTurnOptions",
    "SetTurnSummary",
    "SwitchCharacterWorld",
    "LoadGame",
    "SetGameMaster",
    "UpsertPlayerProfile",
}


def test_the_proto_marks_reads_and_idempotent_writes_safe_to_repeat() -> None:
    assert {name for name, method in METHODS.items() if method.safe_to_repeat} == READS | IDEMPOTENT_WRITES


@pytest.mark.parametrize(
    ("method", "request_", "safe"),
    [
        ("CreateSession", pb.CreateSessionRequest(session_id="s1"), False),
        ("CreateSession", pb.CreateSessionRequest(session_id="s1", request_id="r1"), True),
        ("UpdateSessionState", pb.UpdateSessionStateRequest(session_id="s1"), False),
        ("UpdateSessionState", pb.UpdateSessionStateRequest(session_id="s1", expected_state_version=0), True),
        ("ResetSessionState", pb.ResetSessionStateRequest(session_id="s1", expected_state_version=4), True),
        ("EndSession", pb.EndSessionRequest(session_id="s1", etag="e1"), False),
        ("GetSession", pb.GetSessionRequest(session_id="s1"), True),
    ],
)
def test_a_guard_field_makes_a_repeat_safe(method: str, request_: message.Message, safe: bool) -> None:
    assert repeat_is_safe(METHODS[method], request_) is safe


def test_the_service_config_retries_the_safe_unary_methods_on_unavailable() -> None:
    (entry,) = service_config(METHODS.values(), RetryPolicy())["methodConfig"]
    named = {(n["service"], n["method"]) for n in entry["name"]}
    assert {method for _, method in named} == READS - {"WatchSession"} | IDEMPOTENT_WRITES
    assert ("sessiond.v1.PlayerService", "GetPlayerProfile") in named
    assert entry["retryPolicy"] == {
        "maxAttempts": 4,
        "initialBackoff": "0.1s",
        "maxBackoff": "2s",
        "backoffMultiplier": 2.0,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }


def test_the_service_config_follows_the_policy() -> None:
    policy = RetryPolicy(max_attempts=9, initial_backoff=0.25, max_backoff=1.5, multiplier=3.0)
    (entry,) = service_config(METHODS.values(), policy)["methodConfig"]
    assert entry["retryPolicy"] == {
        "maxAttempts": 5,  # gRPC's cap
        "initialBackoff": "0.25s",
        "maxBackoff": "1.5s",
        "backoffMultiplier": 3.0,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    assert service_config(METHODS.values(), RetryPolicy(max_attempts=1)) == {"methodConfig": []}


def test_backoffs_of_about_a_millisecond_are_raised_for_grpc() -> None:
    (entry,) = service_config(METHODS.values(), RetryPolicy(initial_backoff=0.001, max_backoff=0.004))["methodConfig"]
    assert (entry["retryPolicy"]["initialBackoff"], entry["retryPolicy"]["maxBackoff"]) == ("0.01s", "0.01s")


def test_the_published_config_is_the_default_one() -> None:
    assert json.loads(PUBLISHED.read_text()) == service_config(METHODS.values(), RetryPolicy())


async def test_a_plain_channel_loading_the_published_config_retries_what_it_names(fake: FakeService) -> None:
    fake.failures["GetSession"] = [UNAVAILABLE]
    fake.failures["PauseSession"] = [UNAVAILABLE]
    options = [("grpc.service_config", PUBLISHED.read_text())]
    async with grpc.aio.insecure_channel(fake.target, options=options) as channel:
        stub = session_service_pb2_grpc.SessionServiceStub(channel)  # type: ignore[no-untyped-call]
        await stub.GetSession(pb.GetSessionRequest(session_id="s1"), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.PauseSession(pb.PauseSessionRequest(session_id="s1"), timeout=10)
    assert len(fake.requests("GetSession")) == 2
    assert len(fake.requests("PauseSession")) == 1


def previous_attempts(fake: FakeService, method: str) -> list[str | None]:
    """The ``grpc-previous-rpc-attempts`` header of each attempt: gRPC's own retry sets it."""
    return [c.metadata.get("grpc-previous-rpc-attempts") for c in fake.calls if c.method == method]


async def test_grpc_retries_the_methods_the_proto_marks_and_the_client_the_guarded_requests(
    fake: FakeService, client: SessionClient
) -> None:
    fake.failures["GetSession"] = [UNAVAILABLE]
    fake.failures["CreateSession"] = [UNAVAILABLE]
    await client.get_session("s1")
    await client.create_session(game_id="g")
    assert previous_attempts(fake, "GetSession") == [None, "1"]
    assert previous_attempts(fake, "CreateSession") == [None, None]


async def test_on_a_channel_of_the_callers_the_client_retries_by_itself(fake: FakeService) -> None:
    fake.failures["GetSession"] = [UNAVAILABLE]
    async with grpc.aio.insecure_channel(fake.target) as channel:
        client = SessionClient.from_channel(channel, retry=RetryPolicy(initial_backoff=0.001, max_backoff=0.004))
        await client.get_session("s1")
    assert previous_attempts(fake, "GetSession") == [None, None]


async def test_a_service_config_of_the_callers_replaces_the_clients(fake: FakeService) -> None:
    fake.failures["GetSession"] = [UNAVAILABLE]
    options = [("grpc.service_config", json.dumps({"methodConfig": []}))]
    async with SessionClient(fake.target, options=options, default_timeout=10) as client:
        with pytest.raises(Unavailable):
            await client.get_session("s1")
    assert len(fake.requests("GetSession")) == 1
