"""Hypothesis strategies for any protobuf request, built from its descriptor alone.

Every field gets values chosen for its type (and, for strings, its name): ids that
exist, ids that do not, malformed ids; huge, unicode and control-character text;
extreme integers; NaN and infinite floats; enum numbers no enum defines; deep, huge
and non-finite ``google.protobuf.Struct`` values; out-of-range Durations and
Timestamps; field masks; filters; crafted page tokens. A request can then carry
unknown fields after its own.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2, text_format, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

from tests.fuzz import wire

F = FieldDescriptor
INT32 = (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32)
INT64 = (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64)
UINT32 = (F.TYPE_UINT32, F.TYPE_FIXED32)
UINT64 = (F.TYPE_UINT64, F.TYPE_FIXED64)
MAX_DEPTH = 3  # sessiond's messages nest 2 deep; deeper is only Struct, generated on its own
# Valid Timestamp seconds are 0001-01-01 to 9999-12-31; Duration seconds are +-10,000 years.
TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
DURATION_SECONDS = 315_576_000_000

# --- scalars ------------------------------------------------------------------------------


def _edges(low: int, high: int, *more: int) -> st.SearchStrategy[int]:
    # 0 first: the simplest example Hypothesis tries (and shrinks to) is the plain value.
    special = [0, *sorted({low, low + 1, -1, 1, high - 1, high, *more} - {0})]
    return st.one_of(st.sampled_from(special), st.integers(low, high))


INT32_VALUES = _edges(-(2**31), 2**31 - 1, 5, 20, 50, 100, 101, 500, 501, 1000, 1001)
INT64_VALUES = _edges(-(2**63), 2**63 - 1, 2**53, 2**53 + 1, 2**31, 10**12)
UINT32_VALUES = _edges(0, 2**32 - 1)
UINT64_VALUES = _edges(0, 2**64 - 1)
FLOATS = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]), st.floats())

SPECIAL_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\r\n",
    "\x1b[2J",
    "\u202eevil",
    "\ufeff",
    "\uffff",
    "\U0001d518\U0001d52b\U0001d526",
    "👩‍👩‍👧‍👦",
    "e\u0301" * 50,
    "null",
    "%s%n%x",
    "' OR 1=1 --",
    "{session_id}",
    "../../etc/passwd",
)
# Just past the API's documented limits, and past gRPC's 4 MiB message limit.
HUGE_LENGTHS = (101, 129, 201, 257, 501, 1025, 2049, 65_537, 1_000_000, 4_200_000)


def texts() -> st.SearchStrategy[str]:
    control = st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp"])
    return st.one_of(
        st.sampled_from(SPECIAL_TEXT),
        st.text(max_size=40),
        st.text(control, min_size=1, max_size=20),
        st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "😀", "\x00"]), st.sampled_from(HUGE_LENGTHS)),
    )


def ids(existing: Sequence[str]) -> st.SearchStrategy[str]:
    """Ids that name something the test created, valid ids that name nothing, and
    strings that are not ids at all."""
    return st.one_of(
        st.sampled_from(existing),
        st.sampled_from(existing),  # twice: most calls should reach past id validation
        st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True),
        st.sampled_from(["", "a b", "x" * 129, ".", "*", "a/b", "{tag}", "é", "id\n", "\x00", "s" + "\u200b"]),
        texts(),
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=10), st.just([])
)
CRAFTED_TOKENS = (
    b'{"o": 1e400, "s": 0}',
    b'{"o": -1e400, "s": 0}',
    b'{"o": NaN, "s": 0}',
    b'{"o": Infinity, "s": 0}',
    b'{"o": 1e308, "s": 1e308}',
    b'{"o": 100000000000000000000000000000000000000, "s": 0}',
    b'{"o": -1, "s": 0}',
    b'{"o": "1", "s": "x"}',
    b'{"o": [], "s": {}}',
    b"[" * 100_000,
    b'{"o":' * 50_000,
    b"null",
    b'"o"',
    b"\xff\xfe\x00",
)


def page_tokens() -> st.SearchStrategy[str]:
    """Tokens a server never issued: garbage, and base64 of JSON crafted to break a
    decoder (overflowing floats, deep nesting, wrong types)."""
    crafted = st.sampled_from(CRAFTED_TOKENS).map(_b64)
    return st.one_of(
        crafted,
        crafted,
        st.fixed_dictionaries({"o": JSON_SCALARS, "s": JSON_SCALARS}).map(lambda d: _b64(json.dumps(d).encode())),
        st.binary(max_size=32).map(_b64),
        st.sampled_from(["x", "!!!", "====", "a" * 10_001]),
        texts(),
    )


FILTER_FIELDS = ("player_id", "game_id", "channel_id", "character_id", "world_id", "state", "session_id", "nope", "")
STATE_WORDS = ("ACTIVE", "PAUSED", "ENDED", "EXPIRED", "STATE_UNSPECIFIED", "99", "-1", "active")


def filters(existing: Sequence[str]) -> st.SearchStrategy[str]:
    """AIP-160-ish filters: valid terms, unknown fields and values, bad syntax."""
    value = st.one_of(
        st.sampled_from(existing),
        st.sampled_from(STATE_WORDS),
        ids(existing).map(lambda v: '"' + v.replace('"', "") + '"'),
        st.sampled_from(['"unterminated', '""', "a b", '"\\"', "*"]),
    )
    op = st.sampled_from(["=", " = ", "!=", "==", ":", "", " < "])
    term = st.builds(lambda f, o, v: f + o + v, st.sampled_from(FILTER_FIELDS), op, value)
    return st.one_of(
        st.lists(term, min_size=1, max_size=4).map(" AND ".join),
        st.lists(term, min_size=2, max_size=3).map(" OR ".join),
        st.sampled_from(["AND", " AND AND ", "(state=ACTIVE)", "NOT state=ACTIVE", "state=ACTIVE AND state=PAUSED"]),
        st.builds(lambda n: "state=ACTIVE AND " * n + "state=PAUSED", st.sampled_from([100, 10_000])),
        texts(),
    )


def etags() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["", "0", 'W/"1"', "*"]), st.text(max_size=20), texts())


# --- well-known types -----------------------------------------------------------------------


def json_values(depth: int = 0) -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), FLOATS, st.integers(-(2**63), 2**63), texts())
    keys = st.one_of(st.text(max_size=8), st.sampled_from(["", "\x00", "a.b", "$ref", "__proto__"]))
    nested = st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )
    return nested


def _deep(depth: int, in_lists: bool) -> Any:
    value: Any = {}
    for _ in range(depth - 1):
        value = [value] if in_lists else {"a": value}
    return value


def json_objects() -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects for Struct fields: small and odd, nested deep, or huge."""
    keys = st.one_of(st.text(max_size=8), st.sampled_from(["", "\x00", "null"]))
    return st.one_of(
        st.dictionaries(keys, json_values(), max_size=5),
        st.builds(lambda d, lists: {"deep": _deep(d, lists)}, st.sampled_from(wire.DEEP_STRUCT_DEPTHS), st.booleans()),
        st.builds(lambda n: {"big": "x" * n}, st.sampled_from([65_537, 1_000_000])),
        st.builds(lambda n: {f"k{i}": i for i in range(n)}, st.sampled_from([5_000, 20_000])),
        st.builds(lambda n: {"nums": [math.nan] * n}, st.just(1)),
    )


def structs() -> st.SearchStrategy[struct_pb2.Struct]:
    def make(data: dict[str, Any]) -> struct_pb2.Struct:
        out = struct_pb2.Struct()
        out.update(data)
        return out

    return json_objects().map(make)


def durations() -> st.SearchStrategy[duration_pb2.Duration]:
    seconds = _edges(
        -(2**63), 2**63 - 1, DURATION_SECONDS, DURATION_SECONDS + 1, -DURATION_SECONDS - 1, 59, 60, 3600, 3601
    )
    nanos = _edges(-(2**31), 2**31 - 1, 999_999_999, 1_000_000_000, -999_999_999)
    return st.builds(duration_pb2.Duration, seconds=seconds, nanos=nanos)


def timestamps() -> st.SearchStrategy[timestamp_pb2.Timestamp]:
    seconds = _edges(-(2**63), 2**63 - 1, *TIMESTAMP_SECONDS, TIMESTAMP_SECONDS[1] + 1, TIMESTAMP_SECONDS[0] - 1)
    nanos = _edges(-(2**31), 2**31 - 1, 999_999_999, 1_000_000_000)
    return st.builds(timestamp_pb2.Timestamp, seconds=seconds, nanos=nanos)


def _field_names(descriptor: Descriptor, depth: int = 0) -> set[str]:
    names: set[str] = set()
    for field in descriptor.fields:
        names.add(field.name)
        message = field.message_type
        if message is not None and depth < 2 and not message.full_name.startswith("google.protobuf."):
            names.update(f"{field.name}.{sub}" for sub in _field_names(message, depth + 1))
    return names


def field_masks(siblings: Descriptor) -> st.SearchStrategy[field_mask_pb2.FieldMask]:
    """Masks over the fields next to the mask (real paths, nested ones) and junk paths."""
    real = sorted(_field_names(siblings)) or ["x"]
    path = st.one_of(st.sampled_from(real), st.sampled_from(["", "*", "nope", "a..b", "display_name.x", "."]), texts())
    return st.lists(path, max_size=5).map(lambda paths: field_mask_pb2.FieldMask(paths=paths))


# --- messages -------------------------------------------------------------------------------

WELL_KNOWN = {
    "google.protobuf.Struct": lambda _parent: structs(),
    "google.protobuf.Duration": lambda _parent: durations(),
    "google.protobuf.Timestamp": lambda _parent: timestamps(),
    "google.protobuf.FieldMask": field_masks,
    "google.protobuf.Value": lambda _parent: json_values().map(_value),
}


def _value(data: Any) -> struct_pb2.Value:
    holder = struct_pb2.Struct()
    holder.update({"v": data})
    return holder.fields["v"]


def _string(field: FieldDescriptor, existing: Sequence[str]) -> st.SearchStrategy[str]:
    name = field.name
    if name == "page_token":
        return page_tokens()
    if name == "filter":
        return filters(existing)
    if name == "etag":
        return etags()
    if name.endswith("_id") or name in ("opened_by",):
        return ids(existing)
    return st.one_of(st.sampled_from(existing), texts())


def _scalar(field: FieldDescriptor, parent: Descriptor, existing: Sequence[str], depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == F.TYPE_STRING:
        return _string(field, existing)
    if kind == F.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == F.TYPE_BOOL:
        return st.booleans()
    if kind in INT32:
        return INT32_VALUES
    if kind in INT64:
        return INT64_VALUES
    if kind in UINT32:
        return UINT32_VALUES
    if kind in UINT64:
        return UINT64_VALUES
    if kind == F.TYPE_DOUBLE:
        return FLOATS
    if kind == F.TYPE_FLOAT:
        return st.one_of(st.sampled_from([math.nan, math.inf, -math.inf]), st.floats(width=32))
    if kind == F.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.sampled_from([max(known) + 1, -1, 2**31 - 1]), INT32_VALUES)
    message = field.message_type
    if message.full_name in WELL_KNOWN:
        return WELL_KNOWN[message.full_name](parent)
    return messages(message, existing, depth + 1)


def _values(field: FieldDescriptor, parent: Descriptor, existing: Sequence[str], depth: int) -> st.SearchStrategy[Any]:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        key, value = message.fields_by_name["key"], message.fields_by_name["value"]
        small = st.dictionaries(
            _scalar(key, message, existing, depth), _scalar(value, message, existing, depth), max_size=4
        )
        many = st.builds(lambda n: {f"k{i}": "v" for i in range(n)}, st.sampled_from([51, 1000]))
        return small | many if value.type == F.TYPE_STRING else small
    if field.is_repeated:
        one = _scalar(field, parent, existing, depth)
        return st.one_of(st.lists(one, max_size=4), st.builds(_copies, one, st.sampled_from([21, 51, 1001])))
    return _scalar(field, parent, existing, depth)


REPEATED_BYTES_MAX = 8 << 20
"""Copies of one value stop here: past grpc's 4 MiB receive limit, far below the machine's
memory (1,001 copies of a 4 MB string, or of a message holding such copies, would not be)."""


def _copies(value: Any, count: int) -> list[Any]:
    """``count`` copies of ``value``, fewer when they would pass REPEATED_BYTES_MAX."""
    size = value.ByteSize() if isinstance(value, Message) else len(value) if isinstance(value, str | bytes) else 8
    return [value] * max(1, min(count, REPEATED_BYTES_MAX // max(size, 1)))


def _assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    target = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        target.update(value)
    elif field.is_repeated:
        target.extend(value)
    elif field.message_type is not None:
        target.CopyFrom(value)
    else:
        setattr(message, field.name, value)


def messages(descriptor: Descriptor, existing: Sequence[str], depth: int = 0) -> st.SearchStrategy[Message]:
    """Instances of ``descriptor``'s message: each field left unset or given a value
    from the strategy of its type; ``existing`` are ids the server knows."""
    cls = GetMessageClass(descriptor)
    if depth > MAX_DEPTH:
        return st.builds(cls)
    # Built lazily: strategies of message fields refer to this one's helpers.
    fields = [
        (field, st.deferred(lambda f=field: _values(f, descriptor, existing, depth))) for field in descriptor.fields
    ]

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        out = cls()
        for field, values in fields:
            # Set 3 times in 4, and in the first example Hypothesis tries, which sets every
            # field to the first (most telling) value of its strategy: an id that exists, a
            # page token crafted to break a decoder.
            if draw(st.integers(0, 3)) < 3:
                _assign(out, field, draw(values))
        return out

    return build()


def request_bytes(descriptor: Descriptor, existing: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Serialized requests, sometimes followed by unknown fields."""
    extra = st.one_of(st.just(b""), wire.unknown_fields())
    return st.builds(lambda m, tail: m.SerializeToString() + tail, messages(descriptor, existing), extra)


_RUN = re.compile(r"(.)\1{15,}", re.DOTALL)


def one_line(message: Message, limit: int = 1500) -> str:
    """``message`` as one line of text format, long runs of one character shortened (a
    1 MB title stays readable) and cut at ``limit`` characters."""
    text = text_format.MessageToString(message, as_one_line=True, as_utf8=True)
    text = _RUN.sub(lambda m: f"{m.group(1) * 3}...({len(m.group(0))}x)", text) or "(empty)"
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class Shown:
    """A drawn message that Hypothesis' report of a failing example prints as one line."""

    def __init__(self, message: Message) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"{self.message.DESCRIPTOR.name}<{one_line(self.message)}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis' printer asks for this
        printer.text(repr(self))
