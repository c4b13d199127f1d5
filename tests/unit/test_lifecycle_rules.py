"""Lifecycle, state, roster, limits and expiry, with a fake clock."""

from __future__ import annotations

import pytest

from sessiond.core.errors import (
    InvalidInput,
    LimitReached,
    PlayerNotFound,
    SessionExists,
    SessionNotFound,
    VersionConflict,
    WrongState,
)
from sessiond.core.lifecycle import SessionSpec
from sessiond.core.models import SessionState
from sessiond.manager.sessions import SessionManager
from sessiond.store.memory import MemoryStore
from tests.support import FakeClock


async def test_create_generates_an_id_and_applies_defaults(manager: SessionManager) -> None:
    s = await manager.create_session(SessionSpec(game_id="g1"), "", "")
    assert len(s.session_id) == 32 and s.state is SessionState.ACTIVE
    assert s.settings.window_seconds == 10.0 and s.settings.early_close and s.settings.idle_ttl_seconds == 4 * 3600
    assert s.turn_number == 1 and s.session_state == {} and s.state_version == 0


async def test_create_is_idempotent_per_request_id(manager: SessionManager) -> None:
    first = await manager.create_session(SessionSpec(), "", "req-1")
    again = await manager.create_session(SessionSpec(), "", "req-1")
    assert again.session_id == first.session_id
    with pytest.raises(SessionExists):
        await manager.create_session(SessionSpec(), first.session_id, "req-2")


@pytest.mark.parametrize(
    ("session_id", "spec", "field"),
    [
        ("bad id!", SessionSpec(), "session_id"),
        ("x" * 129, SessionSpec(), "session_id"),
        ("ok", SessionSpec(game_id="has space"), "game_id"),
        ("ok", SessionSpec(window_seconds=0.5), "window_duration"),
        ("ok", SessionSpec(window_seconds=3601), "window_duration"),
        ("ok", SessionSpec(idle_ttl_seconds=10), "idle_ttl"),
        ("ok", SessionSpec(max_players=1001), "max_players"),
        ("ok", SessionSpec(title="t" * 201), "title"),
        ("ok", SessionSpec(session_state={"blob": "x" * 70_000}), "session_state"),
        ("ok", SessionSpec(options=("a", "a")), "current_options"),
        ("ok", SessionSpec(options=("",)), "current_options"),
    ],
)
async def test_create_refuses_bad_input_and_stores_nothing(
    manager: SessionManager, session_id: str, spec: SessionSpec, field: str
) -> None:
    with pytest.raises(InvalidInput, match=field):
        await manager.create_session(spec, session_id, "")
    assert (await manager.list_sessions("", 0, "")).total == 0


async def test_session_limit_answers_limit_reached(manager: SessionManager) -> None:
    for i in range(5):
        await manager.create_session(SessionSpec(), f"s{i}", "")
    with pytest.raises(LimitReached, match="maximum of 5 sessions"):
        await manager.create_session(SessionSpec(), "s5", "")


async def test_lifecycle_transitions_and_their_refusals(manager: SessionManager) -> None:
    s = await manager.create_session(SessionSpec(), "s1", "")
    with pytest.raises(WrongState, match="cannot resume"):
        await manager.change_state("s1", "resume", "")
    paused = await manager.change_state("s1", "pause", s.etag)
    assert paused.state is SessionState.PAUSED
    with pytest.raises(VersionConflict, match="stale"):
        await manager.change_state("s1", "resume", s.etag)
    resumed = await manager.change_state("s1", "resume", paused.etag)
    assert resumed.state is SessionState.ACTIVE
    ended = await manager.change_state("s1", "end", "")
    assert ended.state is SessionState.ENDED
    for action in ("pause", "resume", "end"):
        with pytest.raises(WrongState):
            await manager.change_state("s1", action, "")


async def test_merge_patch_with_version_check(manager: SessionManager) -> None:
    await manager.create_session(SessionSpec(session_state={"hp": 10, "inv": {"sword": 1, "rope": 2}}), "s1", "")
    s = await manager.update_session_state("s1", {"hp": 7, "inv": {"rope": None, "torch": 1}}, 0)
    assert s.session_state == {"hp": 7, "inv": {"sword": 1, "torch": 1}} and s.state_version == 1
    with pytest.raises(VersionConflict, match="expected state_version 0"):
        await manager.update_session_state("s1", {"hp": 0}, 0)
    with pytest.raises(InvalidInput, match="limit is 65536"):
        await manager.update_session_state("s1", {"blob": "x" * 70_000}, None)
    assert (await manager.get_session("s1")).session_state == {"hp": 7, "inv": {"sword": 1, "torch": 1}}
    reset = await manager.reset_session_state("s1", {}, 1)
    assert reset.session_state == {} and reset.state_version == 2


async def test_state_of_an_ended_session_is_frozen(manager: SessionManager) -> None:
    await manager.create_session(SessionSpec(), "s1", "")
    await manager.change_state("s1", "end", "")
    with pytest.raises(WrongState):
        await manager.update_session_state("s1", {"a": 1}, None)


async def test_roster_join_leave_and_limits(manager: SessionManager) -> None:
    await manager.create_session(SessionSpec(max_players=2), "s1", "")
    view = await manager.join("s1", "p1", "Ann")
    assert view.player.display_name == "Ann"
    again = await manager.join("s1", "p1", "Annie")
    assert again.player.display_name == "Annie" and again.player.join_time == view.player.join_time
    await manager.join("s1", "p2", "")
    with pytest.raises(LimitReached, match="maximum of 2 players"):
        await manager.join("s1", "p3", "")
    with pytest.raises(LimitReached):
        await manager.submit_choice("s1", "p3", "go")
    await manager.leave("s1", "p1")
    with pytest.raises(PlayerNotFound):
        await manager.leave("s1", "p1")
    assert [v.player.player_id for v in (await manager.list_players("s1", 0, "")).items] == ["p2"]


async def test_players_are_paged_in_join_order(manager: SessionManager) -> None:
    await manager.create_session(SessionSpec(), "s1", "")
    for i in range(5):
        await manager.join("s1", f"p{i}", "")
    page = await manager.list_players("s1", 2, "")
    seen = [v.player.player_id for v in page.items]
    while page.next_page_token:
        page = await manager.list_players("s1", 2, page.next_page_token)
        seen += [v.player.player_id for v in page.items]
    assert seen == [f"p{i}" for i in range(5)]
    with pytest.raises(InvalidInput, match="page_token"):
        await manager.list_players("s1", 2, "garbage!")


async def test_list_sessions_filter_and_paging(manager: SessionManager) -> None:
    for i in range(4):
        await manager.create_session(SessionSpec(game_id="g" if i < 3 else "h"), f"s{i}", "")
    await manager.join("s1", "ann", "")
    page = await manager.list_sessions('game_id="g"', 2, "")
    assert [s.session_id for s in page.items] == ["s2", "s1"] and page.total == 3
    rest = await manager.list_sessions('game_id="g"', 2, page.next_page_token)
    assert [s.session_id for s in rest.items] == ["s0"] and rest.next_page_token == ""
    mine = await manager.list_sessions("player_id=ann AND state=active", 0, "")
    assert [s.session_id for s in mine.items] == ["s1"]
    with pytest.raises(InvalidInput, match="different list or filter"):
        await manager.list_sessions('game_id="h"', 2, page.next_page_token)
    for bad in ("colour=red", "state=SLEEPING", "game_id=", "game_id=a OR game_id=b"):
        with pytest.raises(InvalidInput, match="filter"):
            await manager.list_sessions(bad, 0, "")


async def test_unknown_ids_are_not_found(manager: SessionManager) -> None:
    for call in (
        manager.get_session("nope"),
        manager.submit_choice("nope", "p1", "x"),
        manager.update_session_state("nope", {}, None),
        manager.delete_session("nope", ""),
        manager.list_turns("nope", 0, ""),
    ):
        with pytest.raises(SessionNotFound, match="'nope' does not exist"):
            await call


async def test_idle_sessions_expire_then_are_freed(
    manager: SessionManager, clock: FakeClock, store: MemoryStore
) -> None:
    await manager.create_session(SessionSpec(idle_ttl_seconds=600), "idle", "")
    await manager.create_session(SessionSpec(idle_ttl_seconds=600), "busy", "")
    clock.advance(500)
    await manager.update_session_state("busy", {"tick": 1}, None)
    clock.advance(101)
    assert await manager.janitor.run_once() == (1, 0)
    assert (await manager.get_session("idle")).state is SessionState.EXPIRED
    assert (await manager.get_session("busy")).state is SessionState.ACTIVE
    clock.advance(manager.config.expired_retention)
    assert await manager.janitor.run_once() == (1, 1)  # busy expires, idle is freed
    with pytest.raises(SessionNotFound):
        await manager.get_session("idle")


async def test_an_expired_session_refuses_changes_until_resumed(manager: SessionManager, clock: FakeClock) -> None:
    await manager.create_session(SessionSpec(idle_ttl_seconds=600), "s1", "")
    clock.advance(601)
    assert await manager.janitor.run_once() == (1, 0)
    with pytest.raises(WrongState, match="EXPIRED"):
        await manager.update_session_state("s1", {"a": 1}, None)
    revived = await manager.change_state("s1", "resume", "")
    assert revived.state is SessionState.ACTIVE
    assert (await manager.update_session_state("s1", {"a": 1}, None)).session_state == {"a": 1}
