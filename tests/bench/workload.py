"""What the benchmarks send: session shapes, the request data of each measured RPC, and the
canned answers of the baseline server (the same sizes sessiond answers with)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import duration_pb2, message, timestamp_pb2
from sessiond_client import dict_to_struct, pb

PLAYERS = ("p0", "p1", "p2", "p3")
STATE_BYTES = 1024
SERVICE = "sessiond.v1.SessionService"


def session_state(size: int = STATE_BYTES) -> dict[str, Any]:
    """A game state of ``size`` bytes as compact JSON: nested objects, a list and text."""
    state: dict[str, Any] = {
        "scene": "harbour-at-dusk",
        "chapter": 3,
        "flags": {"met_ferryman": True, "paid_toll": False, "storm": "rising"},
        "inventory": ["lantern", "rope", "brass key", "map fragment", "salt"],
        "party": {pid: {"hp": 20 + i, "mood": "wary", "xp": 100 * i} for i, pid in enumerate(PLAYERS)},
        "notes": "",
    }
    state["notes"] = "x" * (size - len(_compact(state)))
    assert len(_compact(state)) == size
    return state


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def session_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(count)]


# Request data of the measured RPCs, as ghz takes it: a JSON array used round-robin.
# Consecutive requests go to different sessions, so they rarely queue on one session's lock.


def get_session_data(ids: list[str]) -> list[dict[str, Any]]:
    return [{"session_id": sid} for sid in ids]


def submit_choice_data(ids: list[str]) -> list[dict[str, Any]]:
    """Every player of every session, rotating: each choice replaces that player's earlier
    one in a window that stays open (long window, early close off), so no turn resolves."""
    return [
        {"session_id": sid, "player_id": pid, "choice": "left" if (i + j) % 2 else "right"}
        for j, pid in enumerate(PLAYERS)
        for i, sid in enumerate(ids)
    ]


def update_state_data(ids: list[str]) -> list[dict[str, Any]]:
    """A small merge-patch per call (one member of a nested object), two values in turn."""
    return [
        {"session_id": sid, "patch": {"party": {PLAYERS[i % len(PLAYERS)]: {"hp": 10 + k}}, "round": k}}
        for k in range(2)
        for i, sid in enumerate(ids)
    ]


def join_session_data(ids: list[str]) -> list[dict[str, Any]]:
    """Every player of every session joining again (a rejoin refreshes the player's entry
    and display name: a full write, while the roster keeps its size)."""
    return [
        {"session_id": sid, "player_id": pid, "display_name": f"Player {j} ({i % 2})"}
        for j, pid in enumerate(PLAYERS)
        for i, sid in enumerate(ids)
    ]


def create_session_data(ids: list[str]) -> list[dict[str, Any]]:
    """One request used over and over: no session_id, so every call creates a new session
    (id generated) with 1 KiB of state, as the prepared ones."""
    session = {
        "game_id": "bench-game",
        "title": "Benchmark session",
        "session_state": session_state(),
        "settings": {"window_duration": f"{WINDOW_SECONDS:g}s", "early_close": False},
    }
    return [{"session": session}]


@dataclass(frozen=True, slots=True)
class Rpc:
    """One measured method: its name, its request data, and the baseline's canned answer."""

    method: str
    data: Callable[[list[str]], list[dict[str, Any]]]
    canned: Callable[[], message.Message]
    min_ratio: float  # the target: sessiond's req/s over the no-op baseline's

    @property
    def full_name(self) -> str:
        return f"{SERVICE}.{self.method}"


# Canned answers of the baseline: what sessiond answers for these sessions, field for field.


def _ts(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(round(seconds * 1e9))
    return stamp


def _dur(seconds: float) -> duration_pb2.Duration:
    span = duration_pb2.Duration()
    span.FromNanoseconds(round(seconds * 1e9))
    return span


NOW = 1_760_000_000.123456
WINDOW_SECONDS = 3600.0


def canned_session() -> pb.Session:
    return pb.Session(
        session_id="bench-00000",
        game_id="bench-game",
        title="Benchmark session",
        state=pb.Session.ACTIVE,
        session_state=dict_to_struct(session_state()),
        state_version=12,
        turn_number=1,
        window=pb.ChoiceWindow(
            turn_number=1, open_time=_ts(NOW), deadline=_ts(NOW + WINDOW_SECONDS), choice_count=4, opened_by="p0"
        ),
        settings=pb.SessionSettings(
            window_duration=_dur(WINDOW_SECONDS),
            early_close=False,
            tie_break=pb.SessionSettings.FIRST_CHOSEN,
            tie_break_seed=1234567890,
            idle_ttl=_dur(4 * 3600.0),
            max_players=100,
        ),
        player_count=len(PLAYERS),
        content_settings=pb.ContentSettings(),
        create_time=_ts(NOW),
        update_time=_ts(NOW + 1),
        last_activity_time=_ts(NOW + 1),
        expire_time=_ts(NOW + 1 + 4 * 3600.0),
        etag='W/"17"',
        last_event_id=17,
    )


def canned_player() -> pb.Player:
    return pb.Player(
        player_id="p0",
        display_name="Player 0 (1)",
        tier=pb.ACTIVE,
        join_time=_ts(NOW),
        last_action_time=_ts(NOW + 1),
        last_action_turn=1,
    )


def canned_receipt() -> pb.SubmitChoiceResponse:
    return pb.SubmitChoiceResponse(
        turn_number=1,
        opened_window=False,
        replaced=True,
        deadline=_ts(NOW + WINDOW_SECONDS),
        time_remaining=_dur(WINDOW_SECONDS - 2.5),
        choice_count=4,
    )


RPCS: dict[str, Rpc] = {
    rpc.method: rpc
    for rpc in (
        Rpc("GetSession", get_session_data, canned_session, 0.6),
        Rpc("SubmitChoice", submit_choice_data, canned_receipt, 0.4),
        Rpc("UpdateSessionState", update_state_data, canned_session, 0.4),
        Rpc("JoinSession", join_session_data, canned_player, 0.4),
        Rpc("CreateSession", create_session_data, canned_session, 0.3),
    )
}
