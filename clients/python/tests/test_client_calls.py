"""SessionClient against the scripted fake: requests, metadata, retries, errors, paging."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from client_fake import FakeService

import sessiond_client as sc
from sessiond_client import SessionClient, pb, struct_to_dict

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


async def test_create_session_builds_the_request(fake: FakeService, client: SessionClient) -> None:
    fake.replies["CreateSession"] = lambda r: pb.Session(session_id=r.session_id or "gen", game_id=r.session.game_id)
    session = await client.create_session(
        session_id="s1",
        game_id="g",
        window_seconds=3,
        options=["a", "b"],
        state={"k": 1, "nested": {"x": [True, None]}},
        tie_break="SEEDED_RANDOM",
        early_close=False,
        idle_ttl_seconds=90.5,
    )
    assert (session.session_id, session.game_id) == ("s1", "g")
    (request,) = fake.requests("CreateSession")
    assert request.session_id == "s1"
    assert list(request.session.current_options) == ["a", "b"]
    assert struct_to_dict(request.session.session_state) == {"k": 1, "nested": {"x": [True, None]}}
    settings = request.session.settings
    assert settings.window_duration.seconds == 3
    assert settings.HasField("early_close") and settings.early_close is False
    assert settings.tie_break == pb.SessionSettings.SEEDED_RANDOM
    assert not settings.HasField("tie_break_seed")
    assert (settings.idle_ttl.seconds, settings.idle_ttl.nanos) == (90, 500_000_000)
    assert request.request_id


async def test_create_session_defaults_leave_settings_unset(fake: FakeService, client: SessionClient) -> None:
    await client.create_session()
    (request,) = fake.requests("CreateSession")
    assert request.session.settings == pb.SessionSettings()
    assert not request.session.HasField("session_state")
    assert not request.session.settings.HasField("early_close")


async def test_options_must_not_be_a_str(client: SessionClient) -> None:
    with pytest.raises(TypeError):
        await client.set_turn_options("s1", "ab")


async def test_token_and_metadata_are_sent(fake: FakeService, client: SessionClient) -> None:
    await client.get_session("s1", metadata=[("x-trace", "abc")])
    assert fake.calls[0].metadata["authorization"] == "Bearer t0k"
    assert fake.calls[0].metadata["x-trace"] == "abc"


async def test_no_token_no_authorization(fake: FakeService) -> None:
    async with SessionClient(fake.target) as client:
        await client.get_service_stats()
    assert "authorization" not in fake.calls[0].metadata


async def test_create_is_retried_with_the_same_request_id(fake: FakeService, client: SessionClient) -> None:
    fake.failures["CreateSession"] = [UNAVAILABLE, UNAVAILABLE]
    await client.create_session(game_id="g")
    ids = [r.request_id for r in fake.requests("CreateSession")]
    assert len(ids) == 3 and len(set(ids)) == 1


async def test_given_request_id_is_kept(fake: FakeService, client: SessionClient) -> None:
    await client.create_session(request_id="req-1")
    assert fake.requests("CreateSession")[0].request_id == "req-1"


READS = [
    ("GetSession", lambda c: c.get_session("s1")),
    ("ListSessions", lambda c: c.list_sessions()),
    ("ListPlayers", lambda c: c.list_players("s1")),
    ("ListTurns", lambda c: c.list_turns("s1")),
    ("GetServiceStats", lambda c: c.get_service_stats()),
]
WRITES = [
    ("JoinSession", lambda c: c.join_session("s1", "p1")),
    ("SubmitChoice", lambda c: c.submit_choice("s1", "p1", "a")),
    ("SetTurnOptions", lambda c: c.set_turn_options("s1", ["a"])),
    ("SetTurnSummary", lambda c: c.set_turn_summary("s1", 1, "it went well")),
    ("UpdateSessionState", lambda c: c.update_session_state("s1", {"hp": None}, expected_state_version=3)),
    ("ResetSessionState", lambda c: c.reset_session_state("s1", expected_state_version=0)),
    ("UpdateSessionState", lambda c: c.update_session_state("s1", {"hp": None})),
    ("ResetSessionState", lambda c: c.reset_session_state("s1", {})),
    ("LeaveSession", lambda c: c.leave_session("s1", "p1")),
    ("PauseSession", lambda c: c.pause_session("s1")),
    ("ResumeSession", lambda c: c.resume_session("s1")),
    ("EndSession", lambda c: c.end_session("s1")),
    ("SetGameMaster", lambda c: c.set_game_master("s1", "p1")),
    ("SwitchCharacterWorld", lambda c: c.switch_character_world("p1", "c", "w")),
    ("SwapGame", lambda c: c.swap_game("ch", pb.Session())),
    ("LoadGame", lambda c: c.load_game("s1")),
]


@pytest.mark.parametrize(("method", "call"), READS)
async def test_reads_are_retried(fake: FakeService, client: SessionClient, method: str, call: Any) -> None:
    fake.failures[method] = [UNAVAILABLE]
    await call(client)
    assert len(fake.requests(method)) == 2


@pytest.mark.parametrize(("method", "call"), WRITES)
async def test_writes_are_retried_with_one_request_id(
    fake: FakeService, client: SessionClient, method: str, call: Any
) -> None:
    fake.failures[method] = [UNAVAILABLE, UNAVAILABLE]
    await call(client)
    ids = [r.request_id for r in fake.requests(method)]
    assert len(ids) == 3 and len(set(ids)) == 1 and ids[0]
    await call(client)  # a new logical call: a new id
    assert fake.requests(method)[-1].request_id not in ids


async def test_a_given_request_id_and_turn_go_out_on_every_attempt(fake: FakeService, client: SessionClient) -> None:
    fake.failures["SubmitChoice"] = [UNAVAILABLE]
    await client.submit_choice("s1", "p1", "a", turn_number=7, request_id="mine")
    sent = fake.requests("SubmitChoice")
    assert [(r.request_id, r.turn_number, r.HasField("turn_number")) for r in sent] == [("mine", 7, True)] * 2


async def test_delete_is_retried_and_not_found_after_a_lost_attempt_is_done(
    fake: FakeService, client: SessionClient
) -> None:
    fake.failures["DeleteSession"] = [UNAVAILABLE, grpc.StatusCode.NOT_FOUND]
    await client.delete_session("s1", etag="e")
    assert len(fake.requests("DeleteSession")) == 2
    fake.failures["DeleteSession"] = [grpc.StatusCode.NOT_FOUND]  # on a first attempt it is an answer
    with pytest.raises(sc.NotFound):
        await client.delete_session("s1")


async def test_errors_are_typed(fake: FakeService, client: SessionClient) -> None:
    fake.failures["GetSession"] = [grpc.StatusCode.NOT_FOUND]
    with pytest.raises(sc.NotFound) as caught:
        await client.get_session("nope")
    assert caught.value.status is grpc.StatusCode.NOT_FOUND
    assert caught.value.message == "GetSession failed"
    assert caught.value.method == "GetSession"
    assert isinstance(caught.value.__cause__, grpc.aio.AioRpcError)


async def test_unavailable_server_gives_unavailable() -> None:
    async with SessionClient("127.0.0.1:1", retry=sc.RetryPolicy(max_attempts=2, initial_backoff=0.001)) as client:
        with pytest.raises(sc.Unavailable):
            await client.get_session("s1", timeout=3)


async def test_update_sends_patch_and_version(fake: FakeService, client: SessionClient) -> None:
    await client.update_session_state("s1", {"hp": None, "inv": {"gold": 2}}, expected_state_version=3)
    (request,) = fake.requests("UpdateSessionState")
    assert request.HasField("expected_state_version") and request.expected_state_version == 3
    assert struct_to_dict(request.patch) == {"hp": None, "inv": {"gold": 2}}
    await client.update_session_state("s1", {})
    assert not fake.requests("UpdateSessionState")[1].HasField("expected_state_version")


async def test_iter_sessions_walks_every_page(fake: FakeService, client: SessionClient) -> None:
    pages = {"": (["a", "b"], "t1"), "t1": (["c"], "t2"), "t2": ([], "")}

    def reply(request: pb.ListSessionsRequest) -> pb.ListSessionsResponse:
        ids, token = pages[request.page_token]
        return pb.ListSessionsResponse(sessions=[pb.Session(session_id=i) for i in ids], next_page_token=token)

    fake.replies["ListSessions"] = reply
    ids = [s.session_id async for s in client.iter_sessions(filter="state=ACTIVE", page_size=2)]
    assert ids == ["a", "b", "c"]
    assert {(r.filter, r.page_size) for r in fake.requests("ListSessions")} == {("state=ACTIVE", 2)}


async def test_iter_turns_walks_every_page(fake: FakeService, client: SessionClient) -> None:
    def reply(request: pb.ListTurnsRequest) -> pb.ListTurnsResponse:
        if request.page_token:
            return pb.ListTurnsResponse(turns=[pb.Turn(turn_number=1)])
        return pb.ListTurnsResponse(turns=[pb.Turn(turn_number=2)], next_page_token="more")

    fake.replies["ListTurns"] = reply
    assert [t.turn_number async for t in client.iter_turns("s1")] == [2, 1]


async def test_delete_and_leave_send_their_requests(fake: FakeService, client: SessionClient) -> None:
    await client.delete_session("s1", etag="e1")
    await client.leave_session("s1", "p1", request_id="leave-1")
    assert fake.requests("DeleteSession") == [pb.DeleteSessionRequest(session_id="s1", etag="e1")]
    assert fake.requests("LeaveSession") == [
        pb.LeaveSessionRequest(session_id="s1", player_id="p1", request_id="leave-1")
    ]


async def test_from_channel_leaves_the_channel_open(fake: FakeService) -> None:
    async with grpc.aio.insecure_channel(fake.target) as channel:
        async with SessionClient.from_channel(channel, token="x") as client:
            await client.get_session("s1")
        await SessionClient.from_channel(channel).get_session("s2")
    assert [c.metadata.get("authorization") for c in fake.calls] == ["Bearer x", None]
