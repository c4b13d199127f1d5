"""Domain records to and from plain dicts (JSON-ready), for snapshots, Redis and events."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sessiond.core.models import (
    ChoiceEntry,
    CloseReason,
    ContentSettings,
    Event,
    PlayerEntry,
    PlayerProfile,
    Session,
    SessionSettings,
    SessionStatus,
    TieBreak,
    Turn,
    Window,
)


def session_to_dict(s: Session) -> dict[str, Any]:
    return asdict(s)


def session_from_dict(d: dict[str, Any]) -> Session:
    d = dict(d)
    settings = dict(d.pop("settings"))
    settings["tie_break"] = TieBreak(settings["tie_break"])
    window = d.pop("window")
    if window is not None:
        window = dict(window)
        window["choices"] = {pid: ChoiceEntry(**c) for pid, c in window["choices"].items()}
        window = Window(**window)
    return Session(
        **{k: v for k, v in d.items() if k not in ("status", "roster", "departed", "content")},
        status=SessionStatus(d["status"]),
        settings=SessionSettings(**settings),
        window=window,
        roster={pid: PlayerEntry(**p) for pid, p in d["roster"].items()},
        departed={pid: PlayerEntry(**p) for pid, p in d.get("departed", {}).items()},
        content=ContentSettings(**d.get("content", {})),
    )


def profile_to_dict(p: PlayerProfile) -> dict[str, Any]:
    return asdict(p)


def profile_from_dict(d: dict[str, Any]) -> PlayerProfile:
    d = dict(d)
    return PlayerProfile(**{k: v for k, v in d.items() if k != "content"}, content=ContentSettings(**d["content"]))


def player_to_dict(p: PlayerEntry) -> dict[str, Any]:
    return asdict(p)


def turn_to_dict(t: Turn) -> dict[str, Any]:
    return asdict(t)


def turn_from_dict(d: dict[str, Any]) -> Turn:
    d = dict(d)
    return Turn(
        **{k: v for k, v in d.items() if k not in ("choices", "tally", "tie_break", "close_reason")},
        choices=[ChoiceEntry(**c) for c in d["choices"]],
        tally=[(option, votes) for option, votes in d["tally"]],
        tie_break=TieBreak(d["tie_break"]),
        close_reason=CloseReason(d["close_reason"]),
    )


def event_to_dict(e: Event) -> dict[str, Any]:
    return asdict(e)


def event_from_dict(d: dict[str, Any]) -> Event:
    return Event(**d)
