"""Python values to Struct and back."""

from __future__ import annotations

import math
import re
from types import MappingProxyType

import pytest
from google.protobuf import struct_pb2

from sessiond_client import dict_to_struct, struct_to_dict


def test_nested_values_round_trip() -> None:
    data = {"hp": 3, "ratio": 0.5, "name": "x", "alive": True, "gone": None, "bag": [1, "a", {"k": [False]}]}
    struct = dict_to_struct(data)
    assert struct.fields["hp"].number_value == 3
    assert struct.fields["gone"].WhichOneof("kind") == "null_value"
    assert struct_to_dict(struct) == data
    assert type(struct_to_dict(struct)["hp"]) is int


def test_any_mapping_and_tuple_are_accepted() -> None:
    struct = dict_to_struct(MappingProxyType({"a": MappingProxyType({"b": (1, 2)})}))
    assert struct_to_dict(struct) == {"a": {"b": [1, 2]}}


def test_struct_is_passed_through() -> None:
    struct = struct_pb2.Struct()
    struct.update({"a": 1})
    assert dict_to_struct(struct) is struct


def test_empty_mapping_gives_empty_struct() -> None:
    assert dict_to_struct({}) == struct_pb2.Struct()


@pytest.mark.parametrize(
    ("data", "error", "where"),
    [
        ({"n": 2**53 + 1}, ValueError, "$.n"),
        ({"a": [0, math.nan]}, ValueError, "$.a[1]"),
        ({"a": {"b": math.inf}}, ValueError, "$.a.b"),
        ({"s": {1, 2}}, TypeError, "$.s"),
        ({"b": b"raw"}, TypeError, "$.b"),
        ({"a": {1: "x"}}, TypeError, "$.a"),
    ],
)
def test_values_json_cannot_hold_are_refused(data: dict[str, object], error: type[Exception], where: str) -> None:
    with pytest.raises(error, match="^" + re.escape(where)):
        dict_to_struct(data)


def test_largest_exact_integer_is_accepted() -> None:
    assert struct_to_dict(dict_to_struct({"n": 2**53})) == {"n": 2**53}
