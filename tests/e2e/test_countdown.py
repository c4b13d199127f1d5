"""The multiplayer choice window end to end: client -> real server -> watchers."""

from __future__ import annotations

import asyncio

from sessiond_client import SessionClient, pb

from tests.e2e.conftest import Recorder, StartServer

# Tiers scaled down so a player goes DORMANT within seconds: ACTIVE within 0 turns
# or 0.2 s, IDLE within 1 turn or 0.4 s.
FAST_TIERS = {"active_turns": 0, "active_seconds": 0.2, "idle_turns": 1, "idle_seconds": 0.4}


async def play_turn(client: SessionClient, watch: Recorder, sid: str, choices: dict[str, str]) -> pb.Turn:
    resolved_before = len(watch.of_kind("turn_resolved"))
    for player, choice in choices.items():
        await client.submit_choice(sid, player, choice)
    event = await watch.wait_kind("turn_resolved", resolved_before + 1)
    return event.turn_resolved


async def test_three_player_countdown_with_a_replaced_choice_and_a_dormant_player(
    start_server: StartServer,
) -> None:
    server = await start_server(**FAST_TIERS)
    async with SessionClient(f"127.0.0.1:{server.port}") as client:
        s = await client.create_session(
            session_id="quest", options=["north", "south"], window_seconds=1.5, early_close=False
        )
        watch = Recorder(client.watch(s.session_id, after_event_id=s.last_event_id))
        for player in ("ann", "bob", "cat"):
            await client.join_session(s.session_id, player, display_name=player.title())
        for _ in range(2):  # cat sits out two turns and goes DORMANT
            await play_turn(client, watch, s.session_id, {"ann": "north", "bob": "north"})

        opened = await client.submit_choice(s.session_id, "ann", "north")
        assert opened.opened_window and opened.turn_number == 3
        assert 1.0 < opened.time_remaining.ToTimedelta().total_seconds() <= 1.5
        await client.submit_choice(s.session_id, "bob", "south")
        replaced = await client.submit_choice(s.session_id, "ann", "south")
        assert replaced.replaced and replaced.choice_count == 2 and not replaced.HasField("resolved_turn")

        turn = (await watch.wait_kind("turn_resolved", 3)).turn_resolved
        assert turn.turn_number == 3 and turn.close_reason == pb.Turn.DEADLINE
        assert [(c.player_id, c.choice) for c in turn.choices] == [("ann", "south"), ("bob", "south")]
        assert [(t.option, t.votes) for t in turn.tally] == [("south", 2)] and turn.winner == "south"

        players = {p.player_id: p for p in (await client.list_players(s.session_id)).players}
        assert players["cat"].tier == pb.DORMANT and players["cat"].consecutive_skips == 3
        assert players["ann"].consecutive_skips == 0 and players["bob"].consecutive_skips == 0
        session = await client.get_session(s.session_id)
        assert session.turn_number == 4 and not session.HasField("window")

        # What the watchers saw of turn 3: the window, three choices (not their text), ticks, the turn.
        turn3 = [e for e in watch.events if _turn_of(e) == 3]
        kinds = [e.WhichOneof("kind") for e in turn3 if e.WhichOneof("kind") != "countdown_tick"]
        assert kinds == ["window_opened", "choice_received", "choice_received", "choice_received", "turn_resolved"]
        received = [e.choice_received for e in turn3 if e.HasField("choice_received")]
        assert [(r.player_id, r.choice_count, r.replaced) for r in received] == [
            ("ann", 1, False), ("bob", 2, False), ("ann", 2, True)
        ]
        assert any(e.HasField("countdown_tick") and e.countdown_tick.turn_number == 3 for e in watch.events)
        await watch.stop()


def _turn_of(e: pb.SessionEvent) -> int:
    kind = e.WhichOneof("kind")
    if kind in ("window_opened", "choice_received", "countdown_tick"):
        return int(getattr(e, kind).turn_number)
    if kind == "turn_resolved":
        return int(e.turn_resolved.turn_number)
    return 0


async def test_the_window_closes_early_once_every_active_player_chose(client: SessionClient) -> None:
    s = await client.create_session(window_seconds=3600.0)  # only an early close ends it in time
    for player in ("ann", "bob"):
        await client.join_session(s.session_id, player)
    first = await client.submit_choice(s.session_id, "ann", "x")
    assert not first.HasField("resolved_turn")
    last = await client.submit_choice(s.session_id, "bob", "y")
    assert last.resolved_turn.close_reason == pb.Turn.ALL_CHOSEN and len(last.resolved_turn.choices) == 2
    assert (await client.get_session(s.session_id)).turn_number == 2


async def test_a_dormant_player_does_not_hold_the_window_open(start_server: StartServer) -> None:
    server = await start_server(**FAST_TIERS)
    async with SessionClient(f"127.0.0.1:{server.port}") as client:
        s = await client.create_session(window_seconds=1.0)
        watch = Recorder(client.watch(s.session_id, after_event_id=s.last_event_id, exclude_ticks=True))
        for player in ("ann", "bob", "cat"):
            await client.join_session(s.session_id, player)
        for _ in range(2):  # cat is still IDLE: these turns run to their deadline
            turn = await play_turn(client, watch, s.session_id, {"ann": "x", "bob": "y"})
            assert turn.close_reason == pb.Turn.DEADLINE
        await client.submit_choice(s.session_id, "ann", "x")
        last = await client.submit_choice(s.session_id, "bob", "y")
        assert last.resolved_turn.close_reason == pb.Turn.ALL_CHOSEN and last.resolved_turn.turn_number == 3
        await watch.stop()


async def test_fifty_concurrent_choices_each_appear_once_in_the_turn(client: SessionClient) -> None:
    s = await client.create_session(window_seconds=3.0, early_close=False)
    watch = Recorder(client.watch(s.session_id, after_event_id=s.last_event_id, exclude_ticks=True))
    players = [f"p{i:02d}" for i in range(50)]
    receipts = await asyncio.gather(*(client.submit_choice(s.session_id, p, f"choice-{p}") for p in players))
    assert sum(r.opened_window for r in receipts) == 1
    assert sorted(r.choice_count for r in receipts) == list(range(1, 51))
    turn = (await watch.wait_kind("turn_resolved")).turn_resolved
    assert sorted((c.player_id, c.choice) for c in turn.choices) == [(p, f"choice-{p}") for p in players]
    assert sum(t.votes for t in turn.tally) == 50
    received = watch.of_kind("choice_received")
    assert sorted(e.choice_received.player_id for e in received) == players
    await watch.stop()


async def test_service_stats_count_what_the_server_holds(client: SessionClient) -> None:
    a = await client.create_session(window_seconds=60.0, early_close=False)
    b = await client.create_session()
    await client.submit_choice(a.session_id, "p1", "x")
    await client.join_session(a.session_id, "p2")
    await client.join_session(b.session_id, "p3")
    await client.pause_session(b.session_id)
    watch = Recorder(client.watch(a.session_id, exclude_ticks=True))
    await watch.wait_kind("snapshot")
    stats = await client.get_service_stats()
    by_state = {c.state: c.count for c in stats.sessions_by_state}
    assert by_state == {pb.Session.ACTIVE: 1, pb.Session.PAUSED: 1}
    assert stats.player_count == 3 and stats.open_windows == 1 and stats.watchers == 1
    assert stats.store == "memory" and stats.version
    await watch.stop()
