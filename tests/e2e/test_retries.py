"""Retries after a lost reply (AIP-155 request ids): the server commits, the reply never
reaches the caller, the client retries with the same request_id, and there is exactly one
effect and the same answer.

The loss is real: a gRPC proxy on a loopback port forwards each call to a real sessiond,
lets the first call of a chosen method run to completion on the server, keeps its reply
and answers the caller UNAVAILABLE instead, as a connection cut after the commit would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
import sessiond_client as sc
from sessiond_client import RetryPolicy, SessionClient, pb

from sessiond.server import Service


@dataclass
class LossyProxy:
    """Forwards every call to ``upstream``; the first call of each method in ``lose``
    runs there, but its reply (kept in ``lost``) is replaced by UNAVAILABLE."""

    upstream: grpc.aio.Channel
    lose: set[str] = field(default_factory=set)
    lost: dict[str, tuple[bytes, Sequence[tuple[str, Any]]]] = field(default_factory=dict)

    def handler(self, method: str) -> grpc.RpcMethodHandler[bytes, bytes]:
        forward = self.upstream.unary_unary(method)  # bytes in, bytes out

        async def call(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            name = method.rsplit("/", 1)[1]
            try:
                reply = forward(request, metadata=context.invocation_metadata(), timeout=context.time_remaining())
                body = await reply
            except grpc.aio.AioRpcError as err:
                await context.abort(err.code(), err.details() or "")
            if name in self.lose:
                self.lose.discard(name)
                self.lost[name] = (body, tuple(await reply.initial_metadata()))
                await context.abort(grpc.StatusCode.UNAVAILABLE, "reply lost after the commit (test proxy)")
            await context.send_initial_metadata(tuple(await reply.initial_metadata()))
            return body

        return grpc.unary_unary_rpc_method_handler(call)


class _Generic(grpc.GenericRpcHandler):
    def __init__(self, proxy: LossyProxy) -> None:
        self._proxy = proxy

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[bytes, bytes]:
        return self._proxy.handler(details.method)


@pytest.fixture
async def proxied(server: Service) -> AsyncIterator[tuple[LossyProxy, SessionClient, SessionClient]]:
    """The proxy, a client through it (retrying), and a direct client to check effects."""
    upstream = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    proxy = LossyProxy(upstream)
    front = grpc.aio.server()
    front.add_generic_rpc_handlers((_Generic(proxy),))
    port = front.add_insecure_port("127.0.0.1:0")
    await front.start()
    retrying = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)
    async with (
        SessionClient(f"127.0.0.1:{port}", default_timeout=10, retry=retrying) as through,
        SessionClient(f"127.0.0.1:{server.port}", default_timeout=10) as direct,
    ):
        yield proxy, through, direct
    await front.stop(0)
    await upstream.close()


def header(metadata: Sequence[tuple[str, Any]]) -> str:
    return dict(metadata)["sessiond-event-range"]


async def test_a_choice_whose_reply_was_lost_counts_once_and_answers_the_same(
    proxied: tuple[LossyProxy, SessionClient, SessionClient],
) -> None:
    proxy, through, direct = proxied
    s = await direct.create_session(options=["left", "right"], window_seconds=30)
    await direct.join_session(s.session_id, "ann")
    proxy.lose.add("SubmitChoice")
    # One player: the choice closes the window and resolves turn 1 inside the call.
    receipt = await through.submit_choice(s.session_id, "ann", "left")

    lost, _ = proxy.lost["SubmitChoice"]
    assert receipt == pb.SubmitChoiceResponse.FromString(lost)  # the first answer, event range included
    after = await direct.get_session(s.session_id)
    turns = (await direct.list_turns(s.session_id)).turns
    assert after.turn_number == 2, "the retry did not land in turn 2"
    assert [(t.turn_number, len(t.choices)) for t in turns] == [(1, 1)]
    assert after.last_event_id == receipt.last_event_id  # no event after the first attempt's


async def test_a_conditional_state_write_whose_reply_was_lost_is_not_refused_as_stale(
    proxied: tuple[LossyProxy, SessionClient, SessionClient],
) -> None:
    proxy, through, direct = proxied
    s = await direct.create_session()
    proxy.lose.add("UpdateSessionState")
    with through.event_ranges() as ranges:
        updated = await through.update_session_state(s.session_id, {"hp": 10}, expected_state_version=0)
    assert updated.state_version == 1 and sc.struct_to_dict(updated.session_state) == {"hp": 10}
    _, first_metadata = proxy.lost["UpdateSessionState"]
    got = ranges.get(s.session_id)
    assert got is not None and f"{got.first}-{got.last}" == header(first_metadata)
    after = await direct.get_session(s.session_id)
    assert (after.state_version, after.last_event_id, after.etag) == (1, got.last, updated.etag)


async def test_a_lost_swap_boots_one_game(proxied: tuple[LossyProxy, SessionClient, SessionClient]) -> None:
    proxy, through, direct = proxied
    first = await direct.create_session(channel_id="lobby", game_id="chess")
    proxy.lose.add("SwapGame")
    swapped = await through.swap_game("lobby", pb.Session(game_id="go"))
    lost, _ = proxy.lost["SwapGame"]
    assert swapped.session.session_id == pb.SwapGameResponse.FromString(lost).session.session_id
    assert swapped.saved.session_id == first.session_id
    games = (await direct.list_games(filter='channel_id="lobby"')).games
    assert len(games) == 2


async def test_a_lost_profile_upsert_is_written_once(proxied: tuple[LossyProxy, SessionClient, SessionClient]) -> None:
    proxy, through, direct = proxied
    made = await direct.upsert_player_profile(pb.PlayerProfile(player_id="p1", display_name="Al"))
    proxy.lose.add("UpsertPlayerProfile")
    profile = await through.upsert_player_profile(pb.PlayerProfile(player_id="p1", display_name="Ann"), etag=made.etag)
    assert profile.display_name == "Ann"
    assert (
        (await direct.get_player_profile("p1")).etag
        == profile.etag
        == pb.PlayerProfile.FromString(proxy.lost["UpsertPlayerProfile"][0]).etag
    )


async def test_a_request_id_reused_for_another_request_is_refused(client: SessionClient) -> None:
    s = await client.create_session()
    await client.update_session_state(s.session_id, {"hp": 1}, request_id="req-1")
    with pytest.raises(sc.InvalidArgument) as caught:
        await client.update_session_state(s.session_id, {"hp": 2}, request_id="req-1")
    assert caught.value.reason == "REQUEST_ID_REUSED" and caught.value.metadata["request_id"] == "req-1"
    after = await client.get_session(s.session_id)
    assert sc.struct_to_dict(after.session_state) == {"hp": 1} and after.state_version == 1


async def test_a_choice_for_another_turn_is_refused_and_records_nothing(client: SessionClient) -> None:
    s = await client.create_session(window_seconds=30)
    await client.submit_choice(s.session_id, "ann", "go", turn_number=1)  # one player: turn 1 resolves
    before = await client.get_session(s.session_id)
    with pytest.raises(sc.FailedPrecondition) as caught:
        await client.submit_choice(s.session_id, "ann", "again", turn_number=1)
    assert caught.value.reason == "WRONG_TURN" and caught.value.metadata["current_turn"] == "2"
    after = await client.get_session(s.session_id)
    assert (after.last_event_id, after.turn_number, after.HasField("window")) == (
        before.last_event_id,
        2,
        False,
    )
