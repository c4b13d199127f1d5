"""Proto messages to and from domain records. Pure mapping: no rules, no I/O."""

from __future__ import annotations

import hashlib
import math
from typing import Any, assert_never

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from sessiond_client._proto.sessiond.v1 import resources_pb2 as pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb

from sessiond.core import requests
from sessiond.core.errors import InvalidInput
from sessiond.core.events import (
    ChoiceReceived,
    GameMasterChanged,
    OptionsChanged,
    PlayerJoined,
    PlayerLeft,
    StateChanged,
    StatusChanged,
    TurnResolved,
    TurnUpdated,
    UnknownEvent,
    WindowOpened,
)
from sessiond.core.lifecycle import SessionSpec
from sessiond.core.models import (
    ChoiceEntry,
    CloseReason,
    ContentSettings,
    Event,
    GraphProgress,
    Persistence,
    PlayerEntry,
    PlayerProfile,
    Session,
    SessionState,
    TieBreak,
    Turn,
)
from sessiond.core.requests import RequestTag
from sessiond.core.window import ChoiceReceipt
from sessiond.manager.sessions import PlayerView, Stats, Tick, WatchStart

STATE_TO_PB = {
    SessionState.ACTIVE: pb.Session.ACTIVE,
    SessionState.PAUSED: pb.Session.PAUSED,
    SessionState.ENDED: pb.Session.ENDED,
    SessionState.EXPIRED: pb.Session.EXPIRED,
}
TIE_BREAK_TO_PB = {
    TieBreak.FIRST_CHOSEN: pb.SessionSettings.FIRST_CHOSEN,
    TieBreak.SEEDED_RANDOM: pb.SessionSettings.SEEDED_RANDOM,
    TieBreak.NARRATOR: pb.SessionSettings.NARRATOR,
}
TIE_BREAK_FROM_PB = {v: k for k, v in TIE_BREAK_TO_PB.items()}
PERSISTENCE_TO_PB = {
    Persistence.DURABLE: pb.SessionSettings.DURABLE,
    Persistence.EPHEMERAL: pb.SessionSettings.EPHEMERAL,
}
PERSISTENCE_FROM_PB = {v: k for k, v in PERSISTENCE_TO_PB.items()}
CLOSE_REASON_TO_PB = {
    CloseReason.DEADLINE: pb.Turn.DEADLINE,
    CloseReason.ALL_CHOSEN: pb.Turn.ALL_CHOSEN,
    CloseReason.SESSION_ENDED: pb.Turn.SESSION_ENDED,
}
TIER_TO_PB = {"ACTIVE": pb.ACTIVE, "IDLE": pb.IDLE, "DORMANT": pb.DORMANT}


def ts(seconds: float) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromNanoseconds(round(seconds * 1e9))
    return out


def dur(seconds: float) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromNanoseconds(round(seconds * 1e9))
    return out


def seconds_of(field: str, d: duration_pb2.Duration) -> float:
    seconds: float = d.ToNanoseconds() / 1e9
    if seconds < 0:
        raise InvalidInput(field, "must not be negative")
    return seconds


def struct_of(data: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(data)
    return out


def dict_of(field: str, struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a JSON-ready dict. Whole numbers come back as int; NaN and the
    infinities are not JSON and are refused."""
    return {key: _value_of(field, value) for key, value in struct.fields.items()}


def _value_of(field: str, value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise InvalidInput(field, "contains a NaN or infinite number, which JSON cannot hold")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "struct_value":
        return dict_of(field, value.struct_value)
    if kind == "list_value":
        return [_value_of(field, v) for v in value.list_value.values]
    if kind in ("string_value", "bool_value"):
        return getattr(value, kind)
    return None  # null_value, or a Value with nothing set


def spec_from_pb(s: pb.Session) -> SessionSpec:
    settings = s.settings
    tie_break = TIE_BREAK_FROM_PB.get(settings.tie_break) if settings.tie_break else None
    if settings.tie_break and tie_break is None:
        raise InvalidInput("session.settings.tie_break", f"unknown value {settings.tie_break}")
    persistence = PERSISTENCE_FROM_PB.get(settings.persistence)
    if settings.persistence and persistence is None:
        raise InvalidInput(
            "session.settings.persistence", f"unknown value {settings.persistence}; use DURABLE or EPHEMERAL"
        )
    return SessionSpec(
        game_id=s.game_id,
        channel_id=s.channel_id,
        character_id=s.character_id,
        world_id=s.world_id,
        title=s.title,
        game_name=s.game_name,
        title_screen_url=s.title_screen_url,
        session_state=dict_of("session.session_state", s.session_state),
        options=tuple(s.current_options),
        window_seconds=seconds_of("session.settings.window_duration", settings.window_duration),
        early_close=settings.early_close if settings.HasField("early_close") else None,
        tie_break=tie_break,
        tie_break_seed=settings.tie_break_seed if settings.HasField("tie_break_seed") else None,
        idle_ttl_seconds=seconds_of("session.settings.idle_ttl", settings.idle_ttl),
        max_players=settings.max_players,
        content=content_from_pb(s.content_settings) if s.HasField("content_settings") else None,
        persistence=persistence,
    )



INTENSITY_NAMES = {v: k for k, v in pb.ContentSettings.Intensity.items()}
PACING_NAMES = {v: k for k, v in pb.ContentSettings.Pacing.items()}


def content_from_pb(c: pb.ContentSettings) -> ContentSettings:
    intensity = INTENSITY_NAMES.get(c.intensity, str(c.intensity))
    pacing = PACING_NAMES.get(c.pacing, str(c.pacing))
    return ContentSettings(
        intensity="" if c.intensity == 0 else intensity,
        pacing="" if c.pacing == 0 else pacing,
        topics_to_avoid=list(c.topics_to_avoid),
        extensions=dict(c.extensions),
    )


def content_to_pb(c: ContentSettings) -> pb.ContentSettings:
    return pb.ContentSettings(
        intensity=c.intensity or None,  # protobuf takes an enum value's name
        pacing=c.pacing or None,
        topics_to_avoid=c.topics_to_avoid,
        extensions=c.extensions,
    )


def profile_from_pb(p: pb.PlayerProfile) -> PlayerProfile:
    return PlayerProfile(
        player_id=p.player_id,
        display_name=p.display_name,
        preferences=dict(p.preferences),
        hide_from_recommendations=p.privacy.hide_from_recommendations,
        hide_from_departed_rosters=p.privacy.hide_from_departed_rosters,
        content=content_from_pb(p.content_settings),
    )


def profile_to_pb(p: PlayerProfile) -> pb.PlayerProfile:
    return pb.PlayerProfile(
        player_id=p.player_id,
        display_name=p.display_name,
        preferences=p.preferences,
        privacy=pb.PrivacySettings(
            hide_from_recommendations=p.hide_from_recommendations,
            hide_from_departed_rosters=p.hide_from_departed_rosters,
        ),
        content_settings=content_to_pb(p.content),
        create_time=ts(p.create_time),
        update_time=ts(p.update_time),
        etag=p.etag,
    )


def game_to_pb(s: Session) -> pb.Game:
    return pb.Game(
        session_id=s.session_id,
        game_id=s.game_id,
        game_name=s.game_name,
        channel_id=s.channel_id,
        turn_number=s.turn_number,
        active=s.state is SessionState.ACTIVE,
        title_screen_url=s.title_screen_url,
        state=STATE_TO_PB[s.state],
        update_time=ts(s.update_time),
    )


def session_to_pb(s: Session, store: str, graph: GraphProgress | None = None) -> pb.Session:
    """``store``: the name of the store holding it; ``graph``: how far a DURABLE session
    has reached the graph, when the call reads it."""
    st = s.settings
    out = pb.Session(
        session_id=s.session_id,
        game_id=s.game_id,
        channel_id=s.channel_id,
        character_id=s.character_id,
        world_id=s.world_id,
        title=s.title,
        game_name=s.game_name,
        title_screen_url=s.title_screen_url,
        state=STATE_TO_PB[s.state],
        session_state=struct_of(s.session_state),
        state_version=s.state_version,
        turn_number=s.turn_number,
        current_options=s.options,
        settings=pb.SessionSettings(
            window_duration=dur(st.window_seconds),
            early_close=st.early_close,
            tie_break=TIE_BREAK_TO_PB[st.tie_break],
            tie_break_seed=st.tie_break_seed,
            idle_ttl=dur(st.idle_ttl_seconds),
            max_players=st.max_players,
            persistence=PERSISTENCE_TO_PB[st.persistence],
        ),
        player_count=len(s.roster),
        game_master_player_id=s.game_master,
        owner_player_id=s.owner_player_id,
        content_settings=content_to_pb(s.content),
        create_time=ts(s.create_time),
        update_time=ts(s.update_time),
        last_activity_time=ts(s.last_activity_time),
        expire_time=ts(s.expire_time),
        etag=s.etag,
        last_event_id=s.last_event_id,
        persistence=pb.SessionPersistence(store=store, kind=PERSISTENCE_TO_PB[st.persistence]),
    )
    if graph is not None:
        out.persistence.graph.CopyFrom(
            pb.SessionPersistence.GraphProgress(
                projected_event_id=graph.projected_event_id, pending_facts=graph.pending_facts
            )
        )
    if s.window is not None:
        w = s.window
        out.window.CopyFrom(
            pb.ChoiceWindow(
                turn_number=w.turn_number,
                open_time=ts(w.open_time),
                deadline=ts(w.deadline),
                choice_count=len(w.choices),
                opened_by=w.opened_by,
            )
        )
    return out


def player_to_pb(p: PlayerEntry, tier: str = "") -> pb.Player:
    out = pb.Player(
        player_id=p.player_id,
        display_name=p.display_name,
        tier=TIER_TO_PB.get(tier, pb.ACTIVITY_TIER_UNSPECIFIED),
        consecutive_skips=p.consecutive_skips,
        join_time=ts(p.join_time),
        last_action_time=ts(p.last_action_time),
        last_action_turn=p.last_action_turn,
        turns_played=p.turns_played,
    )
    if p.leave_time:
        out.leave_time.CopyFrom(ts(p.leave_time))
    return out


def view_to_pb(view: PlayerView) -> pb.Player:
    return player_to_pb(view.player, view.tier.value)


def turn_to_pb(t: Turn) -> pb.Turn:
    return pb.Turn(
        session_id=t.session_id,
        turn_number=t.turn_number,
        options=t.options,
        choices=[_choice_to_pb(c) for c in t.choices],
        tally=[pb.OptionTally(option=o, votes=n) for o, n in t.tally],
        winner=t.winner,
        tied=t.tied,
        tie_break=TIE_BREAK_TO_PB[t.tie_break],
        tie_break_seed=t.tie_break_seed,
        close_reason=CLOSE_REASON_TO_PB[t.close_reason],
        open_time=ts(t.open_time),
        resolve_time=ts(t.resolve_time),
        summary=t.summary,
    )


def _choice_to_pb(c: ChoiceEntry) -> pb.Choice:
    return pb.Choice(player_id=c.player_id, choice=c.choice, choose_time=ts(c.time))


def receipt_to_pb(r: ChoiceReceipt) -> spb.SubmitChoiceResponse:
    out = spb.SubmitChoiceResponse(
        turn_number=r.turn_number,
        opened_window=r.opened_window,
        replaced=r.replaced,
        deadline=ts(r.deadline),
        time_remaining=dur(r.time_remaining),
        choice_count=r.choice_count,
    )
    if r.resolved_turn is not None:
        out.resolved_turn.CopyFrom(turn_to_pb(r.resolved_turn))
    return out


def event_to_pb(e: Event) -> pb.SessionEvent:
    out = pb.SessionEvent(event_id=e.event_id, session_id=e.session_id, event_time=ts(e.time))
    match e.payload:
        case WindowOpened() as p:
            out.window_opened.CopyFrom(
                pb.WindowOpened(
                    turn_number=p.turn_number,
                    open_time=ts(p.open_time),
                    deadline=ts(p.deadline),
                    opened_by=p.opened_by,
                    options=p.options,
                )
            )
        case ChoiceReceived() as p:
            out.choice_received.CopyFrom(
                pb.ChoiceReceived(
                    turn_number=p.turn_number, player_id=p.player_id, choice_count=p.choice_count, replaced=p.replaced
                )
            )
        case TurnResolved(turn=turn):
            out.turn_resolved.CopyFrom(turn_to_pb(turn))
        case TurnUpdated(turn=turn):
            out.turn_updated.CopyFrom(turn_to_pb(turn))
        case PlayerJoined(player=player):
            out.player_joined.CopyFrom(player_to_pb(player))
        case PlayerLeft(player_id=player_id):
            out.player_left.CopyFrom(pb.PlayerLeft(player_id=player_id))
        case StateChanged() as p:
            out.state_changed.CopyFrom(
                pb.StateChanged(state_version=p.state_version, patch=struct_of(p.patch), reset=p.reset)
            )
        case StatusChanged(old=old, new=new):
            out.status_changed.CopyFrom(pb.StatusChanged(old_state=STATE_TO_PB[old], new_state=STATE_TO_PB[new]))
        case OptionsChanged() as p:
            out.options_changed.CopyFrom(pb.OptionsChanged(turn_number=p.turn_number, options=p.options))
        case GameMasterChanged(old=old_gm, new=new_gm):
            out.game_master_changed.CopyFrom(pb.GameMasterChanged(old_player_id=old_gm, new_player_id=new_gm))
        case UnknownEvent(kind=kind):  # the watch skips these; never send one empty
            raise ValueError(f"event {e.event_id} of session {e.session_id!r} has kind {kind!r}, unknown here")
        case _:
            assert_never(e.payload)
    return out


def tick_to_pb(t: Tick) -> pb.SessionEvent:
    return pb.SessionEvent(
        session_id=t.session_id,
        event_time=ts(t.time),
        countdown_tick=pb.CountdownTick(
            turn_number=t.turn_number, deadline=ts(t.deadline), time_remaining=dur(t.remaining)
        ),
    )


def watch_start_to_pb(start: WatchStart, store: str) -> pb.SessionEvent:
    s = start.session
    return pb.SessionEvent(session_id=s.session_id, event_time=ts(s.update_time), snapshot=session_to_pb(s, store))


def stats_to_pb(stats: Stats, version: str) -> spb.ServiceStats:
    return spb.ServiceStats(
        sessions_by_state=[
            spb.ServiceStats.StateCount(state=STATE_TO_PB[state], count=n)
            for state, n in sorted(stats.store_stats.sessions_by_state.items())
        ],
        player_count=stats.store_stats.players,
        open_windows=stats.store_stats.open_windows,
        watchers=stats.watchers,
        store=stats.store,
        version=version,
        start_time=ts(stats.start_time),
        outbox_pending=stats.store_stats.outbox_pending,
        outbox_lag=dur(stats.store_stats.outbox_lag_seconds),
        outbox_parked=stats.store_stats.outbox_parked,
        graph_unreachable=dur(stats.store_stats.graph_unreachable_seconds),
        sessions_by_persistence=[
            spb.ServiceStats.PersistenceCount(persistence=PERSISTENCE_TO_PB[kind], count=n)
            for kind, n in sorted(stats.store_stats.sessions_by_persistence.items())
        ],
    )


def request_tag(request: Any) -> RequestTag | None:
    """The request id of a mutating request with a fingerprint of the rest of it (its
    type and every other field, serialized deterministically), or None without one."""
    if not request.request_id:
        return None
    rest = type(request)()
    rest.CopyFrom(request)
    rest.ClearField("request_id")
    body = rest.DESCRIPTOR.full_name.encode() + b"\0" + rest.SerializeToString(deterministic=True)
    return requests.tag(request.request_id, hashlib.sha256(body).hexdigest()[:16])  # 64 bits: ample per id
