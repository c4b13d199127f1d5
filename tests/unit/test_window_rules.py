"""Choice windows, turns, tiers and tie-breaks, driven through the manager with a fake clock."""

from __future__ import annotations

import pytest

from sessiond.core.errors import InvalidInput, WrongState
from sessiond.core.lifecycle import SessionSpec
from sessiond.core.models import CloseReason, SessionState, TieBreak, Tier
from sessiond.core.window import turn_seed
from sessiond.manager.sessions import SessionManager
from tests.support import FakeClock


async def new(manager: SessionManager, sid: str = "s1", **spec: object) -> None:
    await manager.create_session(SessionSpec(**spec), sid, "")  # type: ignore[arg-type]


async def make_cat_dormant(manager: SessionManager, clock: FakeClock, choice: str = "north") -> None:
    """Ann and bob play six turns (closed at their deadlines) while cat does nothing,
    then an hour passes: cat is more than 5 turns and 1 hour behind."""
    for pid in ("ann", "bob", "cat"):
        await manager.join("s1", pid, pid.title())
    for _ in range(6):
        await manager.submit_choice("s1", "ann", choice)
        await manager.submit_choice("s1", "bob", choice)
        clock.advance(10)
        assert await manager.windows.sweep() == 1
    clock.advance(3601)


async def test_three_player_countdown_with_a_replaced_choice_and_a_dormant_player(
    manager: SessionManager, clock: FakeClock
) -> None:
    await new(manager, options=("north", "south"), early_close=False)
    await make_cat_dormant(manager, clock)
    first = await manager.submit_choice("s1", "ann", "north")
    assert first.opened_window and first.turn_number == 7 and first.time_remaining == 10.0
    assert first.deadline == clock.now + 10
    clock.advance(2)
    second = await manager.submit_choice("s1", "bob", "north")
    assert not second.opened_window and second.choice_count == 2 and second.resolved_turn is None
    clock.advance(3)
    replaced = await manager.submit_choice("s1", "ann", "south")
    assert replaced.replaced and replaced.choice_count == 2 and replaced.time_remaining == 5.0
    tiers = {v.player.player_id: v.tier for v in (await manager.list_players("s1", 0, "")).items}
    assert tiers == {"ann": Tier.ACTIVE, "bob": Tier.ACTIVE, "cat": Tier.DORMANT}

    clock.advance(4.9)
    assert await manager.windows.sweep() == 0  # not due yet
    clock.advance(0.2)
    assert await manager.windows.sweep() == 1
    turn = (await manager.list_turns("s1", 0, "")).items[0]
    assert turn.turn_number == 7 and turn.close_reason is CloseReason.DEADLINE
    assert [(c.player_id, c.choice) for c in turn.choices] == [("ann", "south"), ("bob", "north")]
    # bob's vote (seq 2) is older than ann's replaced one (seq 3): north ranks first.
    assert turn.tally == [("north", 1), ("south", 1)] and turn.tied and turn.winner == "north"
    session = await manager.get_session("s1")
    assert session.turn_number == 8 and session.window is None
    skips = {p.player_id: p.consecutive_skips for p in session.roster.values()}
    assert skips == {"ann": 0, "bob": 0, "cat": 7}


async def test_the_dormant_player_does_not_hold_the_window_open(manager: SessionManager, clock: FakeClock) -> None:
    await new(manager)
    await make_cat_dormant(manager, clock, "go")
    await manager.submit_choice("s1", "ann", "go")
    receipt = await manager.submit_choice("s1", "bob", "stay")
    assert receipt.resolved_turn is not None
    assert receipt.resolved_turn.close_reason is CloseReason.ALL_CHOSEN
    assert (await manager.get_session("s1")).turn_number == 8


async def test_early_close_waits_for_idle_players_too(manager: SessionManager, clock: FakeClock) -> None:
    await new(manager)
    await manager.join("s1", "ann", "")
    await manager.join("s1", "bob", "")
    clock.advance(30 * 60)  # IDLE, not DORMANT
    receipt = await manager.submit_choice("s1", "ann", "go")
    assert receipt.resolved_turn is None


async def test_early_close_can_be_switched_off(manager: SessionManager, clock: FakeClock) -> None:
    await new(manager, early_close=False)
    receipt = await manager.submit_choice("s1", "solo", "go")
    assert receipt.resolved_turn is None and receipt.opened_window
    clock.advance(10)
    assert await manager.windows.sweep() == 1
    assert (await manager.get_session("s1")).turn_number == 2


async def test_skips_count_consecutive_missed_turns_and_reset_on_a_choice(
    manager: SessionManager, clock: FakeClock
) -> None:
    await new(manager, early_close=False, window_seconds=5.0)
    await manager.join("s1", "lazy", "")
    for _ in range(3):
        await manager.submit_choice("s1", "keen", "a")
        clock.advance(5)
        await manager.windows.sweep()
    session = await manager.get_session("s1")
    assert session.roster["lazy"].consecutive_skips == 3 and session.roster["keen"].consecutive_skips == 0
    await manager.submit_choice("s1", "lazy", "b")
    clock.advance(5)
    await manager.windows.sweep()
    assert (await manager.get_session("s1")).roster["lazy"].consecutive_skips == 0


async def test_tiers_follow_turns_and_time(manager: SessionManager, clock: FakeClock) -> None:
    await new(manager, early_close=False, window_seconds=1.0)
    await manager.join("s1", "p", "")

    async def tier() -> Tier:
        return (await manager.list_players("s1", 0, "")).items[0].tier

    async def pass_turn() -> None:
        await manager.submit_choice("s1", "other", "x")
        clock.advance(1)
        await manager.windows.sweep()

    clock.advance(16 * 60)  # time alone no longer keeps p ACTIVE
    for _ in range(2):
        await pass_turn()
    assert await tier() is Tier.ACTIVE  # acted within 2 turns
    await pass_turn()
    assert await tier() is Tier.IDLE
    for _ in range(2):
        await pass_turn()
    assert await tier() is Tier.IDLE  # within 5 turns
    await pass_turn()
    assert await tier() is Tier.IDLE  # 6 turns, but within the hour
    clock.advance(45 * 60)
    assert await tier() is Tier.DORMANT


async def _tie(manager: SessionManager, clock: FakeClock, tie_break: TieBreak, seed: int | None = None) -> object:
    await new(manager, options=("a", "b", "c"), tie_break=tie_break, tie_break_seed=seed)
    await manager.join("s1", "p3", "")
    await manager.submit_choice("s1", "p1", "b")
    await manager.submit_choice("s1", "p2", "a")
    clock.advance(10)
    await manager.windows.sweep()
    return (await manager.list_turns("s1", 0, "")).items[0]


async def test_first_chosen_breaks_a_tie_by_the_earliest_vote(manager: SessionManager, clock: FakeClock) -> None:
    turn = await _tie(manager, clock, TieBreak.FIRST_CHOSEN)
    assert turn.tied and turn.winner == "b" and turn.tally == [("b", 1), ("a", 1)]  # type: ignore[attr-defined]


async def test_seeded_random_tie_break_is_reproducible_and_records_its_seed(
    manager: SessionManager, clock: FakeClock
) -> None:
    turn = await _tie(manager, clock, TieBreak.SEEDED_RANDOM, seed=42)
    import random

    assert turn.tie_break_seed == turn_seed(42, 1)  # type: ignore[attr-defined]
    assert turn.winner == random.Random(turn_seed(42, 1)).choice(["a", "b"])  # type: ignore[attr-defined]


async def test_narrator_tie_waits_for_the_narrator(manager: SessionManager, clock: FakeClock) -> None:
    turn = await _tie(manager, clock, TieBreak.NARRATOR)
    assert turn.tied and turn.winner == ""  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput):
        await manager.set_turn_summary("s1", 1, "?", "c")  # not among the tied
    decided = await manager.set_turn_summary("s1", 1, "They went west.", "a")
    assert decided.winner == "a" and decided.summary == "They went west."
    with pytest.raises(WrongState):
        await manager.set_turn_summary("s1", 1, "again", "b")


async def test_a_clear_plurality_wins_without_a_tie(manager: SessionManager, clock: FakeClock) -> None:
    await new(manager, early_close=False)
    for pid, choice in (("p1", "x"), ("p2", "y"), ("p3", "y")):
        await manager.submit_choice("s1", pid, choice)
    clock.advance(10)
    await manager.windows.sweep()
    turn = (await manager.list_turns("s1", 0, "")).items[0]
    assert turn.winner == "y" and not turn.tied and turn.tally == [("y", 2), ("x", 1)]


async def test_choice_must_be_one_of_the_options_and_a_refusal_changes_nothing(manager: SessionManager) -> None:
    await new(manager, options=("left", "right"))
    before = await manager.get_session("s1")
    with pytest.raises(InvalidInput, match="not one of the options"):
        await manager.submit_choice("s1", "p1", "up")
    with pytest.raises(InvalidInput, match="choice"):
        await manager.submit_choice("s1", "p1", "x" * 257)
    assert await manager.get_session("s1") == before


async def test_free_text_choices_without_options(manager: SessionManager) -> None:
    await new(manager)
    receipt = await manager.submit_choice("s1", "p1", "open the chest carefully")
    assert receipt.resolved_turn is not None and receipt.resolved_turn.winner == "open the chest carefully"


@pytest.mark.parametrize("action", ["pause", "end"])
async def test_choices_on_a_paused_or_ended_session_are_refused(manager: SessionManager, action: str) -> None:
    await new(manager)
    await manager.change_state("s1", action, "")
    before = await manager.get_session("s1")
    with pytest.raises(WrongState, match="not ACTIVE"):
        await manager.submit_choice("s1", "p1", "go")
    assert await manager.get_session("s1") == before


async def test_ending_a_session_resolves_its_open_window(manager: SessionManager) -> None:
    await new(manager, early_close=False)
    await manager.submit_choice("s1", "p1", "go")
    ended = await manager.change_state("s1", "end", "")
    assert ended.state is SessionState.ENDED and ended.window is None
    [turn] = (await manager.list_turns("s1", 0, "")).items
    assert turn.close_reason is CloseReason.SESSION_ENDED and turn.choices[0].choice == "go"


async def test_a_paused_session_keeps_its_window_which_still_closes(manager: SessionManager, clock: FakeClock) -> None:
    await new(manager, early_close=False)
    await manager.submit_choice("s1", "p1", "go")
    await manager.change_state("s1", "pause", "")
    clock.advance(10)
    assert await manager.windows.sweep() == 1
    assert (await manager.get_session("s1")).turn_number == 2


async def test_options_cannot_change_while_the_window_is_open(manager: SessionManager) -> None:
    await new(manager, early_close=False)
    await manager.set_turn_options("s1", ["a", "b"])
    await manager.submit_choice("s1", "p1", "a")
    with pytest.raises(WrongState, match="window is open"):
        await manager.set_turn_options("s1", ["c"])
    with pytest.raises(InvalidInput, match="twice"):
        await manager.set_turn_options("s1", ["c", "c"])


async def test_history_keeps_the_last_50_turns_and_summaries_are_cut(manager: SessionManager) -> None:
    await new(manager)
    for _ in range(53):
        await manager.submit_choice("s1", "solo", "go")
    page = await manager.list_turns("s1", 100, "")
    assert [t.turn_number for t in page.items] == list(range(53, 3, -1)) and page.next_page_token == ""
    # The stop is not silent: turns 1-3 existed and are no longer kept.
    assert (page.oldest, page.total) == (4, 50)
    small = await manager.list_turns("s1", 10, "")
    assert (small.oldest, small.total, len(small.items)) == (4, 50, 10)
    turn = await manager.set_turn_summary("s1", 53, "x" * 900, "")
    assert len(turn.summary) == 500


async def test_the_closer_reports_how_late_each_deadline_close_committed(store: object, clock: FakeClock) -> None:
    from sessiond.manager.manager_config import ManagerConfig

    lags: list[float] = []
    manager = SessionManager(store, ManagerConfig(), wall_clock=clock, on_close_lag=lags.append)  # type: ignore[arg-type]
    await new(manager, early_close=False)
    await manager.submit_choice("s1", "p1", "go")
    clock.advance(10.25)
    await manager.windows.sweep()
    assert lags == [pytest.approx(0.25)]
    await new(manager, "s2")
    await manager.submit_choice("s2", "p1", "go")  # an early close is not a deadline close
    assert lags == [pytest.approx(0.25)]
