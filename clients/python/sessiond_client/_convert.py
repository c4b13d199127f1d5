"""Python values to and from the protobuf well-known types the API uses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from google.protobuf import json_format, struct_pb2

# A Struct holds numbers as doubles: past 2**53 an integer silently changes.
MAX_EXACT_INT = 2**53
# The server refuses state whose objects and arrays nest deeper (INVALID_ARGUMENT).
MAX_STATE_DEPTH = 24

JsonObject = Mapping[str, Any]


def to_struct(data: JsonObject | struct_pb2.Struct) -> struct_pb2.Struct:
    """Convert a JSON-like mapping to a Struct (a Struct is returned as is).

    Args:
        data: str keys; values None, bool, int, float, str, mappings and
            lists or tuples of these, nested at most MAX_STATE_DEPTH levels
            (the top-level mapping is level 1).

    Returns:
        The Struct.

    Raises:
        TypeError: A key is not a str, or a value has an unsupported type.
        ValueError: A number is not finite, an integer is too large for a
            double to hold exactly, or the value nests too deep.
    """
    if isinstance(data, struct_pb2.Struct):
        return data
    struct = struct_pb2.Struct()
    struct.update(_plain_object(data, "$", 1))
    return struct


def to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Convert a Struct to a dict; whole numbers come back as int.

    Args:
        struct: A Struct such as ``Session.session_state``.

    Returns:
        The dict.
    """
    return _ints(json_format.MessageToDict(struct))  # type: ignore[no-any-return]


def seconds_to_timedelta(seconds: float | None) -> timedelta | None:
    """Seconds as a timedelta (which the messages accept for Duration fields); None stays None."""
    return None if seconds is None else timedelta(seconds=seconds)


def _plain_object(data: JsonObject, path: str, depth: int) -> dict[str, Any]:
    if depth > MAX_STATE_DEPTH:
        raise ValueError(f"{path}: nests deeper than {MAX_STATE_DEPTH} levels of objects and arrays")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"{path}: keys must be str, not {type(key).__name__}")
        out[key] = _plain(value, f"{path}.{key}", depth)
    return out


def _plain(value: Any, path: str, depth: int) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            raise ValueError(f"{path}: {value} is too large to be sent exactly (limit 2**53)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value} is not a JSON number")
        return value
    if isinstance(value, Mapping):
        return _plain_object(value, path, depth + 1)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        if depth + 1 > MAX_STATE_DEPTH:
            raise ValueError(f"{path}: nests deeper than {MAX_STATE_DEPTH} levels of objects and arrays")
        return [_plain(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} is not a JSON value")


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_INT:
        return int(value)
    if isinstance(value, dict):
        return {key: _ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_ints(item) for item in value]
    return value
