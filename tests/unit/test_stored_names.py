"""The domain took the proto's names (Session.state, Session.session_state, SessionQuery.state);
what earlier versions stored under the old keys still loads, and is still written so."""

from __future__ import annotations

import json

from sessiond.core import codec
from sessiond.core.models import Persistence, SessionState
from sessiond.store import snapshot
from sessiond.store.protocols import SessionQuery

# A session record as the version before the rename wrote it (Redis, Neo4j, snapshot files).
STORED = json.loads(
    '{"session_id": "s1", "status": "PAUSED", "settings": {"window_seconds": 10.0, "early_close": true,'
    ' "tie_break": "FIRST_CHOSEN", "tie_break_seed": 336935152, "idle_ttl_seconds": 14400.0, "max_players": 100,'
    ' "persistence": "DURABLE"}, "create_time": 5.0, "update_time": 5.0, "last_activity_time": 5.0, "game_id": "",'
    ' "channel_id": "", "character_id": "", "world_id": "", "title": "", "game_name": "", "title_screen_url": "",'
    ' "state": {"a": 1}, "state_version": 3, "turn_number": 1, "options": ["x"], "window": null, "roster": {},'
    ' "departed": {}, "game_master": "", "owner_player_id": "", "content": {"intensity": "", "pacing": "",'
    ' "topics_to_avoid": [], "extensions": {}}, "revision": 1, "last_event_id": 0, "requests": {}}'
)


def test_a_record_stored_before_the_rename_loads_and_is_written_back_the_same() -> None:
    s = codec.session_from_dict(STORED, legacy=Persistence.DURABLE)
    assert s.state is SessionState.PAUSED and s.session_state == {"a": 1} and s.state_version == 3
    assert codec.session_to_dict(s) == STORED
    assert list(codec.session_to_dict(s)) == list(STORED)  # same key order: same bytes in Redis


def test_the_memory_store_snapshot_writes_the_stored_keys() -> None:
    s = codec.session_from_dict(STORED, legacy=Persistence.DURABLE)
    assert json.loads(snapshot.encode({"session": s})) == {"session": STORED}


def test_page_tokens_keep_the_query_key_they_were_issued_for() -> None:
    key = SessionQuery(game_id="g", state=SessionState.ACTIVE).key()
    before = "player_id=|game_id=g|channel_id=|character_id=|world_id=|owner_player_id=|status=ACTIVE"
    assert key == before + "|persistence=|in_channel="
