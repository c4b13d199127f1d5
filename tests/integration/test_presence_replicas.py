"""Presence across replicas, end to end: ``python -m sessiond serve --store redis``
processes on one real redis-server, with a short lease so the tests wait seconds, not
minutes. Every wait is for an event a replica streams (or a state it reports), never a
fixed sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sessiond_client import SessionClient, pb

from tests.e2e.conftest import Recorder
from tests.integration.replicas import Replica, Replicas, eventually

pytestmark = pytest.mark.redis

LEASE = 1.0  # seconds: --presence-lease of the replicas (renewed every third)
GRACE = 4.0  # seconds: the sessions' presence grace
ENV = {"SESSIOND_PRESENCE_LEASE": str(LEASE), "SESSIOND_SWEEP_INTERVAL": "0.2"}
KILLED_PLAYERS = 50
SLACK = 3.0  # seconds a busy 2-core machine may add to a lease or a grace

ONLINE, AWAY, OFFLINE = pb.Player.ONLINE, pb.Player.AWAY, pb.Player.OFFLINE


@pytest.fixture
async def pair(tmp_path: Path, redis_url: str) -> AsyncIterator[tuple[Replica, Replica]]:
    group = Replicas(tmp_path)
    try:
        a, b = await group.start(2, redis_url, ENV)
        yield a, b
    finally:
        await group.close()


async def new_session(client: SessionClient, players: list[str], **settings: object) -> pb.Session:
    session = await client.create_session(presence_grace_seconds=GRACE, **settings)  # type: ignore[arg-type]
    for pid in players:
        await client.join_session(session.session_id, pid)
    return await client.get_session(session.session_id)


def follow(client: SessionClient, session: pb.Session) -> Recorder:
    """Every event of ``session`` after the state it was returned in."""
    return Recorder(client.watch(session.session_id, after_event_id=session.last_event_id, exclude_ticks=True))


def watch_as(client: SessionClient, session_id: str, player_id: str) -> Recorder:
    """A player's own watch (no reconnection: a killed replica ends it)."""
    return Recorder(client.watch(session_id, exclude_ticks=True, player_id=player_id, max_reconnects=0))


def presence_events(recorder: Recorder, player_id: str = "") -> list[tuple[str, int, int]]:
    return [
        (e.presence_changed.player_id, e.presence_changed.old_presence, e.presence_changed.new_presence)
        for e in recorder.of_kind("presence_changed")
        if not player_id or e.presence_changed.player_id == player_id
    ]


async def presences(client: SessionClient, session_id: str) -> dict[str, int]:
    page = await client.list_players(session_id)
    return {p.player_id: p.presence for p in page.players}


async def reaches(client: SessionClient, session_id: str, wanted: int, players: list[str], timeout: float) -> float:
    """Seconds until every one of ``players`` shows ``wanted`` in ListPlayers."""
    began = time.monotonic()
    found: dict[str, int] = {}

    async def probe() -> bool | None:
        found.update(await presences(client, session_id))
        return True if all(found[p] == wanted for p in players) else None

    def what() -> str:
        seen = sorted({pb.Player.Presence.Name(found[p]) for p in players})
        return f"{players} to be {pb.Player.Presence.Name(wanted)} (last seen: {', '.join(seen)})"

    await eventually(probe, timeout=timeout, what=what)
    return time.monotonic() - began


async def test_online_on_the_other_replica_away_back_without_an_event_then_offline_once(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    session = await new_session(b.client, ["p1"])
    sid = session.session_id
    events = follow(b.client, session)
    try:
        mine = watch_as(a.client, sid, "p1")
        await events.wait_kind("presence_changed")
        assert await presences(b.client, sid) == {"p1": ONLINE}
        await mine.stop()
        await reaches(b.client, sid, AWAY, ["p1"], timeout=SLACK)
        mine = watch_as(a.client, sid, "p1")  # back within the grace
        await reaches(b.client, sid, ONLINE, ["p1"], timeout=SLACK)
        await mine.stop()
        await events.wait_kind("presence_changed", 2, timeout=GRACE + SLACK)
        assert await presences(b.client, sid) == {"p1": OFFLINE}
        assert presence_events(events) == [("p1", OFFLINE, ONLINE), ("p1", ONLINE, OFFLINE)]
        await b.client.update_session_state(sid, {"marker": 1})  # all before it has arrived
        await events.wait_kind("state_changed")
        assert len(presence_events(events)) == 2
        player = (await b.client.list_players(sid)).players[0]
        assert player.HasField("last_seen_time")
    finally:
        await events.stop()


async def test_kill_9_leaves_every_player_away_within_the_lease_then_offline_once(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    players = [f"p{n}" for n in range(KILLED_PLAYERS)]
    session = await new_session(b.client, players)
    sid = session.session_id
    events = follow(b.client, session)
    watches = [watch_as(a.client, sid, pid) for pid in players]
    try:
        await events.wait_kind("presence_changed", KILLED_PLAYERS, timeout=30)
        assert (await b.client.get_service_stats()).online_players == KILLED_PLAYERS
        await asyncio.to_thread(a.daemon.kill)
        away_after = await reaches(b.client, sid, AWAY, players, timeout=LEASE + SLACK)
        await events.wait_kind("presence_changed", 2 * KILLED_PLAYERS, timeout=GRACE + LEASE + 2 * SLACK)
        assert away_after <= LEASE + SLACK
        assert set((await presences(b.client, sid)).values()) == {OFFLINE}
        await b.client.update_session_state(sid, {"marker": 1})
        await events.wait_kind("state_changed")
        offline = [e for e in presence_events(events) if e[2] == OFFLINE]
        assert sorted(pid for pid, _, _ in offline) == sorted(players), "exactly one OFFLINE each"
    finally:
        await asyncio.gather(*(w.stop() for w in watches))
        await events.stop()


async def test_early_close_scope_online_waits_only_for_players_online(pair: tuple[Replica, Replica]) -> None:
    a, b = pair
    session = await new_session(b.client, ["p1", "p2", "p3"], early_close_scope="ONLINE", window_seconds=600)
    sid = session.session_id
    events = follow(b.client, session)
    watches = [watch_as(a.client, sid, pid) for pid in ("p1", "p2")]  # p3 never watches
    try:
        await events.wait_kind("presence_changed", 2)
        first = await b.client.submit_choice(sid, "p1", "x")
        assert not first.HasField("resolved_turn"), "p2 is online and has not chosen"
        second = await b.client.submit_choice(sid, "p2", "y")
        assert second.resolved_turn.close_reason == pb.Turn.ALL_CHOSEN, "p3 is offline: not waited for"
    finally:
        await asyncio.gather(*(w.stop() for w in watches))
        await events.stop()


async def test_the_co_gm_role_returns_to_the_narrator_after_its_holder_is_offline(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    session = await new_session(b.client, ["p1"], game_master_handback=True)
    sid = session.session_id
    await b.client.set_game_master(sid, "p1")
    events = follow(b.client, await b.client.get_session(sid))
    mine = watch_as(a.client, sid, "p1")
    try:
        await events.wait_kind("presence_changed")
        await mine.stop()
        changed = await events.wait_kind("game_master_changed", timeout=GRACE + SLACK)
        assert (changed.game_master_changed.old_player_id, changed.game_master_changed.new_player_id) == ("p1", "")
        assert (await b.client.get_session(sid)).game_master_player_id == ""
    finally:
        await mine.stop()
        await events.stop()
