"""Write, then watch: every call that changes a session reports the ids of the events it
appended, and a watch from just before them sees all of them, however fast they came."""

from __future__ import annotations

import asyncio

import pytest
from sessiond_client import EventRange, SessionClient, pb

from sessiond.server import Service


async def appended(client: SessionClient, session_id: str, since: EventRange) -> list[pb.SessionEvent]:
    """The stored events of ``since``, read back through a watch started just before it."""
    events: list[pb.SessionEvent] = []
    if since.last < since.first:
        return events
    async with client.watch(session_id, since=since, exclude_ticks=True, timeout=10) as watch:
        async for event in watch:
            events.append(event)
            if event.event_id >= since.last:
                break
    return events


def kinds(events: list[pb.SessionEvent]) -> list[str | None]:
    return [e.WhichOneof("kind") for e in events]


async def test_a_watch_from_an_early_closing_choice_sees_the_turn_resolved(client: SessionClient) -> None:
    s = await client.create_session(options=["left", "right"], window_seconds=30)
    await client.join_session(s.session_id, "ann")
    receipt = await client.submit_choice(s.session_id, "ann", "left")
    assert receipt.HasField("resolved_turn"), "one player: the choice closes the window at once"

    seen: list[pb.SessionEvent] = []
    async with client.watch(s.session_id, since=receipt, exclude_ticks=True, timeout=10) as events:
        async for event in events:
            seen.append(event)
            if event.HasField("turn_resolved"):
                break
    assert seen[0].event_id == receipt.first_event_id
    assert seen[-1].event_id == receipt.last_event_id
    assert seen[-1].turn_resolved.winner == "left"
    assert not any(e.HasField("snapshot") for e in seen)

    # Without since, the watch would start after all of it: its snapshot is past the turn.
    async with client.watch(s.session_id, exclude_ticks=True, timeout=10) as events:
        snapshot = await anext(events)
    assert snapshot.snapshot.last_event_id == receipt.last_event_id


async def test_submit_choice_carries_its_range_in_fields_and_header(client: SessionClient) -> None:
    s = await client.create_session(options=["a", "b"], window_seconds=30)
    await client.join_session(s.session_id, "ann")
    await client.join_session(s.session_id, "bob")
    with client.event_ranges() as ranges:
        opened = await client.submit_choice(s.session_id, "ann", "a")
    header = ranges.get(s.session_id)
    assert header == EventRange(s.session_id, opened.first_event_id, opened.last_event_id)
    assert kinds(await appended(client, s.session_id, header)) == ["window_opened", "choice_received"]

    closed = await client.submit_choice(s.session_id, "bob", "b")
    rng = EventRange(s.session_id, closed.first_event_id, closed.last_event_id)
    assert rng.first == opened.last_event_id + 1
    assert kinds(await appended(client, s.session_id, rng)) == ["choice_received", "turn_resolved"]


async def test_calls_returning_a_session_a_player_a_turn_or_nothing_report_theirs(client: SessionClient) -> None:
    s = await client.create_session(options=["a", "b"], window_seconds=30, early_close=False)
    sid = s.session_id
    expected = {
        "join_session": ["player_joined"],
        "update_session_state": ["state_changed"],
        "submit_choice": ["player_joined", "window_opened", "choice_received"],
        "end_session": ["turn_resolved", "status_changed"],  # the open window resolves first
        "set_turn_summary": ["turn_updated"],
        "leave_session": ["player_left"],
    }
    calls = {
        "join_session": lambda: client.join_session(sid, "ann"),
        "update_session_state": lambda: client.update_session_state(sid, {"torch": "lit"}),
        "submit_choice": lambda: client.submit_choice(sid, "bob", "b"),
        "end_session": lambda: client.end_session(sid),
        "set_turn_summary": lambda: client.set_turn_summary(sid, 1, "They went right."),
        "leave_session": lambda: client.leave_session(sid, "ann"),
    }
    last = 0
    for name, call in calls.items():
        with client.event_ranges() as ranges:
            await call()
        rng = ranges.get(sid)
        assert rng is not None, f"{name} sent no event range"
        assert rng.first == last + 1, f"{name}: the range starts right after the previous call's"
        events = await appended(client, sid, rng)
        assert kinds(events) == expected[name], name
        assert [e.event_id for e in events] == list(range(rng.first, rng.last + 1)), name
        last = rng.last
    assert (await client.get_session(sid)).last_event_id == last


async def test_calls_that_store_no_event_get_an_empty_range_at_the_newest_id(client: SessionClient) -> None:
    with client.event_ranges() as ranges:
        await client.create_session(session_id="quiet")
    assert ranges.get("quiet") == EventRange("quiet", 1, 0), "created: watch from 0 sees everything"
    await client.join_session("quiet", "ann", display_name="Ann")
    with client.event_ranges() as ranges:
        await client.join_session("quiet", "ann", display_name="Ann")  # already there: nothing changes
    assert ranges.get("quiet") == EventRange("quiet", 2, 1)
    with client.event_ranges() as ranges:
        await client.delete_session("quiet")
    assert len(ranges) == 0, "a deleted session has no log to watch"


async def test_placement_responses_carry_the_range_of_their_session(client: SessionClient) -> None:
    switched = await client.switch_character_world("ann", "elf", "forest")
    assert switched.created
    joined = await appended(client, switched.session.session_id, _range_of(switched))
    assert kinds(joined) == ["player_joined"]

    first = await client.swap_game("lobby", pb.Session(game_id="zork"), session_id="zork-1")
    assert (first.first_event_id, first.last_event_id) == (1, 0), "a new game has no event yet"
    second = await client.swap_game("lobby", pb.Session(game_id="hitch"), session_id="hitch-1")
    loaded = await client.load_game("zork-1")  # resumes zork-1, saves hitch-1
    assert loaded.session.session_id == "zork-1" and loaded.saved.session_id == "hitch-1"
    assert second.saved.session_id == "zork-1"
    assert kinds(await appended(client, "zork-1", _range_of(loaded))) == ["status_changed"]
    with pytest.raises(ValueError, match="not 'hitch-1'"):
        client.watch("hitch-1", since=loaded)


def _range_of(response: pb.SwitchCharacterWorldResponse | pb.SwapGameResponse) -> EventRange:
    return EventRange(response.session.session_id, response.first_event_id, response.last_event_id)


async def test_the_range_holds_when_others_write_at_the_same_time(server: Service) -> None:
    """Ranges come from each call's own commit, so concurrent writers never blur them."""
    async with SessionClient(f"127.0.0.1:{server.port}") as client:
        s = await client.create_session()
        sid = s.session_id

        async def write(i: int) -> EventRange:
            with client.event_ranges() as ranges:
                await client.update_session_state(sid, {f"k{i}": i})
            found = ranges.get(sid)
            assert found is not None
            return found

        ranges = await asyncio.gather(*(write(i) for i in range(20)))
        assert sorted((r.first, r.last) for r in ranges) == [(i, i) for i in range(1, 21)]
        for rng in ranges[:3]:
            [event] = await appended(client, sid, rng)
            assert event.state_changed.patch.keys() == {f"k{ranges.index(rng)}"}
