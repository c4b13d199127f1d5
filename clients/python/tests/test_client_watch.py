"""SessionClient.watch against the scripted fake: resume, no duplicates, typed errors, cancel."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from client_fake import HANG, FakeService

import sessiond_client as sc
from sessiond_client import SessionClient, pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def snapshot(last_event_id: int) -> pb.SessionEvent:
    return pb.SessionEvent(session_id="s1", snapshot=pb.Session(session_id="s1", last_event_id=last_event_id))


def stored(event_id: int) -> pb.SessionEvent:
    return pb.SessionEvent(event_id=event_id, session_id="s1", player_left=pb.PlayerLeft(player_id=f"p{event_id}"))


def tick() -> pb.SessionEvent:
    return pb.SessionEvent(session_id="s1", countdown_tick=pb.CountdownTick(turn_number=1))


def describe(event: pb.SessionEvent) -> str:
    kind = event.WhichOneof("kind")
    return f"{kind}:{event.event_id}" if event.event_id else str(kind)


async def collect(watch: sc.SessionWatch) -> list[str]:
    return [describe(e) async for e in watch]


async def test_reconnects_resumes_and_never_repeats(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [
        [snapshot(2), stored(3), tick(), stored(4), UNAVAILABLE],
        [stored(3), stored(4), stored(5), UNAVAILABLE],
        [snapshot(9), stored(5), stored(6), grpc.StatusCode.NOT_FOUND],
    ]
    watch = client.watch("s1")
    seen: list[str] = []
    with pytest.raises(sc.NotFound) as caught:
        async for event in watch:
            seen.append(describe(event))
    assert seen == ["snapshot", "player_left:3", "countdown_tick", "player_left:4", "player_left:5", "player_left:6"]
    assert caught.value.method == "WatchSession"
    requests = fake.requests("WatchSession")
    assert [r.HasField("after_event_id") for r in requests] == [False, True, True]
    assert [r.after_event_id for r in requests[1:]] == [4, 5]
    assert watch.last_event_id == 6
    assert watch.reconnects == 2


async def test_snapshot_gives_the_resume_point(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[snapshot(7), UNAVAILABLE], [stored(8)]]
    watch = client.watch("s1", exclude_ticks=True)
    assert await collect(watch) == ["snapshot", "player_left:8"]
    first, second = fake.requests("WatchSession")
    assert first.exclude_ticks and not first.HasField("after_event_id")
    assert second.HasField("after_event_id") and second.after_event_id == 7


async def test_snapshot_of_a_new_session_resumes_from_zero(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[snapshot(0), UNAVAILABLE], [stored(1)]]
    assert await collect(client.watch("s1")) == ["snapshot", "player_left:1"]
    second = fake.requests("WatchSession")[1]
    assert second.HasField("after_event_id") and second.after_event_id == 0


async def test_after_event_id_is_passed_and_filters(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[stored(10), stored(11)]]
    watch = client.watch("s1", after_event_id=10)
    assert await collect(watch) == ["player_left:11"]
    assert fake.requests("WatchSession")[0].after_event_id == 10
    assert watch.last_event_id == 11


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (grpc.StatusCode.OUT_OF_RANGE, sc.OutOfRange),
        (grpc.StatusCode.INVALID_ARGUMENT, sc.InvalidArgument),
        (grpc.StatusCode.NOT_FOUND, sc.NotFound),
    ],
)
async def test_other_errors_are_raised_typed(
    fake: FakeService, client: SessionClient, code: grpc.StatusCode, error: type[sc.SessiondError]
) -> None:
    fake.streams = [[code]]
    watch = client.watch("s1", after_event_id=3)
    with pytest.raises(error):
        await collect(watch)
    assert len(fake.requests("WatchSession")) == 1
    with pytest.raises(StopAsyncIteration):
        await watch.__anext__()


async def test_max_reconnects_bounds_consecutive_failures(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[UNAVAILABLE], [UNAVAILABLE], [UNAVAILABLE]]
    with pytest.raises(sc.Unavailable):
        await collect(client.watch("s1", max_reconnects=1))
    assert len(fake.requests("WatchSession")) == 2


async def test_an_event_resets_the_reconnect_count(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[UNAVAILABLE], [stored(1), UNAVAILABLE], [stored(2), UNAVAILABLE], [UNAVAILABLE]]
    with pytest.raises(sc.Unavailable):
        await collect(client.watch("s1", after_event_id=0, max_reconnects=1))
    # Without the reset the second failure in all would have ended the watch.
    assert len(fake.requests("WatchSession")) == 4


async def test_server_ending_the_stream_ends_the_iteration(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[stored(1)]]
    assert await collect(client.watch("s1", after_event_id=0)) == ["player_left:1"]


async def test_breaking_out_cancels_the_stream(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[snapshot(1), HANG]]
    async with client.watch("s1") as watch:
        async for _ in watch:
            break
    await asyncio.wait_for(fake.watch_cancelled.wait(), 5)


async def test_dropping_the_iterator_cancels_the_stream(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[snapshot(1), HANG]]
    async for _ in client.watch("s1"):
        break
    await asyncio.wait_for(fake.watch_cancelled.wait(), 5)


async def test_timeout_bounds_the_whole_watch(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[snapshot(1), HANG]]
    with pytest.raises(sc.DeadlineExceeded):
        await collect(client.watch("s1", timeout=0.3))


async def test_token_is_sent_on_every_stream(fake: FakeService, client: SessionClient) -> None:
    fake.streams = [[UNAVAILABLE], []]
    await collect(client.watch("s1", metadata=[("x-trace", "1")]))
    assert [c.metadata["authorization"] for c in fake.calls] == ["Bearer t0k"] * 2
    assert [c.metadata["x-trace"] for c in fake.calls] == ["1"] * 2


async def serve(service: FakeService, port: int = 0) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    session_service_pb2_grpc.add_SessionServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, port


async def test_reconnects_after_the_server_restarts() -> None:
    before = FakeService(streams=[[snapshot(0), stored(1), stored(2), HANG]])
    after = FakeService(streams=[[stored(2), stored(3)]])
    server, port = await serve(before)
    policy = sc.RetryPolicy(initial_backoff=0.05, max_backoff=0.2)
    async with SessionClient(f"127.0.0.1:{port}", retry=policy) as client:
        watch = client.watch("s1")
        assert [describe(await watch.__anext__()) for _ in range(3)] == ["snapshot", "player_left:1", "player_left:2"]
        await server.stop(None)
        server, _ = await serve(after, port)
        try:
            assert await collect(watch) == ["player_left:3"]
        finally:
            await server.stop(None)
    assert after.requests("WatchSession")[0].after_event_id == 2
