"""Page tokens: keyset cursors that round-trip within their list, and anything else
(forged, truncated, foreign, huge) is InvalidInput naming page_token, never another error."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessiond.core.errors import InvalidInput
from sessiond.core.paging import (
    MAX_TOKEN_CHARS,
    PlayerKey,
    SessionKey,
    decode_player_key,
    decode_session_key,
    decode_turn_number,
    encode_player_key,
    encode_session_key,
    encode_turn_number,
)

ids = st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True)
times = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
scopes = st.text(max_size=40)
DECODERS: list[Callable[[str, str], object]] = [decode_session_key, decode_player_key, decode_turn_number]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@given(times, ids, scopes)
def test_session_keys_round_trip_within_their_scope(create_time: float, session_id: str, scope: str) -> None:
    key = SessionKey(create_time, session_id)
    assert decode_session_key(encode_session_key(key, scope), scope) == key


@given(st.sampled_from([0, 1]), times, ids, scopes)
def test_player_keys_round_trip(section: int, time: float, player_id: str, scope: str) -> None:
    key = PlayerKey(section, time, player_id)
    assert decode_player_key(encode_player_key(key, scope), scope) == key


@given(st.integers(min_value=1, max_value=2**53), scopes)
def test_turn_numbers_round_trip(number: int, scope: str) -> None:
    assert decode_turn_number(encode_turn_number(number, scope), scope) == number


def test_an_empty_token_is_the_first_page() -> None:
    assert all(decode("", "x") is None for decode in DECODERS)


def test_a_token_of_another_list_or_filter_is_refused() -> None:
    token = encode_session_key(SessionKey(1.0, "s1"), 'sessions:game_id="a"')
    with pytest.raises(InvalidInput, match=r"^page_token: was issued for a different list or filter"):
        decode_session_key(token, 'sessions:game_id="b"')
    with pytest.raises(InvalidInput, match=r"^page_token: "):
        decode_turn_number(encode_turn_number(3, "turns:s1"), "turns:s2")


@pytest.mark.parametrize(
    "token",
    [
        b64(json.dumps({"o": 1e400, "s": 0}).encode()),  # the old format, overflowing
        b64(b"[" * 100_000),  # the old format, nested past the recursion limit
        "nonsense",
        "%%%",
        "a" * (MAX_TOKEN_CHARS + 1),
        "AQ",  # the version byte alone
        "A",  # not base64 at all
    ],
)
def test_crafted_tokens_are_not_tokens_this_server_issued(token: str) -> None:
    for decode in DECODERS:
        with pytest.raises(InvalidInput, match=r"^page_token: not a token this server issued$"):
            decode(token, "sessions:")


def test_a_token_with_bad_fields_is_refused() -> None:
    good = base64.urlsafe_b64decode(encode_session_key(SessionKey(5.0, "s1"), "x") + "==")
    head = good[:9]  # version and scope digest
    for fields in (
        struct.pack(">d", float("nan")) + b"\x02s1",
        struct.pack(">d", float("inf")) + b"\x02s1",
        struct.pack(">d", -1.0) + b"\x02s1",
        struct.pack(">d", 5.0) + b"\x02s\xff",  # not an id
        struct.pack(">d", 5.0) + b"\x05s1",  # shorter than it says
        struct.pack(">d", 5.0) + b"\x02s1!",  # trailing bytes
        struct.pack(">d", 5.0) + b"\x00",  # an empty id
    ):
        with pytest.raises(InvalidInput, match="not a token this server issued"):
            decode_session_key(b64(head + fields), "x")
    with pytest.raises(InvalidInput, match="not a token"):
        decode_session_key(b64(b"\x02" + good[1:]), "x")  # a version this server does not know
    turn_head = base64.urlsafe_b64decode(encode_turn_number(1, "t") + "==")[:9]
    for number in (0, 2**53 + 1, 2**64 - 1):
        with pytest.raises(InvalidInput, match="not a token"):
            decode_turn_number(b64(turn_head + struct.pack(">Q", number)), "t")


@given(st.text(max_size=600))
def test_any_text_is_a_token_or_invalid_input(token: str) -> None:
    for decode in DECODERS:
        try:
            decode(token, "sessions:")
        except InvalidInput as exc:
            assert exc.field == "page_token"


@given(st.binary(max_size=400), scopes)
def test_any_bytes_are_a_token_or_invalid_input(raw: bytes, scope: str) -> None:
    for decode in DECODERS:
        try:
            decode(b64(raw), scope)
        except InvalidInput as exc:
            assert exc.field == "page_token"


@given(times, ids, st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=255))
def test_a_tampered_token_decodes_to_a_valid_key_or_is_refused(
    create_time: float, session_id: str, at: int, value: int
) -> None:
    raw = bytearray(base64.urlsafe_b64decode(encode_session_key(SessionKey(create_time, session_id), "x") + "=="))
    raw[at % len(raw)] = value
    try:
        key = decode_session_key(b64(bytes(raw)), "x")
    except InvalidInput:
        return
    assert key is not None and key.create_time >= 0 and 1 <= len(key.session_id) <= 128
