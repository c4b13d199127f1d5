"""Request ids (AIP-155) and keyset paging on every store: the memo of a request id is
committed in the same step as the change it records, so a repeat finds it on any backend.
"""

from __future__ import annotations

import pytest

from sessiond.core.errors import RequestIdReused, StaleStateVersion
from sessiond.core.lifecycle import patch_session_state
from sessiond.core.limits import Limits
from sessiond.core.models import PlayerProfile
from sessiond.core.requests import MAX_ENTRIES, RequestTag
from sessiond.manager import commits
from sessiond.manager.manager_config import ManagerConfig
from sessiond.manager.players import PlayerManager
from sessiond.manager.sessions import SessionManager
from sessiond.store.protocols import SessionStore
from tests.contract.test_store_contract import created

LIMITS = Limits()


def patch(version: int | None, **values: object) -> object:
    return patch_session_state(dict(values), version, LIMITS)


async def test_a_repeated_request_id_changes_nothing_and_answers_the_first_range(store: SessionStore) -> None:
    await created(store, "s1")
    tag = RequestTag("req-1", "fp-a")
    with commits.recording() as first_log:
        first, _ = await commits.mutate_once(store, "s1", patch(0, hp=1), tag)  # type: ignore[arg-type]
    # The memo is part of the committed record, read back like any field.
    stored = await store.get("s1")
    assert stored.requests["req-1"].first_event_id == first.last_event_id == stored.last_event_id
    with commits.recording() as again_log:
        again, result = await commits.mutate_once(store, "s1", patch(0, hp=1), tag)  # type: ignore[arg-type]
    # The version check (0) is stale now; a repeat is not re-checked, it is answered.
    assert result == stored.requests["req-1"]
    after = await store.get("s1")
    assert (after.revision, after.state_version, after.last_event_id) == (
        first.revision,
        first.state_version,
        first.last_event_id,
    )
    assert again_log.range_of("s1") == first_log.range_of("s1")
    with pytest.raises(StaleStateVersion):  # a new request id is a new call, checked afresh
        await commits.mutate_once(store, "s1", patch(0, hp=1), RequestTag("req-2", "fp-a"))  # type: ignore[arg-type]


async def test_a_request_id_reused_for_another_request_is_refused_and_changes_nothing(store: SessionStore) -> None:
    await created(store, "s1")
    await commits.mutate_once(store, "s1", patch(None, hp=1), RequestTag("req-1", "fp-a"))  # type: ignore[arg-type]
    before = await store.get("s1")
    with pytest.raises(RequestIdReused):
        await commits.mutate_once(store, "s1", patch(None, hp=2), RequestTag("req-1", "fp-b"))  # type: ignore[arg-type]
    after = await store.get("s1")
    kept = (before.revision, before.session_state, before.last_event_id)
    assert (after.revision, after.session_state, after.last_event_id) == kept


async def test_the_memo_keeps_only_the_most_recent_request_ids(store: SessionStore) -> None:
    await created(store, "s1")
    for n in range(MAX_ENTRIES + 1):
        await commits.mutate_once(store, "s1", patch(None, n=n), RequestTag(f"req-{n}", "fp"))  # type: ignore[arg-type]
    kept = (await store.get("s1")).requests
    assert len(kept) == MAX_ENTRIES and "req-0" not in kept and f"req-{MAX_ENTRIES}" in kept


async def test_a_repeated_profile_upsert_writes_nothing(store: SessionStore) -> None:
    players = PlayerManager(store, ManagerConfig())
    tag = RequestTag("up-1", "fp")
    await players.upsert_profile(PlayerProfile("p1", display_name="Al"), frozenset(), "")
    first = await players.upsert_profile(PlayerProfile("p1", display_name="Ann"), frozenset(), "r1", tag)
    # Conditional on r1, which the first attempt moved on: a repeat is answered, not refused.
    again = await players.upsert_profile(PlayerProfile("p1", display_name="Ann"), frozenset(), "r1", tag)
    assert again.revision == first.revision == 2 and (await store.get_profile("p1")).revision == 2
    with pytest.raises(RequestIdReused):
        await players.upsert_profile(
            PlayerProfile("p1", display_name="Bob"), frozenset(), "", RequestTag("up-1", "fp-b")
        )
    assert (await store.get_profile("p1")).display_name == "Ann"


async def test_pages_of_sessions_neither_repeat_nor_skip_while_sessions_are_created(store: SessionStore) -> None:
    manager = SessionManager(store, ManagerConfig(max_sessions=100))
    for n in range(7):
        await created(store, f"old-{n}")
    seen: list[str] = []
    token = ""
    made = 0
    while True:
        page = await manager.list_sessions("", 2, token)
        seen += [s.session_id for s in page.items]
        token = page.next_page_token
        if not token:
            break
        await created(store, f"new-{made}")  # newer than every listed one: it sorts before the cursor
        made += 1
    assert made >= 3
    assert sorted(seen) == [f"old-{n}" for n in range(7)]  # each old session once; none skipped
