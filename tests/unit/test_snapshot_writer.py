"""The memory store's snapshots: written by a forked child from the store as it was when
the snapshot was asked for, loaded by ``start``, written last by ``close``."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from pathlib import Path

import pytest

from sessiond.core.lifecycle import LifecycleAction, SessionSpec
from sessiond.core.models import SessionState
from sessiond.manager.manager_config import ManagerConfig
from sessiond.manager.sessions import SessionManager
from sessiond.store import snapshot
from sessiond.store._bookkeeping import tally
from sessiond.store.memory import MemoryStore
from sessiond.store.protocols import SessionQuery

EMPTY = snapshot.Contents({"format": 1}, [])


def written(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    del data["id"], data["taken_at"]
    return data


def encoded(store: MemoryStore) -> dict[str, object]:
    data: dict[str, object] = json.loads(snapshot.encode(store.dump()))
    del data["taken_at"]
    return data


async def test_a_snapshot_is_the_store_when_asked_for_whatever_changes_while_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    store = MemoryStore(snapshot_path=path)
    manager = SessionManager(store, ManagerConfig())
    await manager.create_session(SessionSpec(session_state={"hp": 1}), "s1", "")
    saving = asyncio.create_task(store.save_snapshot())
    await asyncio.sleep(0)  # the child is forked: what follows is not in this snapshot
    await manager.update_session_state("s1", {"hp": 2}, None)
    await manager.create_session(SessionSpec(), "s2", "")
    await saving
    written = json.loads(path.read_text())
    assert [item["session"]["session_id"] for item in written["sessions"]] == ["s1"]
    assert written["sessions"][0]["session"]["state"] == {"hp": 1}


async def test_close_writes_the_last_snapshot_and_start_loads_it(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    first = MemoryStore(snapshot_path=path, snapshot_interval=3600)
    await first.start()  # no file yet: an empty store
    await SessionManager(first, ManagerConfig()).create_session(SessionSpec(session_state={"hp": 3}), "s1", "")
    await first.close()
    second = MemoryStore(snapshot_path=path, snapshot_interval=3600)
    await second.start()
    try:
        assert (await second.get("s1")).session_state == {"hp": 3}
    finally:
        await second.close()


async def test_stats_after_a_restart_count_what_the_snapshot_held_and_stay_exact(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    first = MemoryStore(snapshot_path=path, snapshot_interval=3600)
    await first.start()
    manager = SessionManager(first, ManagerConfig())
    for sid in ("s1", "s2", "s3"):
        await manager.create_session(SessionSpec(), sid, "")
        await manager.join(sid, "p1", "", None)
    await manager.change_state("s2", LifecycleAction.END, "", None)
    before = await first.stats()
    await first.close()
    second = MemoryStore(snapshot_path=path, snapshot_interval=3600)
    await second.start()
    try:
        assert await second.stats() == before
        await SessionManager(second, ManagerConfig()).delete_session("s1", "")
        everything, _ = await second.find(SessionQuery(), None, 10)
        assert await second.stats() == tally(everything)
        assert (await second.stats()).sessions_by_state == {SessionState.ACTIVE: 1, SessionState.ENDED: 1}
    finally:
        await second.close()


async def test_a_failed_snapshot_raises_and_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text('{"format": 1, "sessions": []}')

    def unwritable() -> snapshot.Contents:
        return snapshot.Contents({"format": 1}, [("s1", 1, lambda: {"session": object()})])  # not JSON

    with pytest.raises(OSError, match="keeps the previous snapshot"):
        await snapshot.SnapshotWriter(path, unwritable).save()
    assert json.loads(path.read_text()) == {"format": 1, "sessions": []}


async def test_a_cancelled_snapshot_stops_its_child_and_the_next_one_is_written(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"

    def endless() -> snapshot.Contents:
        time.sleep(3600)  # in the child, until it is killed
        return EMPTY

    saving = asyncio.create_task(snapshot.SnapshotWriter(path, endless).save())
    await asyncio.sleep(0)  # the child is forked
    saving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await saving  # returns once the child is gone, not in an hour
    assert not path.exists()
    size = await snapshot.SnapshotWriter(path, lambda: EMPTY).save()
    assert size == path.stat().st_size > 0


async def test_sessions_unchanged_since_the_last_snapshot_are_copied_and_the_file_is_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    store = MemoryStore(snapshot_path=path)
    manager = SessionManager(store, ManagerConfig())
    for n in range(6):
        await manager.create_session(SessionSpec(session_state={"n": n}), f"s{n}", "")
    await store.save_snapshot()
    await manager.update_session_state("s2", {"n": 20}, None)
    await manager.delete_session("s4", "")
    await manager.create_session(SessionSpec(), "s6", "")
    unchanged = {"s0", "s1", "s3", "s5"}  # copied in runs: s0-s1, s3, s5
    real_encode = snapshot.encode

    def copy_unchanged(data: dict[str, object]) -> bytes:
        if getattr(data.get("session"), "session_id", "") in unchanged:
            raise AssertionError("an unchanged session is copied, never encoded again")
        return real_encode(data)

    monkeypatch.setattr(snapshot, "encode", copy_unchanged)  # the child inherits it; a raise fails the save
    await store.save_snapshot()
    assert written(path) == encoded(store)
    # A restarted store adopts the file's index: its next snapshot copies every session.
    restarted = MemoryStore(snapshot_path=path)
    await restarted.start()
    unchanged.discard("s3")
    await SessionManager(restarted, ManagerConfig()).update_session_state("s3", {"late": True}, None)
    await restarted.close()
    assert written(path) == encoded(restarted)


async def test_a_file_that_is_not_the_indexed_one_is_not_copied_from(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    store = MemoryStore(snapshot_path=path)
    await SessionManager(store, ManagerConfig()).create_session(SessionSpec(session_state={"mine": 1}), "s1", "")
    await store.save_snapshot()
    # Another writer's file of the same size, in the place of ours (an interrupted save).
    foreign = path.read_bytes().replace(b'"mine"', b'"xxxx"')
    path.write_bytes(b'{"id":"0000000000000000",' + foreign[len(b'{"id":"0000000000000000",') :])
    await store.save_snapshot()
    assert written(path) == encoded(store)


@pytest.mark.parametrize(("background", "niceness"), [(True, 19), (False, 0)])
async def test_a_background_snapshot_is_written_at_the_lowest_cpu_priority(
    tmp_path: Path, background: bool, niceness: int
) -> None:
    """A periodic snapshot's child must not take a shared core from serving; the last one,
    written once calls have drained, runs at the server's priority."""
    seen = tmp_path / "niceness"

    def contents() -> snapshot.Contents:
        seen.write_text(str(os.getpriority(os.PRIO_PROCESS, 0)))  # in the child
        return EMPTY

    base = os.getpriority(os.PRIO_PROCESS, 0)
    await snapshot.SnapshotWriter(tmp_path / "snap.json", contents).save(background=background)
    assert int(seen.read_text()) == min(base + niceness, 19)


async def test_no_full_collection_runs_while_the_child_writes_and_the_collector_is_as_before_after(
    tmp_path: Path,
) -> None:
    """A full collection while the child runs would write to every object's header and copy
    the store's pages; young collections go on; afterwards the collector is as it was."""
    before = gc.get_threshold()
    saving = asyncio.create_task(snapshot.SnapshotWriter(tmp_path / "snap.json", lambda: EMPTY).save())
    await asyncio.sleep(0)  # the child is forked; the writer waits for it
    during = gc.get_threshold()
    await saving
    assert during == (before[0], before[1], snapshot.NO_FULL_COLLECTION)
    assert gc.get_threshold() == before and gc.isenabled()
