"""Constructors of the stored events, so every producer writes the same shape."""

from __future__ import annotations

from sessiond.core import codec
from sessiond.core.models import EventDraft, EventKind, PlayerEntry, SessionStatus, Turn, Window


def window_opened(window: Window, options: list[str]) -> EventDraft:
    return EventDraft(
        EventKind.WINDOW_OPENED,
        {
            "turn_number": window.turn_number,
            "open_time": window.open_time,
            "deadline": window.deadline,
            "opened_by": window.opened_by,
            "options": list(options),
        },
    )


def choice_received(turn_number: int, player_id: str, choice_count: int, replaced: bool) -> EventDraft:
    return EventDraft(
        EventKind.CHOICE_RECEIVED,
        {"turn_number": turn_number, "player_id": player_id, "choice_count": choice_count, "replaced": replaced},
    )


def turn_resolved(turn: Turn) -> EventDraft:
    return EventDraft(EventKind.TURN_RESOLVED, {"turn": codec.turn_to_dict(turn)})


def turn_updated(turn: Turn) -> EventDraft:
    return EventDraft(EventKind.TURN_UPDATED, {"turn": codec.turn_to_dict(turn)})


def player_joined(player: PlayerEntry) -> EventDraft:
    return EventDraft(EventKind.PLAYER_JOINED, {"player": codec.player_to_dict(player)})


def player_left(player_id: str) -> EventDraft:
    return EventDraft(EventKind.PLAYER_LEFT, {"player_id": player_id})


def state_changed(state_version: int, patch: dict[str, object], reset: bool) -> EventDraft:
    return EventDraft(EventKind.STATE_CHANGED, {"state_version": state_version, "patch": patch, "reset": reset})


def status_changed(old: SessionStatus, new: SessionStatus) -> EventDraft:
    return EventDraft(EventKind.STATUS_CHANGED, {"old": old.value, "new": new.value})


def options_changed(turn_number: int, options: list[str]) -> EventDraft:
    return EventDraft(EventKind.OPTIONS_CHANGED, {"turn_number": turn_number, "options": list(options)})


def game_master_changed(old: str, new: str) -> EventDraft:
    return EventDraft(EventKind.GAME_MASTER_CHANGED, {"old": old, "new": new})
