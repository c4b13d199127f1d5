"""Idempotent retries (AIP-155): the memo of recent request ids a record carries.

A write that commits with a request id records it on the record it changed (the
session, the profile), in the same atomic step as the change itself, so the memo can
never disagree with what was committed, on any store. A repeat with the same id and
the same request (the same fingerprint) finds the entry and changes nothing; the same
id with another request is refused. The memo is bounded: the ``MAX_ENTRIES`` most
recent ids, none older than ``MAX_AGE`` seconds; a repeat after that runs again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sessiond.core.errors import RequestIdReused
from sessiond.core.limits import check_id

MAX_ENTRIES = 64
MAX_AGE = 15 * 60.0


@dataclass(frozen=True, slots=True)
class RequestTag:
    """What a caller's request id stands for: the id and a digest of the rest of the
    request (method included), so a reused id with a different request is told apart."""

    request_id: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class RequestMemo:
    """The first answer to a request id: when it committed, the ids of the events it
    appended (empty when ``last_event_id == first_event_id - 1``), and what the rule
    returned, in a JSON-ready form the use case reads back on a repeat."""

    fingerprint: str
    time: float
    first_event_id: int = 0
    last_event_id: int = -1
    result: dict[str, Any] = field(default_factory=dict)


def tag(request_id: str, fingerprint: str) -> RequestTag | None:
    """The tag of a call, or None when it sent no request id."""
    if not request_id:
        return None
    return RequestTag(check_id("request_id", request_id), fingerprint)


def recall(memos: dict[str, RequestMemo], request: RequestTag, now: float) -> RequestMemo | None:
    """The memo of an earlier call with this request id, if it is still kept; raises
    RequestIdReused if that call was a different request."""
    memo = memos.get(request.request_id)
    if memo is None or now - memo.time > MAX_AGE:
        return None
    if memo.fingerprint != request.fingerprint:
        raise RequestIdReused(request.request_id)
    return memo


def remember(
    memos: dict[str, RequestMemo], request: RequestTag, memo: RequestMemo, now: float
) -> dict[str, RequestMemo]:
    """A new memo map: ``memos`` without entries past the bounds, plus this one (newest last)."""
    kept = {rid: m for rid, m in memos.items() if now - m.time <= MAX_AGE and rid != request.request_id}
    kept[request.request_id] = memo
    while len(kept) > MAX_ENTRIES:
        del kept[next(iter(kept))]
    return kept


def memos_from_dict(d: dict[str, Any] | None) -> dict[str, RequestMemo]:
    """The memo map as stored (absent in records written before it existed)."""
    return {rid: RequestMemo(**m) for rid, m in (d or {}).items()}
