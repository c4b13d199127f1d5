"""Page tokens and ListSessions filters: pure parsing, InvalidInput on anything malformed.

A page token is a keyset cursor: the sort key of the last item of the page, so the next
page starts strictly after it and items added or removed meanwhile shift nothing. Its
bytes are ``version | scope digest | fields``, urlsafe base64 without padding, at most
MAX_TOKEN_CHARS. Decoding checks every byte (version, the digest of the list and filter
it was issued for, each field's type and range, no trailing bytes); anything else is
InvalidInput. Tokens are not secret or signed: a forged one can only name a position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import struct
from collections.abc import Iterable
from typing import NamedTuple

from sessiond.core.errors import InvalidInput
from sessiond.core.limits import ID_PATTERN
from sessiond.core.models import Session

FILTER_TERM = re.compile(r'\s*([a-z_]+)\s*=\s*(?:"([^"]*)"|([A-Za-z0-9._:-]+))\s*')

TOKEN_VERSION = 1
MAX_TOKEN_CHARS = 400  # a token holds at most two numbers and one 128-character id
_DIGEST_BYTES = 8
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TURN = 2**53  # turn numbers stay exact in every store (JSON, Lua, Neo4j)
NOT_ISSUED = "not a token this server issued"
OTHER_LIST = "was issued for a different list or filter; start again without it"


class SessionKey(NamedTuple):
    """Where a session sorts in ListSessions/ListGames: newest first is descending key."""

    create_time: float
    session_id: str


def session_key(s: Session) -> SessionKey:
    return SessionKey(s.create_time, s.session_id)


def newest_first(sessions: Iterable[Session], after: SessionKey | None, limit: int) -> list[Session]:
    """The first ``limit`` of ``sessions`` in newest-first order that sort after ``after``."""
    found = sorted(sessions, key=session_key, reverse=True)
    if after is not None:
        found = [s for s in found if session_key(s) < after]
    return found[: max(0, limit)]


class PlayerKey(NamedTuple):
    """Where a player sorts in ListPlayers: the roster (0) by join time, then departed
    players (1) by leave time; ties by id."""

    section: int
    time: float
    player_id: str


def page_size(requested: int, default: int, maximum: int) -> int:
    if requested < 0:
        raise InvalidInput("page_size", f"must not be negative, got {requested}")
    return min(requested or default, maximum)


# Typed cursors: encode the last item's key; decode '' to None (the first page).


def encode_session_key(key: SessionKey, scope: str) -> str:
    return _seal(scope, _pack_time(key.create_time) + _pack_id(key.session_id))


def decode_session_key(token: str, scope: str) -> SessionKey | None:
    reader = _open(token, scope)
    if reader is None:
        return None
    key = SessionKey(reader.time(), reader.id())
    reader.end()
    return key


def encode_player_key(key: PlayerKey, scope: str) -> str:
    return _seal(scope, bytes([key.section]) + _pack_time(key.time) + _pack_id(key.player_id))


def decode_player_key(token: str, scope: str) -> PlayerKey | None:
    reader = _open(token, scope)
    if reader is None:
        return None
    section = reader.byte()
    if section not in (0, 1):
        raise _not_issued()
    key = PlayerKey(section, reader.time(), reader.id())
    reader.end()
    return key


def encode_turn_number(turn_number: int, scope: str) -> str:
    return _seal(scope, struct.pack(">Q", turn_number))


def decode_turn_number(token: str, scope: str) -> int | None:
    """The turn number the next page starts below."""
    reader = _open(token, scope)
    if reader is None:
        return None
    (number,) = struct.unpack(">Q", reader.take(8))
    reader.end()
    if not 1 <= number <= _MAX_TURN:
        raise _not_issued()
    return int(number)


# The envelope


def _scope_digest(scope: str) -> bytes:
    return hashlib.blake2b(scope.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES).digest()


def _seal(scope: str, fields: bytes) -> str:
    return _text(bytes([TOKEN_VERSION]) + _scope_digest(scope) + fields)


def _open(token: str, scope: str) -> _Reader | None:
    if not token:
        return None
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN_TEXT.fullmatch(token) or len(token) % 4 == 1:
        raise _not_issued()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _not_issued() from exc
    if _text(raw) != token:
        raise _not_issued()  # non-canonical base64 (stray bits): not one we wrote
    reader = _Reader(raw)
    if reader.byte() != TOKEN_VERSION:
        raise _not_issued()
    if reader.take(_DIGEST_BYTES) != _scope_digest(scope):
        raise InvalidInput("page_token", OTHER_LIST)
    return reader


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _pack_time(value: float) -> bytes:
    return struct.pack(">d", value)


def _pack_id(value: str) -> bytes:
    data = value.encode("ascii")
    return bytes([len(data)]) + data


class _Reader:
    """Reads a token's fields in order; any shortfall or bad value is InvalidInput."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._at = 0

    def take(self, n: int) -> bytes:
        if self._at + n > len(self._raw):
            raise _not_issued()
        out = self._raw[self._at : self._at + n]
        self._at += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def time(self) -> float:
        (value,) = struct.unpack(">d", self.take(8))
        if not math.isfinite(value) or value < 0:
            raise _not_issued()
        return float(value)

    def id(self) -> str:
        text = self.take(self.byte()).decode("ascii", "replace")
        if not ID_PATTERN.fullmatch(text):
            raise _not_issued()
        return text

    def end(self) -> None:
        if self._at != len(self._raw):
            raise _not_issued()


def _not_issued() -> InvalidInput:
    return InvalidInput("page_token", NOT_ISSUED)


def parse_filter(text: str, fields: frozenset[str]) -> dict[str, str]:
    """Parse ``a="x" AND b=y`` into {"a": "x", "b": "y"}."""
    terms: dict[str, str] = {}
    if not text.strip():
        return terms
    for part in re.split(r"\s+AND\s+", text.strip()):
        m = FILTER_TERM.fullmatch(part)
        if m is None:
            raise InvalidInput("filter", f"cannot parse {part!r}; expected field=value joined by AND")
        name, value = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
        if name not in fields:
            raise InvalidInput("filter", f"unknown field {name!r}; use one of {sorted(fields)}")
        if name in terms:
            raise InvalidInput("filter", f"field {name!r} appears twice")
        terms[name] = value
    return terms
