"""The memory store's snapshot file: private whatever the umask, written atomically."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessiond.store import snapshot


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_snapshot_and_its_temporary_file_are_created_0600(
    tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    tmp = path.with_name(path.name + ".tmp")
    # A temporary file and a snapshot left world-readable by an older version.
    tmp.write_bytes(b"old")
    path.write_bytes(b"old")
    assert mode(tmp) == mode(path) == 0o644
    seen: list[int] = []
    real_fsync = os.fsync

    def fsync_and_look(fd: int) -> None:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the temporary file, before the rename
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_and_look)
    snapshot.write(path, {"format": 1, "sessions": []})
    assert seen and all(m == 0o600 for m in seen)
    assert mode(path) == 0o600 and not tmp.exists()
