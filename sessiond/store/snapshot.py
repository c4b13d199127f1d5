"""Snapshot files of the memory store: written atomically, read at start.

A snapshot holds session state and player profiles, so the file and its temporary
file are created 0600 whatever the umask.

``write_forked`` writes from a forked child: the fork is taken between two awaits, so
the child's copy-on-write memory is a consistent picture of the store, and building
and encoding it there costs the serving process nothing but the fork itself. At most
one snapshot is written at a time (they share the temporary file). The child closes the
parent's descriptors and leaves with ``os._exit``: it never runs the parent's code again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def write(path: Path, data: dict[str, Any]) -> int:
    """Write ``data`` as JSON via a temporary file and a rename, so a crash mid-write
    leaves the previous snapshot intact. Returns the bytes written.

    Dataclasses in ``data`` are written as objects of their fields (as ``asdict`` would,
    without its deep copies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    blob = encode(data)
    with open_private(tmp) as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(blob)


def encode(data: dict[str, Any]) -> bytes:
    """``data`` as compact JSON, dataclasses as objects of their fields."""
    return json.dumps(data, separators=(",", ":"), default=_fields_of).encode()


def _fields_of(record: Any) -> dict[str, Any]:
    names = _FIELD_NAMES.get(type(record))
    if names is None:
        if not dataclasses.is_dataclass(record) or isinstance(record, type):
            raise TypeError(f"{type(record).__name__} is not JSON serializable")
        names = _FIELD_NAMES[type(record)] = tuple(f.name for f in dataclasses.fields(record))
    return {name: getattr(record, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


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


class SnapshotWriter:
    """Writes ``dump()`` to ``path`` in a forked child, one snapshot at a time."""

    def __init__(self, path: Path, dump: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._dump = dump
        self._lock = asyncio.Lock()

    async def save(self) -> int:
        """Take the snapshot now (after any in flight) and wait until it is on disk.

        Returns its size in bytes; raises OSError if the child could not write it.
        Cancelled, it kills the child (``path`` keeps the previous snapshot): a shutdown
        does not wait for a periodic snapshot before taking its own.
        """
        async with self._lock:
            pid = _fork_writer(self.path, self._dump)
            waiter = asyncio.ensure_future(asyncio.to_thread(os.waitpid, pid, 0))
            try:
                _, status = await asyncio.shield(waiter)
            except asyncio.CancelledError:
                os.kill(pid, signal.SIGKILL)
                await waiter  # reaped before the lock is released: writers never overlap
                raise
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise OSError(f"the snapshot writer failed (exit {code}); {self.path} keeps the previous snapshot")
        return self.path.stat().st_size


def _fork_writer(path: Path, dump: Callable[[], dict[str, Any]]) -> int:
    pid = os.fork()
    if pid != 0:
        return pid
    # The child: never return into the parent's code (its event loop, its threads).
    code = 1
    try:
        # Not the parent's sockets: a child outliving a killed parent must not hold its port.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        gc.disable()  # every object is reachable and about to be freed by _exit
        write(path, dump())
        code = 0
    except BaseException as exc:  # reported through the exit code
        print(f"sessiond: snapshot to {path} failed: {exc!r}", file=sys.stderr, flush=True)
    finally:
        os._exit(code)
