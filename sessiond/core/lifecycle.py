"""Session lifecycle, state and roster rules. Each is a Change (or a factory taking the
rule's parameters and returning one) that checks before it changes."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sessiond.core.errors import InvalidInput, NotOnRoster, PlayerNotFound, WindowOpen, WrongLifecycleState
from sessiond.core.events import (
    EventPayload,
    GameMasterChanged,
    OptionsChanged,
    PlayerJoined,
    PlayerLeft,
    StateChanged,
    StatusChanged,
)
from sessiond.core.guards import add_player, check_etag, check_version, require_open
from sessiond.core.limits import Limits, check_id, check_options, check_session_state, check_text
from sessiond.core.mergepatch import merge_patch
from sessiond.core.models import (
    LINKED_IDS,
    UNCHANGED,
    Change,
    CloseReason,
    ContentSettings,
    Mutation,
    Persistence,
    PlayerEntry,
    Session,
    SessionSettings,
    SessionState,
    TieBreak,
    Turn,
)
from sessiond.core.profiles import check_content
from sessiond.core.window import close_window


class LifecycleAction(StrEnum):
    """The lifecycle calls: PauseSession, ResumeSession, EndSession."""

    PAUSE = "pause"
    RESUME = "resume"
    END = "end"


# Which lifecycle call moves which states where.
TRANSITIONS: dict[LifecycleAction, tuple[frozenset[SessionState], SessionState]] = {
    LifecycleAction.PAUSE: (frozenset({SessionState.ACTIVE}), SessionState.PAUSED),
    # An EXPIRED session still held (or restored from the durable graph) can be revived.
    LifecycleAction.RESUME: (frozenset({SessionState.PAUSED, SessionState.EXPIRED}), SessionState.ACTIVE),
    LifecycleAction.END: (frozenset({SessionState.ACTIVE, SessionState.PAUSED}), SessionState.ENDED),
}


@dataclass(frozen=True, slots=True)
class Defaults:
    """Server-wide defaults of per-session settings."""

    window_seconds: float = 10.0
    early_close: bool = True
    idle_ttl_seconds: float = 4 * 3600.0
    max_players: int = 100


def change_state(action: LifecycleAction, etag: str) -> Change[None]:
    """Pause, resume or end. Ending resolves an open window first, so no choice is lost."""
    allowed, target = TRANSITIONS[action]

    def change(s: Session, _turn: Turn | None, now: float) -> tuple[Mutation, None]:
        check_etag(s, etag)
        if s.state not in allowed:
            names = " or ".join(sorted(a.value for a in allowed))
            raise WrongLifecycleState(f"cannot {action} session {s.session_id!r}: it is {s.state.value}, not {names}")
        drafts: list[EventPayload] = []
        new_turn = None
        if target is SessionState.ENDED and s.window is not None:
            closed, new_turn = close_window(s, now, CloseReason.SESSION_ENDED)
            drafts.extend(closed.events)
        drafts.append(StatusChanged(s.state, target))
        s.state = target
        return Mutation(events=tuple(drafts), new_turn=new_turn), None

    return change


def expire(s: Session, _turn: Turn | None, now: float) -> tuple[Mutation, None]:
    """The janitor's step: only a session still idle past its TTL expires."""
    if s.state.final or s.expire_time > now:
        return UNCHANGED, None
    old = s.state
    s.state = SessionState.EXPIRED
    s.window = None
    return Mutation(events=(StatusChanged(old, SessionState.EXPIRED),), activity=False), None


def patch_session_state(patch: dict[str, Any], expected_version: int | None, limits: Limits) -> Change[None]:
    def change(s: Session, _turn: Turn | None, _now: float) -> tuple[Mutation, None]:
        require_open(s, "change the state")
        check_version(s, expected_version)
        s.session_state = check_session_state("patch", merge_patch(s.session_state, patch), limits)
        s.state_version += 1
        return Mutation(events=(StateChanged(s.state_version, patch, reset=False),)), None

    return change


def reset_session_state(
    session_state: dict[str, Any], expected_version: int | None, limits: Limits
) -> Change[None]:
    def change(s: Session, _turn: Turn | None, _now: float) -> tuple[Mutation, None]:
        require_open(s, "reset the state")
        check_version(s, expected_version)
        s.session_state = check_session_state("session_state", session_state, limits)
        s.state_version += 1
        return Mutation(events=(StateChanged(s.state_version, session_state, reset=True),)), None

    return change


def join(player_id: str, display_name: str) -> Change[PlayerEntry]:
    def change(s: Session, _turn: Turn | None, now: float) -> tuple[Mutation, PlayerEntry]:
        require_open(s, "join")
        player = s.roster.get(player_id)
        if player is None:
            player = add_player(s, player_id, display_name, now)
            s.departed.pop(player_id, None)
            return Mutation(events=(PlayerJoined(player),)), player
        if display_name:
            player.display_name = display_name
        player.last_action_time = now
        player.last_action_turn = s.turn_number
        return Mutation(), player

    return change


def leave(player_id: str) -> Change[None]:
    """Remove a player, who is then listed as departed. A choice they already made
    stays in the window: it was acknowledged. Leaving drops the co-GM role."""

    def change(s: Session, _turn: Turn | None, now: float) -> tuple[Mutation, None]:
        player = s.roster.pop(player_id, None)
        if player is None:
            raise PlayerNotFound(s.session_id, player_id)
        player.leave_time = now
        s.departed[player_id] = player
        drafts: list[EventPayload] = [PlayerLeft(player_id)]
        if s.game_master == player_id:
            s.game_master = ""
            drafts.append(GameMasterChanged(player_id, ""))
        return Mutation(events=tuple(drafts)), None

    return change


def set_game_master(player_id: str) -> Change[None]:
    """Hand the co-GM role to a rostered player, or back to the narrator ("")."""

    def change(s: Session, _turn: Turn | None, _now: float) -> tuple[Mutation, None]:
        require_open(s, "change the game master")
        if player_id and player_id not in s.roster:
            raise NotOnRoster(f"player {player_id!r} is not on the roster of session {s.session_id!r}; join them first")
        if player_id == s.game_master:
            return UNCHANGED, None
        old, s.game_master = s.game_master, player_id
        return Mutation(events=(GameMasterChanged(old, player_id),)), None

    return change


def set_options(options: list[str]) -> Change[None]:
    def change(s: Session, _turn: Turn | None, _now: float) -> tuple[Mutation, None]:
        require_open(s, "set the options")
        if s.window is not None:
            raise WindowOpen(
                f"cannot change the options of turn {s.turn_number} of session {s.session_id!r}: "
                "its window is open; set them after it resolves"
            )
        s.options = list(options)
        return Mutation(events=(OptionsChanged(s.turn_number, tuple(s.options)),)), None

    return change


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """What a caller may set when creating a session; zero values take the defaults."""

    game_id: str = ""
    channel_id: str = ""
    character_id: str = ""
    world_id: str = ""
    title: str = ""
    game_name: str = ""
    title_screen_url: str = ""
    session_state: dict[str, Any] | None = None
    options: tuple[str, ...] = ()
    window_seconds: float = 0.0
    early_close: bool | None = None
    tie_break: TieBreak | None = None
    tie_break_seed: int | None = None
    idle_ttl_seconds: float = 0.0
    max_players: int = 0
    content: ContentSettings | None = None
    owner_player_id: str = ""  # set by SwitchCharacterWorld, never by callers directly
    persistence: Persistence | None = None  # None: DURABLE (the manager resolves the store's default first)


def resolve_persistence(asked: Persistence | None, store: str, *, graph: bool) -> Persistence:
    """The persistence of a new session on ``store``: DURABLE needs a graph; unset is the
    store's default (DURABLE with a graph, EPHEMERAL without)."""
    if asked is None:
        return Persistence.DURABLE if graph else Persistence.EPHEMERAL
    if asked is Persistence.DURABLE and not graph:
        raise InvalidInput(
            "settings.persistence",
            f"DURABLE needs a store with a graph (redis+neo4j); this server's store is {store}, "
            "which keeps only EPHEMERAL sessions: ask for EPHEMERAL or leave it unset",
        )
    return asked


def new_session(session_id: str, spec: SessionSpec, now: float, defaults: Defaults, limits: Limits) -> Session:
    """Validate ``spec`` and build an ACTIVE session from it."""
    for name in LINKED_IDS:
        check_id(name, getattr(spec, name), required=False)
    check_text("title", spec.title, limits.max_title_chars)
    check_text("game_name", spec.game_name, limits.max_title_chars)
    check_text("title_screen_url", spec.title_screen_url, limits.max_url_chars)
    window = spec.window_seconds or defaults.window_seconds
    if not limits.min_window_seconds <= window <= limits.max_window_seconds:
        raise InvalidInput(
            "settings.window_duration",
            f"{window:g}s is outside {limits.min_window_seconds:g}s-{limits.max_window_seconds:g}s",
        )
    ttl = spec.idle_ttl_seconds or defaults.idle_ttl_seconds
    if not limits.min_idle_ttl_seconds <= ttl <= limits.max_idle_ttl_seconds:
        raise InvalidInput(
            "settings.idle_ttl",
            f"{ttl:g}s is outside {limits.min_idle_ttl_seconds:g}s-{limits.max_idle_ttl_seconds:g}s",
        )
    max_players = spec.max_players or defaults.max_players
    if not 1 <= max_players <= limits.max_players_cap:
        raise InvalidInput("settings.max_players", f"{max_players} is outside 1-{limits.max_players_cap}")
    settings = SessionSettings(
        window_seconds=window,
        early_close=defaults.early_close if spec.early_close is None else spec.early_close,
        tie_break=spec.tie_break or TieBreak.FIRST_CHOSEN,
        tie_break_seed=zlib.crc32(session_id.encode()) if spec.tie_break_seed is None else spec.tie_break_seed,
        idle_ttl_seconds=ttl,
        max_players=max_players,
        persistence=spec.persistence or Persistence.DURABLE,
    )
    return Session(
        session_id=session_id,
        state=SessionState.ACTIVE,
        settings=settings,
        create_time=now,
        update_time=now,
        last_activity_time=now,
        game_id=spec.game_id,
        channel_id=spec.channel_id,
        character_id=spec.character_id,
        world_id=spec.world_id,
        title=spec.title,
        game_name=spec.game_name,
        title_screen_url=spec.title_screen_url,
        session_state=check_session_state("session.session_state", spec.session_state or {}, limits),
        options=check_options("session.current_options", list(spec.options), limits),
        owner_player_id=check_id("owner_player_id", spec.owner_player_id, required=False),
        content=check_content("session.content_settings", spec.content or ContentSettings(), limits),
    )
