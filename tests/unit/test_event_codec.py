"""Events keep the stored form main wrote (kind + data JSON); an unknown kind reads back
as UnknownEvent, is never sent to a watcher, and is never converted to an empty event."""

from __future__ import annotations

import json

import pytest

from sessiond.api.convert import event_to_pb
from sessiond.core import codec
from sessiond.core.events import UnknownEvent
from sessiond.core.lifecycle import SessionSpec
from sessiond.core.models import Event, Mutation
from sessiond.manager.sessions import SessionManager

# Each kind exactly as sessiond 68ee470 stored it.
STORED = [
    ("window_opened", '{"turn_number":3,"open_time":100.5,"deadline":110.5,"opened_by":"p1","options":["a","b"]}'),
    ("choice_received", '{"turn_number":3,"player_id":"p1","choice_count":2,"replaced":true}'),
    ("turn_resolved", '{"turn":{"session_id":"s1","turn_number":3,"options":["a","b"],"choices":[{"player_id":"p1","choice":"a","time":101.0,"seq":1}],"tally":[["a",1]],"winner":"a","tied":false,"tie_break":"FIRST_CHOSEN","tie_break_seed":0,"close_reason":"DEADLINE","open_time":100.5,"resolve_time":110.5,"summary":""}}'),  # noqa: E501
    ("turn_updated", '{"turn":{"session_id":"s1","turn_number":3,"options":["a","b"],"choices":[{"player_id":"p1","choice":"a","time":101.0,"seq":1}],"tally":[["a",1]],"winner":"a","tied":false,"tie_break":"FIRST_CHOSEN","tie_break_seed":0,"close_reason":"DEADLINE","open_time":100.5,"resolve_time":110.5,"summary":"x"}}'),  # noqa: E501
    ("player_joined", '{"player":{"player_id":"p1","display_name":"Ann","join_time":100.0,"last_action_time":100.0,"last_action_turn":1,"consecutive_skips":0,"turns_played":0,"leave_time":0.0}}'),  # noqa: E501
    ("player_left", '{"player_id":"p1"}'),
    ("state_changed", '{"state_version":4,"patch":{"hp":{"x":1}},"reset":false}'),
    ("status_changed", '{"old":"ACTIVE","new":"PAUSED"}'),
    ("options_changed", '{"turn_number":3,"options":["a","b"]}'),
    ("game_master_changed", '{"old":"","new":"p1"}'),
]


@pytest.mark.parametrize(("kind", "data"), STORED, ids=[k for k, _ in STORED])
def test_stored_events_of_every_kind_decode_and_encode_back_the_same(kind: str, data: str) -> None:
    payload = codec.event_payload(kind, json.loads(data))
    assert not isinstance(payload, UnknownEvent) and payload.kind == kind
    assert json.dumps(codec.event_data(payload), separators=(",", ":")) == data
    assert event_to_pb(Event(7, "s1", 1.0, payload)).WhichOneof("kind") == kind


def test_an_unknown_kind_is_kept_as_stored_and_never_converted_empty() -> None:
    payload = codec.event_payload("from_the_future", {"x": 1})
    assert payload == UnknownEvent("from_the_future", {"x": 1})
    event = Event(3, "s1", 1.0, payload)
    assert codec.event_from_dict(codec.event_to_dict(event)) == event
    with pytest.raises(ValueError, match="from_the_future"):
        event_to_pb(event)


async def test_a_watch_skips_an_event_of_an_unknown_kind(manager: SessionManager) -> None:
    await manager.create_session(SessionSpec(), "s1", "")
    await manager.store.mutate("s1", lambda s, _t, _n: (Mutation(events=(UnknownEvent("from_the_future", {}),)), None))
    await manager.update_session_state("s1", {"n": 1}, None)
    watch = manager.watch("s1", 0, ticks=False)
    first = await anext(watch)
    assert isinstance(first, Event) and first.event_id == 2 and first.kind == "state_changed"
    await watch.aclose()

