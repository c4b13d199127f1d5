"""The event schema: one frozen dataclass per kind of stored session event.

Rules return these in a Mutation; a store stamps each with an id and a time (an
Event). Each kind's ``kind`` is its stored name and its fields are its stored data,
encoded only at the store edge (sessiond.core.codec). A kind this version does not
know reads back as UnknownEvent, kept as stored and never sent to watchers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeAlias

from sessiond.core.models import PlayerEntry, SessionState, Turn


@dataclass(frozen=True, slots=True)
class WindowOpened:
    kind: ClassVar[str] = "window_opened"
    turn_number: int
    open_time: float
    deadline: float
    opened_by: str
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChoiceReceived:
    kind: ClassVar[str] = "choice_received"
    turn_number: int
    player_id: str
    choice_count: int
    replaced: bool


@dataclass(frozen=True, slots=True)
class TurnResolved:
    kind: ClassVar[str] = "turn_resolved"
    turn: Turn

    def __post_init__(self) -> None:
        object.__setattr__(self, "turn", _frozen_turn(self.turn))


@dataclass(frozen=True, slots=True)
class TurnUpdated:
    kind: ClassVar[str] = "turn_updated"
    turn: Turn

    def __post_init__(self) -> None:
        object.__setattr__(self, "turn", _frozen_turn(self.turn))


@dataclass(frozen=True, slots=True)
class PlayerJoined:
    kind: ClassVar[str] = "player_joined"
    player: PlayerEntry

    def __post_init__(self) -> None:
        # The player as they joined: the rule goes on to edit the roster entry.
        object.__setattr__(self, "player", replace(self.player))


@dataclass(frozen=True, slots=True)
class PlayerLeft:
    kind: ClassVar[str] = "player_left"
    player_id: str


@dataclass(frozen=True, slots=True)
class StateChanged:
    kind: ClassVar[str] = "state_changed"
    state_version: int
    patch: dict[str, Any]  # the merge patch, or the whole new state when ``reset``
    reset: bool


@dataclass(frozen=True, slots=True)
class StatusChanged:
    kind: ClassVar[str] = "status_changed"
    old: SessionState
    new: SessionState


@dataclass(frozen=True, slots=True)
class OptionsChanged:
    kind: ClassVar[str] = "options_changed"
    turn_number: int
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GameMasterChanged:
    kind: ClassVar[str] = "game_master_changed"
    old: str  # player id, "" for the narrator
    new: str


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A stored event of a kind this version does not know (a newer one wrote it)."""

    kind: str
    data: dict[str, Any]


KnownEvent: TypeAlias = (
    WindowOpened
    | ChoiceReceived
    | TurnResolved
    | TurnUpdated
    | PlayerJoined
    | PlayerLeft
    | StateChanged
    | StatusChanged
    | OptionsChanged
    | GameMasterChanged
)
EventPayload: TypeAlias = KnownEvent | UnknownEvent


def _frozen_turn(turn: Turn) -> Turn:
    """The turn as it is now; later edits of the caller's record do not reach the event."""
    return replace(turn, options=list(turn.options), choices=list(turn.choices), tally=list(turn.tally))
