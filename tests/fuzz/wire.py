"""Protobuf wire bytes by hand: valid unknown fields, and malformed requests a real
decoder must refuse (truncated varints and lengths, invalid UTF-8 in string fields,
bad wire types, Structs nested deeper than the decoder allows).

Written from the encoding spec rather than through the protobuf library, which will
not produce most of these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import strategies as st

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
STRUCT = "google.protobuf.Struct"
# Depths (in JSON objects) around the protobuf decoder's limit of 100 message levels:
# a Struct object costs three (Struct, its map entry, Value).
DEEP_STRUCT_DEPTHS = (34, 35, 40, 64, 100, 300)  # 35 is the first the decoder refuses
INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"ok\xf8\x88\x80\x80\x80", b"\xe2\x82")

Wrap = Callable[[bytes], bytes]


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative numbers as two's complement, as protobuf does
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return tag(number, LEN) + varint(len(payload)) + payload


def deep_struct(depth: int) -> bytes:
    """A Struct ``{"a": {"a": ... {}}}`` with ``depth`` objects, encoded by hand."""
    inner = b""
    for _ in range(depth - 1):
        value = length_delimited(5, inner)  # Value.struct_value
        entry = length_delimited(1, b"a") + length_delimited(2, value)  # map entry: key, value
        inner = length_delimited(1, entry)  # Struct.fields
    return inner


# --- fields reachable in a request, with how to wrap bytes into its position ---------------


def _fields(descriptor: Descriptor, wrap: Wrap, depth: int = 0) -> Iterator[tuple[FieldDescriptor, Wrap]]:
    for field in descriptor.fields:
        yield field, wrap
        message = field.message_type
        if message is not None and depth < 3 and not message.full_name.startswith("google.protobuf."):
            yield from _fields(message, _nest(wrap, field.number), depth + 1)


def _nest(outer: Wrap, number: int) -> Wrap:
    return lambda inner: outer(length_delimited(number, inner))


def _top(payload: bytes) -> bytes:
    return payload


def string_fields(descriptor: Descriptor) -> list[tuple[FieldDescriptor, Wrap]]:
    # Map entries are messages too: map<string, string> keys and values are found as well.
    return [(f, w) for f, w in _fields(descriptor, _top) if f.type == FieldDescriptor.TYPE_STRING]


def struct_fields(descriptor: Descriptor) -> list[tuple[FieldDescriptor, Wrap]]:
    return [(f, w) for f, w in _fields(descriptor, _top) if f.message_type and f.message_type.full_name == STRUCT]


# --- strategies ------------------------------------------------------------------------------


def unknown_fields() -> st.SearchStrategy[bytes]:
    """Well-formed fields with numbers no sessiond message uses: a decoder keeps them
    as unknown fields and the request must be served as if they were absent."""
    numbers = st.integers(min_value=1000, max_value=(1 << 29) - 1)
    one = st.one_of(
        st.builds(lambda n, v: tag(n, VARINT) + varint(v), numbers, st.integers(0, (1 << 64) - 1)),
        st.builds(lambda n, b: tag(n, FIXED64) + b, numbers, st.binary(min_size=8, max_size=8)),
        st.builds(lambda n, b: tag(n, FIXED32) + b, numbers, st.binary(min_size=4, max_size=4)),
        st.builds(length_delimited, numbers, st.binary(max_size=64)),
        st.builds(lambda n: tag(n, START_GROUP) + tag(n, END_GROUP), numbers),
    )
    return st.lists(one, min_size=1, max_size=4).map(b"".join)


def malformed(descriptor: Descriptor) -> st.SearchStrategy[bytes]:
    """Bytes that are not a valid encoding of ``descriptor``'s message."""
    numbers = st.sampled_from([f.number for f in descriptor.fields] or [1])
    choices: list[st.SearchStrategy[bytes]] = [
        # A varint that never ends: every byte has its continuation bit set.
        st.builds(lambda n, k: tag(n, VARINT) + b"\xff" * k, numbers, st.integers(1, 11)),
        st.just(b"\x80"),
        # A length that runs past the end of the message.
        st.builds(
            lambda n, k, b: tag(n, LEN) + varint(len(b) + k) + b, numbers, st.integers(1, 10**6), st.binary(max_size=8)
        ),
        # Wire types 6 and 7 do not exist; field number 0 is invalid.
        st.builds(lambda n, t: tag(n, t) + b"\x00", numbers, st.sampled_from([6, 7])),
        st.just(b"\x00\x00"),
        # An END_GROUP with no START_GROUP.
        st.builds(lambda n: tag(n, END_GROUP), numbers),
        # A varint of 11 bytes (the most is 10).
        st.builds(lambda n: tag(n, VARINT) + b"\xff" * 10 + b"\x01", numbers),
    ]
    strings = string_fields(descriptor)
    if strings:
        choices.append(
            st.builds(
                lambda fw, bad: fw[1](length_delimited(fw[0].number, bad)),
                st.sampled_from(strings),
                st.sampled_from(INVALID_UTF8),
            )
        )
    structs = struct_fields(descriptor)
    if structs:
        choices.append(
            st.builds(
                lambda fw, depth: fw[1](length_delimited(fw[0].number, deep_struct(depth))),
                st.sampled_from(structs),
                st.sampled_from(DEEP_STRUCT_DEPTHS),
            )
        )
    return st.one_of(choices)


def prefixed(valid: st.SearchStrategy[bytes], broken: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Broken bytes after a valid message: the decoder reads the good part first."""
    return st.builds(lambda a, b: a + b, valid, broken)
