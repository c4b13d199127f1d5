"""Plain domain records. No I/O, no proto: times are float seconds since the epoch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from sessiond.core.requests import RequestMemo

if TYPE_CHECKING:
    from sessiond.core.events import EventPayload


class SessionState(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ENDED = "ENDED"
    EXPIRED = "EXPIRED"

    @property
    def final(self) -> bool:
        return self in (SessionState.ENDED, SessionState.EXPIRED)


class TieBreak(StrEnum):
    FIRST_CHOSEN = "FIRST_CHOSEN"
    SEEDED_RANDOM = "SEEDED_RANDOM"
    NARRATOR = "NARRATOR"


class Persistence(StrEnum):
    """How a session is kept: DURABLE ones are projected into the graph (redis+neo4j only),
    EPHEMERAL ones live in the hot store alone and are gone when their TTL passes."""

    DURABLE = "DURABLE"
    EPHEMERAL = "EPHEMERAL"


class Tier(StrEnum):
    ACTIVE = "ACTIVE"
    IDLE = "IDLE"
    DORMANT = "DORMANT"


class CloseReason(StrEnum):
    DEADLINE = "DEADLINE"
    ALL_CHOSEN = "ALL_CHOSEN"
    SESSION_ENDED = "SESSION_ENDED"


@dataclass(slots=True)
class SessionSettings:
    window_seconds: float
    early_close: bool
    tie_break: TieBreak
    tie_break_seed: int
    idle_ttl_seconds: float
    max_players: int
    persistence: Persistence  # fixed at creation


@dataclass(slots=True)
class PlayerEntry:
    player_id: str
    display_name: str
    join_time: float
    last_action_time: float
    last_action_turn: int
    consecutive_skips: int = 0
    turns_played: int = 0
    leave_time: float = 0.0  # set once the player left (Session.departed)


@dataclass(slots=True)
class ContentSettings:
    """Settings a player carries into the sessions made for them."""

    intensity: str = ""  # "", LOW, MEDIUM, HIGH
    pacing: str = ""  # "", RELAXED, STEADY, BRISK
    topics_to_avoid: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class PlayerProfile:
    player_id: str
    display_name: str = ""
    preferences: dict[str, str] = field(default_factory=dict)
    hide_from_recommendations: bool = False
    hide_from_departed_rosters: bool = False
    content: ContentSettings = field(default_factory=ContentSettings)
    create_time: float = 0.0
    update_time: float = 0.0
    revision: int = 0
    # Recent request ids and their first answers (sessiond.core.requests).
    requests: dict[str, RequestMemo] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f"r{self.revision}"


@dataclass(slots=True)
class ChoiceEntry:
    player_id: str
    choice: str
    time: float
    seq: int  # order of the choice within its window; breaks equal-time ties


@dataclass(slots=True)
class Window:
    turn_number: int
    open_time: float
    deadline: float
    opened_by: str
    # Final choice per player, in the order the players first chose.
    choices: dict[str, ChoiceEntry] = field(default_factory=dict)
    next_seq: int = 1


@dataclass(slots=True)
class Turn:
    session_id: str
    turn_number: int
    options: list[str]
    choices: list[ChoiceEntry]
    tally: list[tuple[str, int]]
    winner: str
    tied: bool
    tie_break: TieBreak
    tie_break_seed: int
    close_reason: CloseReason
    open_time: float
    resolve_time: float
    summary: str = ""


STORED_AS = "stored_as"
"""Field metadata: the key a field is stored under when it is not the field's name. The
domain took the proto's names (Session.state, Session.session_state); snapshots, Redis
records, Neo4j properties and page tokens keep the keys they were written with."""


def stored_names(record_type: type) -> tuple[tuple[str, str], ...]:
    """(field name, stored key) of each field of the dataclass ``record_type``, in order."""
    return tuple((f.name, f.metadata.get(STORED_AS, f.name)) for f in fields(record_type))


LINKED_IDS = ("game_id", "channel_id", "character_id", "world_id")
"""The ids that link a session to its game, channel, character and world: what it is
created with and what ListSessions filters on."""


@dataclass(slots=True)
class Session:
    session_id: str
    state: SessionState = field(metadata={STORED_AS: "status"})
    settings: SessionSettings
    create_time: float
    update_time: float
    last_activity_time: float
    game_id: str = ""
    channel_id: str = ""
    character_id: str = ""
    world_id: str = ""
    title: str = ""
    game_name: str = ""
    title_screen_url: str = ""
    # Treated as immutable: changes build a new dict (see mergepatch).
    session_state: dict[str, Any] = field(default_factory=dict, metadata={STORED_AS: "state"})
    state_version: int = 0
    turn_number: int = 1
    options: list[str] = field(default_factory=list)
    window: Window | None = None
    roster: dict[str, PlayerEntry] = field(default_factory=dict)
    # Players who left, kept for "departed" listings (privacy permitting).
    departed: dict[str, PlayerEntry] = field(default_factory=dict)
    game_master: str = ""
    owner_player_id: str = ""
    content: ContentSettings = field(default_factory=ContentSettings)
    revision: int = 1
    last_event_id: int = 0
    # Recent request ids and their first answers (sessiond.core.requests), committed
    # with the changes they record.
    requests: dict[str, RequestMemo] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f"r{self.revision}"

    @property
    def expire_time(self) -> float:
        return self.last_activity_time + self.settings.idle_ttl_seconds

    def clone(self) -> Session:
        """A copy whose roster, window and options can be changed without touching this one."""
        window = None
        if self.window is not None:
            window = replace(
                self.window, choices={k: replace(v) for k, v in self.window.choices.items()}
            )
        return replace(
            self,
            settings=replace(self.settings),
            options=list(self.options),
            window=window,
            roster={k: replace(v) for k, v in self.roster.items()},
            departed={k: replace(v) for k, v in self.departed.items()},
            requests=dict(self.requests),
            content=replace(
                self.content,
                topics_to_avoid=list(self.content.topics_to_avoid),
                extensions=dict(self.content.extensions),
            ),
        )


@dataclass(frozen=True, slots=True)
class GraphProgress:
    """How far a DURABLE session has reached the graph: the session as of event
    ``projected_event_id`` is there; ``pending_facts`` of its facts wait in the outbox."""

    projected_event_id: int
    pending_facts: int


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event: a rule's payload (sessiond.core.events) as the store committed it."""

    event_id: int
    session_id: str
    time: float
    payload: EventPayload

    @property
    def kind(self) -> str:
        return self.payload.kind

    @property
    def data(self) -> dict[str, Any]:
        """The payload in its stored form (what sessiond.core.codec writes)."""
        from sessiond.core.codec import event_data  # the codec depends on this module

        return event_data(self.payload)


@dataclass(frozen=True, slots=True)
class Mutation:
    """What a rule did to a session inside one atomic store step.

    ``changed`` False means nothing is written (a guard did not hold).
    ``activity`` False for changes no caller made (a window closing at its deadline,
    expiry), so they do not extend the idle TTL.
    """

    changed: bool = True
    events: tuple[EventPayload, ...] = ()
    new_turn: Turn | None = None
    updated_turn: Turn | None = None
    activity: bool = True


UNCHANGED = Mutation(changed=False)

T = TypeVar("T")

Change = Callable[[Session, Turn | None, float], tuple[Mutation, T]]
"""A rule: edits ``session`` (and ``turn`` when one was asked for) in place at store
time ``now`` and says what it did and what it returns; raises to refuse."""
