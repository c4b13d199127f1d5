"""Presence with the memory store and a fake clock: leases from watch streams, AWAY
within the grace, settled changes (one event each), a replica that stops renewing, and
the rules that use it (early_close_scope ONLINE, the co-GM hand-back)."""

from __future__ import annotations

import pytest
from sessiond_client import pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb

from sessiond.api.convert import view_to_pb
from sessiond.api.players import dashboard_to_pb
from sessiond.api.sessions import SessionServicer
from sessiond.core.errors import InvalidInput, PlayerNotFound
from sessiond.core.events import GameMasterChanged, PresenceChanged, TurnResolved
from sessiond.core.lifecycle import SessionSpec
from sessiond.core.models import CloseReason, EarlyCloseScope, Presence
from sessiond.manager.manager_config import ManagerConfig
from sessiond.manager.players import Dashboard
from sessiond.manager.presence import PresenceTracker
from sessiond.manager.sessions import SessionManager
from sessiond.store.memory import MemoryStore
from tests.support import FakeClock

GRACE = 30.0
LEASE = 10.0


async def started(manager: SessionManager, *players: str, **spec: object) -> str:
    session = await manager.create_session(SessionSpec(presence_grace_seconds=GRACE, **spec), "s1", "")  # type: ignore[arg-type]
    for pid in players:
        await manager.join("s1", pid, "")
    return session.session_id


async def presence_of(manager: SessionManager, player_id: str) -> Presence:
    page = await manager.list_players("s1", 100, "")
    [view] = [v for v in page.items if v.player.player_id == player_id]
    assert view.seen is not None
    return view.seen.presence


async def presence_events(store: MemoryStore) -> list[PresenceChanged]:
    return [e.payload for e in await store.events_after("s1", 0, 1000) if isinstance(e.payload, PresenceChanged)]


async def hold(manager: SessionManager, player_id: str) -> None:
    session = await manager.get_session("s1")
    grace = session.settings.presence_grace_seconds
    await manager.presence.hold("s1", player_id, grace, session.roster[player_id].online)


async def release(manager: SessionManager, player_id: str) -> None:
    manager.presence.release("s1", player_id)
    await manager.presence.heartbeat()  # the batch the release joined, written now


async def test_a_player_is_online_while_watching_away_within_the_grace_then_offline_once(
    manager: SessionManager, store: MemoryStore, clock: FakeClock
) -> None:
    await started(manager, "p1")
    assert await presence_of(manager, "p1") is Presence.OFFLINE
    await hold(manager, "p1")
    assert await presence_of(manager, "p1") is Presence.ONLINE
    await release(manager, "p1")
    assert await presence_of(manager, "p1") is Presence.AWAY
    clock.advance(GRACE - 1)
    await manager.presence.sweep()
    await hold(manager, "p1")  # back within the grace: nothing settles
    assert await presence_of(manager, "p1") is Presence.ONLINE
    await release(manager, "p1")
    clock.advance(GRACE - 1)
    await manager.presence.sweep()
    assert await presence_of(manager, "p1") is Presence.AWAY
    clock.advance(1)
    await manager.presence.sweep()
    await manager.presence.sweep()
    assert await presence_of(manager, "p1") is Presence.OFFLINE
    assert await presence_events(store) == [
        PresenceChanged("p1", Presence.OFFLINE, Presence.ONLINE),
        PresenceChanged("p1", Presence.ONLINE, Presence.OFFLINE),
    ]
    assert (await manager.stats()).store_stats.players_online == 0


async def test_two_streams_of_one_player_keep_them_online_until_the_last_closes(
    manager: SessionManager, clock: FakeClock
) -> None:
    await started(manager, "p1")
    await hold(manager, "p1")
    await hold(manager, "p1")
    await release(manager, "p1")
    clock.advance(GRACE + 1)
    await manager.presence.heartbeat()
    await manager.presence.sweep()
    assert await presence_of(manager, "p1") is Presence.ONLINE


async def test_players_of_a_replica_that_stops_renewing_go_away_then_offline(
    store: MemoryStore, clock: FakeClock
) -> None:
    config = ManagerConfig(presence_lease=LEASE)
    dead, alive = (SessionManager(store, config, wall_clock=clock) for _ in range(2))
    await started(dead, "p1", "p2")
    await hold(dead, "p1")
    await hold(dead, "p2")
    assert (await alive.stats()).store_stats.players_online == 2
    clock.advance(LEASE + 1)  # the dead one never renews
    assert await presence_of(alive, "p1") is Presence.AWAY
    await alive.presence.sweep()
    assert await presence_of(alive, "p2") is Presence.AWAY
    clock.advance(GRACE)
    await alive.presence.sweep()
    await alive.presence.sweep()
    assert [await presence_of(alive, p) for p in ("p1", "p2")] == [Presence.OFFLINE] * 2
    assert len(await presence_events(store)) == 4  # online and offline, once each


async def test_the_co_gm_role_returns_to_the_narrator_once_its_holder_is_offline(
    manager: SessionManager, store: MemoryStore, clock: FakeClock
) -> None:
    await started(manager, "p1", game_master_handback=True)
    await manager.set_game_master("s1", "p1")
    await hold(manager, "p1")
    await release(manager, "p1")
    clock.advance(GRACE - 1)
    await manager.presence.sweep()
    assert (await manager.get_session("s1")).game_master == "p1", "AWAY keeps the role"
    clock.advance(1)
    await manager.presence.sweep()
    assert (await manager.get_session("s1")).game_master == ""
    last = (await store.events_after("s1", 0, 1000))[-1]
    assert last.payload == GameMasterChanged("p1", "")


async def test_without_the_hand_back_the_co_gm_keeps_the_role(manager: SessionManager, clock: FakeClock) -> None:
    await started(manager, "p1")
    await manager.set_game_master("s1", "p1")
    await hold(manager, "p1")
    await release(manager, "p1")
    clock.advance(GRACE)
    await manager.presence.sweep()
    assert (await manager.get_session("s1")).game_master == "p1"


async def test_early_close_scope_online_waits_only_for_online_players(manager: SessionManager) -> None:
    await started(manager, "p1", "p2", early_close_scope=EarlyCloseScope.ONLINE)
    await hold(manager, "p1")
    receipt = await manager.submit_choice("s1", "p1", "x")
    assert receipt.resolved_turn is not None and receipt.resolved_turn.close_reason is CloseReason.ALL_CHOSEN


async def test_early_close_by_default_waits_for_every_player_not_dormant(manager: SessionManager) -> None:
    await started(manager, "p1", "p2")
    await hold(manager, "p1")
    receipt = await manager.submit_choice("s1", "p1", "x")
    assert receipt.resolved_turn is None


async def test_an_online_player_going_offline_closes_a_window_the_others_all_chose_in(
    manager: SessionManager, store: MemoryStore, clock: FakeClock
) -> None:
    await started(manager, "p1", "p2", early_close_scope=EarlyCloseScope.ONLINE, window_seconds=3600.0)
    await hold(manager, "p1")
    await hold(manager, "p2")
    assert (await manager.submit_choice("s1", "p1", "x")).resolved_turn is None
    await release(manager, "p2")
    clock.advance(GRACE)
    await manager.presence.sweep()
    last = (await store.events_after("s1", 0, 1000))[-1].payload
    assert isinstance(last, TurnResolved) and last.turn.close_reason is CloseReason.ALL_CHOSEN


@pytest.mark.parametrize(("player_id", "error"), [("nobody", PlayerNotFound), ("bad id!", InvalidInput)])
async def test_a_watch_for_a_player_not_on_the_roster_is_refused_and_changes_nothing(
    manager: SessionManager, store: MemoryStore, player_id: str, error: type[Exception]
) -> None:
    await started(manager, "p1")
    before = await manager.get_session("s1")
    with pytest.raises(error):
        await anext(manager.watch("s1", None, player_id=player_id))
    assert (await manager.get_session("s1")).revision == before.revision
    assert await store.presence_leases("s1") == {}


def test_each_replica_has_its_own_id(store: MemoryStore) -> None:
    config = ManagerConfig()
    a, b = (PresenceTracker(store, config.tiers, 1.0, 1.0) for _ in range(2))
    assert a.replica != b.replica


async def test_list_players_and_the_dashboard_show_presence(manager: SessionManager, clock: FakeClock) -> None:
    await started(manager, "p1", "p2")
    await hold(manager, "p1")
    await release(manager, "p1")
    away_since = clock.now
    clock.advance(1)
    views = {v.player.player_id: view_to_pb(v) for v in (await manager.list_players("s1", 100, "")).items}
    assert views["p1"].presence == pb.Player.AWAY and views["p1"].last_seen_time.seconds == int(away_since)
    assert views["p2"].presence == pb.Player.OFFLINE and not views["p2"].HasField("last_seen_time")
    board = dashboard_to_pb(Dashboard("p1", active=[await manager.get_session("s1")]), "memory")
    assert [(p.session_id, p.presence) for p in board.presences] == [("s1", pb.Player.ONLINE)]


async def test_a_stream_closed_at_a_message_ends_its_watch_and_lease_at_once(manager: SessionManager) -> None:
    """gRPC closes a watch stream's generator at its ``yield`` when the call is cancelled
    while a message is being written; the watch inside it (its subscription, its player's
    lease) must end then, not whenever the garbage collector finds the generator."""
    await started(manager, "p1")
    servicer = SessionServicer(manager, "test")
    stream = servicer.WatchSession(spb.WatchSessionRequest(session_id="s1", player_id="p1"), None)
    await anext(stream)  # the watch start
    await anext(stream)  # p1 came online: the stream is at this message
    assert manager.presence.held == 1 and manager.hub.watchers == 1
    await stream.aclose()
    assert manager.presence.held == 0 and manager.hub.watchers == 0
