"""Watch streams: replay, resume without gap or duplicate, and reconnect across a restart."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessiond_client import OutOfRange, SessionClient, pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as stubs

from tests.e2e.conftest import Recorder, StartServer


async def test_a_watch_cut_mid_countdown_resumes_with_no_gap_and_no_duplicate(client: SessionClient) -> None:
    s = await client.create_session(window_seconds=2.0, early_close=False)
    first = Recorder(client.watch(s.session_id, after_event_id=s.last_event_id, exclude_ticks=True))
    await client.submit_choice(s.session_id, "p1", "a")
    await client.submit_choice(s.session_id, "p2", "b")
    await first.wait_kind("choice_received", 2)
    await first.stop()  # the connection is cut in the middle of the countdown
    cut_at = first.stored()[-1].event_id

    await client.submit_choice(s.session_id, "p3", "c")  # happens while nobody watches
    await client.update_session_state(s.session_id, {"door": "open"})
    second = Recorder(client.watch(s.session_id, after_event_id=cut_at, exclude_ticks=True))
    await second.wait_kind("turn_resolved")
    ids = [e.event_id for e in first.stored()] + [e.event_id for e in second.stored()]
    assert ids == list(range(1, len(ids) + 1)), "every stored event exactly once, in order"
    assert not second.of_kind("snapshot")
    resumed_kinds = [e.WhichOneof("kind") for e in second.stored()]
    assert resumed_kinds[:3] == ["player_joined", "choice_received", "state_changed"]
    await second.stop()


async def test_a_new_watch_starts_with_a_snapshot_that_marks_the_resume_point(client: SessionClient) -> None:
    s = await client.create_session(state={"hp": 3})
    await client.update_session_state(s.session_id, {"hp": 2})
    watch = Recorder(client.watch(s.session_id, exclude_ticks=True))
    snap = (await watch.wait_kind("snapshot")).snapshot
    assert snap.session_state["hp"] == 2 and snap.last_event_id == 1
    await client.update_session_state(s.session_id, {"hp": 1})
    changed = await watch.wait_kind("state_changed")
    assert changed.event_id == 2 and changed.state_changed.patch["hp"] == 1
    await watch.stop()


async def test_resuming_from_events_no_longer_retained_is_out_of_range(start_server: StartServer) -> None:
    server = await start_server(event_retention=5)
    async with SessionClient(f"127.0.0.1:{server.port}") as client:
        s = await client.create_session()
        for i in range(8):
            await client.update_session_state(s.session_id, {"i": i})
        with pytest.raises(OutOfRange, match="no longer retained"):
            async for _ in client.watch(s.session_id, after_event_id=1):
                pass


async def test_the_client_reconnects_across_a_restart_and_misses_nothing(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    snapshot = str(tmp_path / "sessiond.json")
    first = await start_server(snapshot=snapshot)
    port = first.port
    async with SessionClient(f"127.0.0.1:{port}") as client:
        s = await client.create_session(window_seconds=30.0, early_close=False)
        watch = client.watch(s.session_id, exclude_ticks=True)
        seen = Recorder(watch)
        await seen.wait_kind("snapshot")  # the watch is live: what follows arrives as events
        opened = await client.submit_choice(s.session_id, "p1", "a")
        await seen.wait_kind("choice_received")
        await first.stop()  # graceful: the stream ends UNAVAILABLE, the snapshot is written

        second = await start_server(snapshot=snapshot, listen=f"127.0.0.1:{port}")
        restored = await client.get_session(s.session_id)
        assert restored.window.deadline == opened.deadline and restored.window.choice_count == 1
        await client.submit_choice(s.session_id, "p2", "b")
        await client.end_session(s.session_id)  # resolves the open window
        resolved = (await seen.wait_kind("turn_resolved")).turn_resolved
        assert sorted(c.player_id for c in resolved.choices) == ["p1", "p2"]
        ids = [e.event_id for e in seen.stored()]
        assert ids == list(range(1, len(ids) + 1))
        assert watch.reconnects >= 1 and len(seen.of_kind("snapshot")) == 1
        await seen.stop()
        await second.stop()


async def test_shutdown_ends_streams_with_unavailable(start_server: StartServer) -> None:
    server = await start_server()
    async with SessionClient(f"127.0.0.1:{server.port}") as client:
        s = await client.create_session()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = stubs.SessionServiceStub(channel).WatchSession(pb.WatchSessionRequest(session_id=s.session_id))
        first = await call.read()
        assert first.HasField("snapshot")
        await server.stop(1)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call.read()
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "reconnect with after_event_id=0" in (err.value.details() or "")


async def test_a_call_right_after_a_restart_waits_for_the_reconnect(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """After an outage long enough to grow gRPC's default reconnect backoff (1 s, then
    1.6 s, 2.6 s...) past the retries, a call made as the server comes back must still
    succeed: the client's channel reconnects within its RetryPolicy's backoff and a call
    with a deadline waits for it instead of failing at once."""
    snapshot = str(tmp_path / "sessiond.json")
    first = await start_server(snapshot=snapshot)
    port = first.port
    async with SessionClient(f"127.0.0.1:{port}") as client:
        s = await client.create_session()
        await first.stop()
        channel = client._channel  # the test watches the client's own channel
        state = channel.get_state(try_to_connect=True)
        while state is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:  # the first attempt is refused
            await channel.wait_for_state_change(state)
            state = channel.get_state(try_to_connect=True)
        await asyncio.sleep(3)  # the outage lasts: the channel keeps trying and its backoff grows
        second = await start_server(snapshot=snapshot, listen=f"127.0.0.1:{port}")
        assert (await client.get_session(s.session_id, timeout=10)).session_id == s.session_id
        await second.stop()
