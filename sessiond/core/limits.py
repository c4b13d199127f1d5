"""Input limits and their checks: pure functions that raise InvalidInput."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sessiond.core import compact_json
from sessiond.core.errors import InvalidInput

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes the API accepts. One instance, built from config, is shared by all rules."""

    max_state_bytes: int = 64 * 1024
    # Below protobuf's decoding limit (a Struct costs three message levels per object,
    # and the decoder stops at 100), with room for the request and Session around it.
    max_state_depth: int = 24
    max_choice_chars: int = 256
    max_options: int = 20
    max_title_chars: int = 200
    max_display_name_chars: int = 100
    max_url_chars: int = 2048
    summary_chars: int = 500
    min_window_seconds: float = 1.0
    max_window_seconds: float = 3600.0
    min_presence_grace_seconds: float = 1.0
    max_presence_grace_seconds: float = 3600.0
    min_idle_ttl_seconds: float = 60.0
    max_idle_ttl_seconds: float = 30 * 24 * 3600.0
    max_players_cap: int = 1000
    max_map_entries: int = 50
    max_map_key_chars: int = 64
    max_map_value_chars: int = 1024
    max_topics: int = 50
    max_topic_chars: int = 100


def check_id(field: str, value: str, *, required: bool = True) -> str:
    """Return ``value`` if it is a valid id (or empty and optional)."""
    if not value:
        if required:
            raise InvalidInput(field, "is required")
        return value
    if not ID_PATTERN.fullmatch(value):
        raise InvalidInput(field, f"{value[:140]!r} is not 1-128 characters of [A-Za-z0-9._:-]")
    return value


def check_text(field: str, value: str, max_chars: int, *, required: bool = False) -> str:
    if required and not value.strip():
        raise InvalidInput(field, "is required and must not be blank")
    if len(value) > max_chars:
        raise InvalidInput(field, f"is {len(value)} characters; the limit is {max_chars}")
    return value


def state_size(state: dict[str, Any]) -> int:
    """Bytes of the state as compact JSON: the size the 64 KiB limit is about."""
    return len(compact_json.dumps(state))


def state_depth(state: Any) -> int:
    """How deep objects and arrays nest in ``state``: 1 for a flat object (iterative, so
    any depth is measured without recursion)."""
    deepest, stack = 0, [(state, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_session_state(field: str, state: dict[str, Any], limits: Limits) -> dict[str, Any]:
    depth = state_depth(state)
    if depth > limits.max_state_depth:
        raise InvalidInput(field, f"objects and arrays nest {depth} levels deep; the limit is {limits.max_state_depth}")
    size = state_size(state)
    if size > limits.max_state_bytes:
        raise InvalidInput(field, f"state would be {size} bytes of JSON; the limit is {limits.max_state_bytes}")
    return state


def check_options(field: str, options: list[str], limits: Limits) -> list[str]:
    if len(options) > limits.max_options:
        raise InvalidInput(field, f"{len(options)} options; the limit is {limits.max_options}")
    seen: set[str] = set()
    for option in options:
        check_text(field, option, limits.max_choice_chars, required=True)
        if option in seen:
            raise InvalidInput(field, f"option {option!r} is listed twice")
        seen.add(option)
    return options


def check_map(field: str, values: dict[str, str], limits: Limits) -> dict[str, str]:
    """A small string map (preferences, extensions): bounded entries, keys and values."""
    if len(values) > limits.max_map_entries:
        raise InvalidInput(field, f"{len(values)} entries; the limit is {limits.max_map_entries}")
    for key, value in values.items():
        if not 1 <= len(key) <= limits.max_map_key_chars:
            raise InvalidInput(field, f"key {key[:80]!r} must be 1-{limits.max_map_key_chars} characters")
        check_text(f"{field}[{key}]", value, limits.max_map_value_chars)
    return values
