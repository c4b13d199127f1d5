"""Pure functions: merge-patch (RFC 7396), page tokens, filters, tiers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessiond.core.errors import InvalidInput
from sessiond.core.mergepatch import merge_patch
from sessiond.core.models import PlayerEntry, Tier
from sessiond.core.paging import page_size, parse_filter
from sessiond.core.tiers import TierRules, tier_of

# The examples of RFC 7396, appendix A.
RFC_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_EXAMPLES)
def test_merge_patch_matches_the_rfc_examples(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=3), json_values, max_size=4)


@given(json_objects, json_objects)
def test_merge_patch_never_mutates_its_inputs(target: dict[str, Any], patch: dict[str, Any]) -> None:
    import copy

    before_target, before_patch = copy.deepcopy(target), copy.deepcopy(patch)
    merge_patch(target, patch)
    assert target == before_target and patch == before_patch


@given(json_objects, json_objects)
def test_merge_patch_is_idempotent(target: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once


def test_page_size_defaults_and_caps() -> None:
    assert page_size(0, 50, 500) == 50 and page_size(10_000, 50, 500) == 500
    with pytest.raises(InvalidInput, match="negative"):
        page_size(-1, 50, 500)


def test_filters_parse_quoted_and_bare_values() -> None:
    fields = frozenset({"game_id", "state"})
    assert parse_filter('game_id="g 1" AND state=ACTIVE', fields) == {"game_id": "g 1", "state": "ACTIVE"}
    assert parse_filter("  ", fields) == {}
    with pytest.raises(InvalidInput, match="twice"):
        parse_filter("state=A AND state=B", fields)


@pytest.mark.parametrize(
    ("turns_ago", "minutes_ago", "tier"),
    [
        (0, 0, Tier.ACTIVE),
        (2, 600, Tier.ACTIVE),
        (9, 15, Tier.ACTIVE),
        (3, 16, Tier.IDLE),
        (5, 600, Tier.IDLE),
        (9, 60, Tier.IDLE),
        (6, 61, Tier.DORMANT),
    ],
)
def test_tier_boundaries(turns_ago: int, minutes_ago: float, tier: Tier) -> None:
    now = 10_000_000.0
    player = PlayerEntry("p", "", 0.0, now - minutes_ago * 60, 100 - turns_ago)
    assert tier_of(player, 100, now, TierRules()) is tier
