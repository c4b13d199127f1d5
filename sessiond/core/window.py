"""Choice-window rules: submitting a choice, closing the window, resolving the turn.
The rules are factories of Changes; close_window and resolve are their shared steps."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

from sessiond.core.errors import InvalidInput, NotATie, WrongTurn
from sessiond.core.events import ChoiceReceived, EventPayload, PlayerJoined, TurnResolved, TurnUpdated, WindowOpened
from sessiond.core.guards import add_player, require_state
from sessiond.core.limits import Limits, check_text
from sessiond.core.models import (
    UNCHANGED,
    Change,
    ChoiceEntry,
    CloseReason,
    Mutation,
    Session,
    SessionState,
    TieBreak,
    Tier,
    Turn,
    Window,
)
from sessiond.core.tiers import TierRules, tier_of


@dataclass(frozen=True, slots=True)
class ChoiceReceipt:
    turn_number: int
    opened_window: bool
    replaced: bool
    deadline: float
    time_remaining: float
    choice_count: int
    resolved_turn: Turn | None


def submit_choice(
    player_id: str, choice: str, limits: Limits, tiers: TierRules, turn_number: int | None = None
) -> Change[ChoiceReceipt]:
    """Record ``player_id``'s choice, opening the window if it is the turn's first;
    with ``turn_number``, only if the session is still on that turn.

    Checks come first so that a refused choice changes nothing.
    """

    def change(s: Session, _turn: Turn | None, now: float) -> tuple[Mutation, ChoiceReceipt]:
        require_state(s, SessionState.ACTIVE, "submit a choice")
        if turn_number is not None and turn_number != s.turn_number:
            raise WrongTurn(s.session_id, turn_number, s.turn_number)
        check_text("choice", choice, limits.max_choice_chars, required=True)
        if s.options and choice not in s.options:
            raise InvalidInput("choice", f"{choice!r} is not one of the options of turn {s.turn_number}: {s.options}")
        drafts: list[EventPayload] = []
        player = s.roster.get(player_id)
        if player is None:
            player = add_player(s, player_id, "", now)
            drafts.append(PlayerJoined(player))
        player.last_action_time = now
        player.last_action_turn = s.turn_number

        opened = s.window is None
        if s.window is None:
            w = s.window = Window(s.turn_number, now, now + s.settings.window_seconds, player_id)
            drafts.append(WindowOpened(w.turn_number, w.open_time, w.deadline, w.opened_by, tuple(s.options)))
        window = s.window
        previous = window.choices.get(player_id)
        window.choices[player_id] = ChoiceEntry(player_id, choice, now, window.next_seq)
        window.next_seq += 1
        drafts.append(ChoiceReceived(window.turn_number, player_id, len(window.choices), previous is not None))

        resolved = None
        if s.settings.early_close and everyone_chose(s, now, tiers):
            close, resolved = close_window(s, now, CloseReason.ALL_CHOSEN)
            drafts.extend(close.events)
        receipt = ChoiceReceipt(
            turn_number=window.turn_number,
            opened_window=opened,
            replaced=previous is not None,
            deadline=window.deadline,
            time_remaining=0.0 if resolved else max(0.0, window.deadline - now),
            choice_count=len(window.choices),
            resolved_turn=resolved,
        )
        return Mutation(events=tuple(drafts), new_turn=resolved), receipt

    return change


def everyone_chose(s: Session, now: float, tiers: TierRules) -> bool:
    """True when every rostered player who is not DORMANT has a choice in the window."""
    assert s.window is not None
    chosen = s.window.choices
    return all(
        pid in chosen
        for pid, player in s.roster.items()
        if tier_of(player, s.turn_number, now, tiers) is not Tier.DORMANT
    )


def close_if_due(turn_number: int) -> Change[Turn | None]:
    """The guarded close: only if the window of ``turn_number`` is still open and due.

    Whoever runs it first resolves the turn; any later run finds no such window and
    changes nothing, which is what makes closing exactly-once across replicas.
    """

    def change(s: Session, _turn: Turn | None, now: float) -> tuple[Mutation, Turn | None]:
        window = s.window
        if window is None or window.turn_number != turn_number or window.deadline > now:
            return UNCHANGED, None
        mutation, turn = close_window(s, now, CloseReason.DEADLINE)
        return mutation, turn

    return change


def close_window(s: Session, now: float, reason: CloseReason) -> tuple[Mutation, Turn]:
    """Resolve the open window into a turn record and move to the next turn."""
    window = s.window
    assert window is not None, "close_window needs an open window"
    turn = resolve(s, window, now, reason)
    for pid, player in s.roster.items():
        if pid in window.choices:
            player.consecutive_skips = 0
            player.turns_played += 1
        else:
            player.consecutive_skips += 1
    s.window = None
    s.turn_number += 1
    return Mutation(events=(TurnResolved(turn),), new_turn=turn, activity=False), turn


def resolve(s: Session, window: Window, now: float, reason: CloseReason) -> Turn:
    """Tally the final choices; the winner is the plurality, ties broken by the session's policy."""
    first_seq: dict[str, int] = {}
    votes: dict[str, int] = {}
    for entry in window.choices.values():
        votes[entry.choice] = votes.get(entry.choice, 0) + 1
        first_seq[entry.choice] = min(first_seq.get(entry.choice, entry.seq), entry.seq)
    tally = sorted(votes.items(), key=lambda kv: (-kv[1], first_seq[kv[0]]))
    top = [option for option, n in tally if n == tally[0][1]] if tally else []
    policy = s.settings.tie_break
    seed = 0
    winner = top[0] if top else ""
    if len(top) > 1:
        if policy is TieBreak.SEEDED_RANDOM:
            seed = turn_seed(s.settings.tie_break_seed, window.turn_number)
            winner = random.Random(seed).choice(sorted(top))
        elif policy is TieBreak.NARRATOR:
            winner = ""
    return Turn(
        session_id=s.session_id,
        turn_number=window.turn_number,
        options=list(s.options),
        choices=list(window.choices.values()),  # in the order the players first chose
        tally=tally,
        winner=winner,
        tied=len(top) > 1,
        tie_break=policy,
        tie_break_seed=seed,
        close_reason=reason,
        open_time=window.open_time,
        resolve_time=now,
    )


def turn_seed(session_seed: int, turn_number: int) -> int:
    """The same seed on every replica and every replay: a hash, not the process's RNG."""
    return zlib.crc32(f"{session_seed}:{turn_number}".encode())


def set_turn_summary(summary: str, winner: str, limits: Limits) -> Change[Turn]:
    """Attach the narrative summary (cut to the limit) and, for a NARRATOR tie, the winner."""

    def change(_s: Session, turn: Turn | None, _now: float) -> tuple[Mutation, Turn]:
        assert turn is not None, "the store hands over the turn that was asked for"
        if winner:
            undecided = turn.tied and turn.tie_break is TieBreak.NARRATOR and not turn.winner
            if not undecided:
                raise NotATie(
                    f"turn {turn.turn_number} is not an undecided NARRATOR tie; its winner is {turn.winner!r}"
                )
            tied = [option for option, n in turn.tally if n == turn.tally[0][1]]
            if winner not in tied:
                raise InvalidInput("winner", f"{winner!r} is not one of the tied options {tied}")
            turn.winner = winner
        turn.summary = summary[: limits.summary_chars]
        return Mutation(events=(TurnUpdated(turn),), updated_turn=turn), turn

    return change
