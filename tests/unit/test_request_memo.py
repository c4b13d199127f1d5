"""The memo of request ids is bounded in count and in age (sessiond.core.requests)."""

from __future__ import annotations

import pytest

from sessiond.core.errors import RequestIdReused
from sessiond.core.requests import MAX_AGE, MAX_ENTRIES, RequestMemo, RequestTag, recall, remember
from tests.support import T0


def test_an_entry_is_recalled_until_it_is_older_than_the_bound() -> None:
    tag = RequestTag("r1", "fp")
    memos = remember({}, tag, RequestMemo("fp", T0, 3, 4), T0)
    assert recall(memos, tag, T0 + MAX_AGE) == RequestMemo("fp", T0, 3, 4)
    assert recall(memos, tag, T0 + MAX_AGE + 1) is None  # a repeat that late runs again


def test_remembering_drops_entries_past_the_age_and_the_count() -> None:
    memos: dict[str, RequestMemo] = {}
    for n in range(MAX_ENTRIES):
        memos = remember(memos, RequestTag(f"r{n}", "fp"), RequestMemo("fp", T0 + n), T0 + n)
    later = T0 + MAX_AGE + 1.5  # r0 and r1 are too old by now
    memos = remember(memos, RequestTag("new", "fp"), RequestMemo("fp", later), later)
    assert "r0" not in memos and "r1" not in memos and len(memos) == MAX_ENTRIES - 1
    assert list(memos)[-1] == "new"


def test_the_same_id_with_another_request_is_refused() -> None:
    memos = remember({}, RequestTag("r1", "fp-a"), RequestMemo("fp-a", T0), T0)
    with pytest.raises(RequestIdReused, match="different request"):
        recall(memos, RequestTag("r1", "fp-b"), T0)
