"""Domain records to and from plain dicts (JSON-ready), for snapshots, Redis and events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any, assert_never

from sessiond.core.events import (
    ChoiceReceived,
    EventPayload,
    GameMasterChanged,
    KnownEvent,
    OptionsChanged,
    PlayerJoined,
    PlayerLeft,
    PresenceChanged,
    StateChanged,
    StatusChanged,
    TurnResolved,
    TurnUpdated,
    UnknownEvent,
    WindowOpened,
)
from sessiond.core.models import (
    ChoiceEntry,
    CloseReason,
    ContentSettings,
    EarlyCloseScope,
    Event,
    Persistence,
    PlayerEntry,
    PlayerProfile,
    Presence,
    Session,
    SessionSettings,
    SessionState,
    TieBreak,
    Turn,
    Window,
    stored_names,
)
from sessiond.core.requests import memos_from_dict

_STORED_KEY = {name: key for name, key in stored_names(Session) if key != name}
_FIELD_OF_KEY = {key: name for name, key in _STORED_KEY.items()}


def session_to_dict(s: Session) -> dict[str, Any]:
    """The session under its stored keys (``models.STORED_AS``)."""
    return {_STORED_KEY.get(k, k): v for k, v in asdict(s).items()}


_SESSION_KEYS = stored_names(Session)  # (field, stored key)


def session_record(s: Session) -> dict[str, Any]:
    """``session_to_dict`` without its deep copy: the top level under the stored keys, the
    nested records left as dataclasses, for an encoder that writes a dataclass as its
    fields (core/compact_json). Only Session's own fields have stored keys of their own."""
    return {key: getattr(s, name) for name, key in _SESSION_KEYS}


def session_from_dict(d: dict[str, Any], *, legacy: Persistence) -> Session:
    """``legacy``: the persistence of a record written before sessions had one (the
    store's default: DURABLE where a graph keeps them, EPHEMERAL elsewhere)."""
    d = {_FIELD_OF_KEY.get(k, k): v for k, v in d.items()}
    settings = dict(d.pop("settings"))
    settings["tie_break"] = TieBreak(settings["tie_break"])
    settings["persistence"] = Persistence(settings.get("persistence", legacy))
    if "early_close_scope" in settings:
        settings["early_close_scope"] = EarlyCloseScope(settings["early_close_scope"])
    window = d.pop("window")
    if window is not None:
        window = dict(window)
        window["choices"] = {pid: ChoiceEntry(**c) for pid, c in window["choices"].items()}
        window = Window(**window)
    return Session(
        **{k: v for k, v in d.items() if k not in ("state", "roster", "departed", "content", "requests")},
        state=SessionState(d["state"]),
        settings=SessionSettings(**settings),
        window=window,
        roster={pid: PlayerEntry(**p) for pid, p in d["roster"].items()},
        departed={pid: PlayerEntry(**p) for pid, p in d.get("departed", {}).items()},
        content=ContentSettings(**d.get("content", {})),
        requests=memos_from_dict(d.get("requests")),
    )


def profile_to_dict(p: PlayerProfile) -> dict[str, Any]:
    return asdict(p)


def profile_from_dict(d: dict[str, Any]) -> PlayerProfile:
    return PlayerProfile(
        **{k: v for k, v in d.items() if k not in ("content", "requests")},
        content=ContentSettings(**d["content"]),
        requests=memos_from_dict(d.get("requests")),
    )


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
    return {"event_id": e.event_id, "session_id": e.session_id, "time": e.time, "kind": e.kind, "data": e.data}


def event_from_dict(d: dict[str, Any]) -> Event:
    return Event(d["event_id"], d["session_id"], d["time"], event_payload(d["kind"], d["data"]))


PRESENCE_FIELDS = ("online", "last_seen_time")  # of PlayerEntry, not in a player_joined event

# Events are stored as (kind, data): the payload's ``kind`` and its fields as JSON.
# The stored form never changes shape, so logs written by any version read back.


def event_data(p: EventPayload) -> dict[str, Any]:
    """A payload's stored ``data``."""
    match p:
        case UnknownEvent(data=data):
            return data
        case TurnResolved(turn=turn) | TurnUpdated(turn=turn):
            return {"turn": turn_to_dict(turn)}
        case PlayerJoined(player=player):
            # As first stored: presence is settled later, by its own events.
            joined = player_to_dict(player)
            for name in PRESENCE_FIELDS:
                joined.pop(name)
            return {"player": joined}
        case WindowOpened() | OptionsChanged():
            return {**_fields(p), "options": list(p.options)}
        case (
            ChoiceReceived() | PlayerLeft() | StateChanged() | StatusChanged() | GameMasterChanged()
            | PresenceChanged()
        ):
            return _fields(p)
        case _:
            assert_never(p)


def event_payload(kind: str, data: dict[str, Any]) -> EventPayload:
    """The payload stored as (``kind``, ``data``); UnknownEvent for a kind not known here."""
    decode = _DECODERS.get(kind)
    return UnknownEvent(kind, data) if decode is None else decode(data)


def _fields(p: KnownEvent) -> dict[str, Any]:
    return {f.name: getattr(p, f.name) for f in fields(p)}


_DECODERS: dict[str, Callable[[dict[str, Any]], KnownEvent]] = {
    WindowOpened.kind: lambda d: WindowOpened(
        d["turn_number"], d["open_time"], d["deadline"], d["opened_by"], tuple(d["options"])
    ),
    ChoiceReceived.kind: lambda d: ChoiceReceived(d["turn_number"], d["player_id"], d["choice_count"], d["replaced"]),
    TurnResolved.kind: lambda d: TurnResolved(turn_from_dict(d["turn"])),
    TurnUpdated.kind: lambda d: TurnUpdated(turn_from_dict(d["turn"])),
    PlayerJoined.kind: lambda d: PlayerJoined(PlayerEntry(**d["player"])),
    PlayerLeft.kind: lambda d: PlayerLeft(d["player_id"]),
    StateChanged.kind: lambda d: StateChanged(d["state_version"], d["patch"], d["reset"]),
    StatusChanged.kind: lambda d: StatusChanged(SessionState(d["old"]), SessionState(d["new"])),
    OptionsChanged.kind: lambda d: OptionsChanged(d["turn_number"], tuple(d["options"])),
    GameMasterChanged.kind: lambda d: GameMasterChanged(d["old"], d["new"]),
    PresenceChanged.kind: lambda d: PresenceChanged(d["player_id"], Presence(d["old"]), Presence(d["new"])),
}
