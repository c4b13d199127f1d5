"""Records as stored in Redis: compact JSON built from sessiond.core.codec's dicts,
deflated with a preset dictionary.

Most of a record's JSON is key names and enum values that every record repeats; a
preset dictionary holding them lets deflate shrink even a 100-byte event to a third,
and a session record (4 players, ~1 KiB of state) from ~2.5 KB to ~0.6 KB.

A stored value is either plain JSON (it starts with ``{``) or FORMAT_V1 followed by
raw deflate data made with DICTIONARY_V1; both are always readable, so compression can
be switched off (or a new dictionary added under a new format byte) at any time.
NEVER change DICTIONARY_V1: stored values need exactly these bytes to inflate.

Compare-and-set compares SHA-1 digests of the stored bytes as read, never of
re-encoded ones, so replicas with different zlib builds interoperate.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from sessiond.core import codec, compact_json
from sessiond.core.events import EventPayload
from sessiond.core.models import Event, Persistence, Session, Turn

# Field names of one stream entry (short: they are stored in every stream node).
KIND = b"k"
TIME = b"t"
DATA = b"d"
GONE = b"gone"  # the tombstone ``delete`` appends to wake blocked readers


FORMAT_V1 = b"\x01"
DICTIONARY_V1 = (  # rarest first: deflate reaches the end of the dictionary most cheaply
    b'{"player_id":"","display_name":"","preferences":{},"hide_from_recommendations":false,'
    b'"hide_from_departed_rosters":false,"content":{"intensity":"","pacing":"","topics_to_avoid":[],'
    b'"extensions":{}},"create_time":17,"update_time":17,"revision":1}"LOW""MEDIUM""HIGH""RELAXED""STEADY""BRISK"'
    b'{"old":"ACTIVE","new":"PAUSED"}{"old":"PAUSED","new":"ENDED"}"EXPIRED"'
    b'{"state_version":1,"patch":{},"reset":false}{"turn_number":1,"options":[]}'
    b'{"turn":{"session_id":"","turn_number":1,"options":[],"choices":[{"player_id":"","choice":"",'
    b'"time":17,"seq":1}],"tally":[["",1]],"winner":"","tied":false,"tie_break":"FIRST_CHOSEN",'
    b'"tie_break_seed":0,"close_reason":"DEADLINE","open_time":17,"resolve_time":17,"summary":""}}'
    b'"ALL_CHOSEN""SESSION_ENDED""SEEDED_RANDOM""NARRATOR"'
    b'{"turn_number":1,"open_time":17,"deadline":17,"opened_by":"","options":[]}'
    b'{"turn_number":1,"player_id":"","choice_count":1,"replaced":false}'
    b'{"session_id":"","status":"ACTIVE","settings":{"window_seconds":10.0,"early_close":true,'
    b'"tie_break":"FIRST_CHOSEN","tie_break_seed":0,"idle_ttl_seconds":14400.0,"max_players":100},'
    b'"create_time":17,"update_time":17,"last_activity_time":17,"game_id":"","channel_id":"",'
    b'"character_id":"","world_id":"","title":"","game_name":"","title_screen_url":"","state":{},'
    b'"state_version":0,"turn_number":1,"options":[],"window":{"turn_number":1,"open_time":17,'
    b'"deadline":17,"opened_by":"","choices":{"":{"player_id":"","choice":"","time":17,"seq":1}},'
    b'"next_seq":1},"roster":{},"departed":{},"game_master":"","owner_player_id":"",'
    b'"content":{"intensity":"","pacing":"","topics_to_avoid":[],"extensions":{}},"revision":1,"last_event_id":0}'
    b'{"player":{"player_id":"","display_name":"","join_time":17,"last_action_time":17,'
    b'"last_action_turn":1,"consecutive_skips":0,"turns_played":0,"leave_time":0.0}}'
    b',"":{"player_id":"","display_name":"","join_time":17,"last_action_time":17,'
    b'"last_action_turn":1,"consecutive_skips":0,"turns_played":0,"leave_time":0.0}'
)
_WBITS = -15  # raw deflate: the format byte replaces zlib's 2-byte header and 4-byte checksum
# Primed once with the dictionary; each value is (de)compressed by a copy, which skips
# loading the dictionary again and gives the same bytes.
_DEFLATE = zlib.compressobj(6, zlib.DEFLATED, _WBITS, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_V1)
_INFLATE = zlib.decompressobj(_WBITS, DICTIONARY_V1)

# Compact JSON of plain values and of records themselves (dataclasses: as codec's dicts).
dumps = compact_json.dumps
loads = compact_json.loads


def pack(plain: bytes, compress: bool = True) -> bytes:
    """``plain`` JSON as stored: deflated when that makes it smaller."""
    if not compress:
        return plain
    deflate = _DEFLATE.copy()
    packed = FORMAT_V1 + deflate.compress(plain) + deflate.flush()
    return packed if len(packed) < len(plain) else plain


def unpack(stored: bytes) -> bytes:
    """The JSON of a stored value, whichever format it was written in."""
    if stored[:1] != FORMAT_V1:
        return stored
    inflate = _INFLATE.copy()
    return inflate.decompress(stored[1:]) + inflate.flush()


def encode_session(session: Session, compress: bool = True) -> bytes:
    return pack(dumps(codec.session_record(session)), compress)


def decode_session(stored: bytes, legacy: Persistence) -> Session:
    """``legacy``: the persistence of a record older than the field (see codec)."""
    return codec.session_from_dict(loads(unpack(stored)), legacy=legacy)


def encode_turn(turn: Turn, compress: bool = True) -> bytes:
    return pack(dumps(turn), compress)


def decode_turn(stored: bytes) -> Turn:
    return codec.turn_from_dict(loads(unpack(stored)))


def encode_event_data(payload: EventPayload, compress: bool = True) -> bytes:
    return pack(dumps(codec.event_data(payload)), compress)


def field_needle(name: str, value: str) -> bytes:
    """The bytes ``"name":"value"`` that a record's JSON holding that field must contain."""
    return dumps(name) + b":" + dumps(value)


def as_bytes(value: Any) -> bytes:
    """A reply value as bytes (replies are bytes unless a client decodes them)."""
    return value if isinstance(value, bytes) else str(value).encode()


def as_text(value: Any) -> str:
    """A reply value (a key, a member, a stream id) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def time_seconds(reply: Sequence[Any]) -> float:
    """A TIME reply (seconds, microseconds) as float seconds."""
    return int(reply[0]) + int(reply[1]) / 1_000_000


def stream_id(event_id: int) -> str:
    """Event ids are stream ids: ``0-<event_id>``, so XADD's MAXLEN keeps retention exact."""
    return f"0-{event_id}"


def event_id_of(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[2])


def entry_fields(raw: Mapping[bytes, bytes] | Sequence[bytes]) -> dict[bytes, bytes]:
    """A stream entry's fields from XREAD (a dict) or from a script's XRANGE (a flat list)."""
    if isinstance(raw, Mapping):
        return dict(raw)
    return {raw[i]: raw[i + 1] for i in range(0, len(raw), 2)}


def is_tombstone(fields: Mapping[bytes, bytes]) -> bool:
    return GONE in fields


def decode_event(session_id: str, entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> Event:
    return Event(
        event_id_of(entry_id),
        session_id,
        float(fields[TIME]),
        codec.event_payload(fields[KIND].decode(), loads(unpack(fields[DATA]))),
    )
