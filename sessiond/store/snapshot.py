"""Snapshot files of the memory store: written atomically, read at start.

A snapshot holds session state and player profiles, so the file and its temporary
file are created 0600 whatever the umask.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO


def write(path: Path, data: dict[str, Any]) -> int:
    """Write ``data`` as JSON via a temporary file and a rename, so a crash mid-write
    leaves the previous snapshot intact. Returns the bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    blob = json.dumps(data, separators=(",", ":")).encode()
    with open_private(tmp) as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(blob)


def read(path: Path) -> dict[str, Any] | None:
    """The snapshot at ``path``, or None when there is none yet."""
    try:
        with open(path, "rb") as f:
            data: dict[str, Any] = json.load(f)
    except FileNotFoundError:
        return None
    return data


def open_private(path: Path) -> BinaryIO:
    """``path`` created or truncated for writing, readable and writable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left by an older run keeps its mode through O_CREAT
    return os.fdopen(fd, "wb")
