"""Snapshot files of the memory store: written atomically, read at start.

A snapshot holds session state and player profiles, so the file and its temporary
file are created 0600 whatever the umask.

``SnapshotWriter`` writes from a forked child: the fork is taken between two awaits, so
the child's copy-on-write memory is a consistent picture of the store, and building and
encoding it there costs the serving process nothing but the fork itself. At most one
snapshot is written at a time (they share the temporary file). The child closes the
parent's descriptors and leaves with ``os._exit``: it never runs the parent's code again.
A session's bytes are copied from the previous file only if that file carries the id its
index was written for, and the session's version is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import marshal
import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sessiond.core.models import stored_names


def write(path: Path, data: dict[str, Any]) -> int:
    """Write ``data`` as JSON via a temporary file and a rename, so a crash mid-write
    leaves the previous snapshot intact. Returns the bytes written.

    Dataclasses in ``data`` are written as objects of their fields under their stored
    names (as ``codec`` writes them, without ``asdict``'s deep copies)."""
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
    """``data`` as compact JSON, dataclasses as objects of their fields (stored names)."""
    return json.dumps(data, separators=(",", ":"), default=_fields_of).encode()


def _fields_of(record: Any) -> dict[str, Any]:
    names = _FIELD_NAMES.get(type(record))
    if names is None:
        if not dataclasses.is_dataclass(record) or isinstance(record, type):
            raise TypeError(f"{type(record).__name__} is not JSON serializable")
        names = _FIELD_NAMES[type(record)] = stored_names(type(record))
    return {key: getattr(record, name) for name, key in names}


_FIELD_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}


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
    return os.fdopen(_create_private(path), "wb")


def index_path(path: Path) -> Path:
    """Where the index of the snapshot file at ``path`` is kept."""
    return path.with_name(path.name + ".index")


Index = dict[str, tuple[int, int, int]]
"""Where each session is in a snapshot file: session id -> (version, offset, length)."""


@dataclass(frozen=True, slots=True)
class Contents:
    """What a snapshot holds: ``header`` (everything but the sessions) and, per session,
    (session id, version, record factory). A version changes on every commit of the
    session, so a session whose version is the one in the last file is copied from it."""

    header: dict[str, Any]
    sessions: Iterable[tuple[str, int, Callable[[], dict[str, Any]]]]

NO_FULL_COLLECTION = 2**31 - 1
"""The collector's threshold for its oldest generation while a snapshot's child runs."""


class SnapshotWriter:
    """Writes ``contents()`` to ``path`` in a forked child, one snapshot at a time.

    Each file comes with an index (``<path>.index``: where each session's bytes are), so
    the next snapshot encodes only the sessions changed since and copies the others: the
    last snapshot at shutdown costs about a file copy, not a full encoding.
    """

    def __init__(self, path: Path, contents: Callable[[], Contents]) -> None:
        self.path = path
        self._contents = contents
        self._lock = asyncio.Lock()
        self._index_path = index_path(path)
        self._index: Index = {}
        self._index_id = ""  # the id of the file at ``path`` that ``_index`` describes

    def adopt(self, snapshot_id: str, versions: Mapping[str, int]) -> None:
        """After loading the file with ``snapshot_id``: its sessions now have ``versions``.
        Without its matching index the next snapshot encodes every session."""
        try:
            with open(self._index_path, "rb") as f:
                written_id, index = marshal.load(f)
        except (OSError, EOFError, ValueError, TypeError):
            return
        if written_id == snapshot_id:
            self._index = {sid: (versions[sid], off, size) for sid, (_, off, size) in index.items() if sid in versions}
            self._index_id = snapshot_id

    async def save(self, *, background: bool = False) -> int:
        """Take the snapshot now (after any in flight) and wait until it is on disk.

        ``background``: the child writes at the lowest CPU priority, with the time serving
        leaves over (periodic snapshots); otherwise at the server's (the last one, once
        calls have drained, when nothing else needs the CPU).

        Returns its size in bytes; raises OSError if the child could not write it.
        Cancelled, it kills the child (``path`` keeps the previous snapshot): a shutdown
        does not wait for a periodic snapshot before taking its own.
        """
        async with self._lock:
            snapshot_id = secrets.token_hex(8)
            previous = Previous(self._index_id, self._index)
            # While the child runs, no full collection: it writes to every object's header,
            # copying every page of the store. Young ones go on (cycles made meanwhile are
            # freed). Not gc.freeze(): a full collection while frozen sizes the oldest
            # generation as nearly empty, so the first one after gc.unfreeze() came soon and
            # walked the whole store, a pause of about 350 ms per GB.
            thresholds = gc.get_threshold()
            gc.set_threshold(thresholds[0], thresholds[1], NO_FULL_COLLECTION)
            try:
                pid = _fork_writer(self.path, self._index_path, snapshot_id, self._contents, previous, background)
                child = os.pidfd_open(pid)  # signals the child, never a process that reused its pid
                done = asyncio.ensure_future(asyncio.to_thread(self._wait, pid))
                try:
                    status = await asyncio.shield(done)
                except asyncio.CancelledError:
                    with contextlib.suppress(ProcessLookupError):
                        signal.pidfd_send_signal(child, signal.SIGKILL)
                    await done  # reaped and reconciled before the lock is released: writers never overlap
                    raise
                finally:
                    os.close(child)
            finally:
                gc.set_threshold(*thresholds)
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                raise OSError(f"the snapshot writer failed (exit {code}); {self.path} keeps the previous snapshot")
        return self.path.stat().st_size

    def _wait(self, pid: int) -> int:
        """In a thread: the child's exit status once it has ended, and the index of the file it left."""
        _, status = os.waitpid(pid, 0)
        self._reconcile()
        return status

    def _reconcile(self) -> None:
        """Keep the index of the file now at ``path``: ours if it is unchanged, the index
        file's if that names it, none (encode everything next time) otherwise."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._index_id, self._index = "", {}
            return
        try:
            on_disk = _id_of(fd)
        finally:
            os.close(fd)
        if on_disk == self._index_id:
            return
        try:
            written_id, index = _read_index(self._index_path)
        except (OSError, EOFError, ValueError, TypeError):
            written_id, index = "", {}
        self._index_id, self._index = (written_id, index) if written_id == on_disk else ("", {})


def _read_index(path: Path) -> tuple[str, Index]:
    with open(path, "rb") as f:
        written_id, index = marshal.load(f)
    return written_id, index


@dataclass(frozen=True, slots=True)
class Previous:
    """The index of the snapshot file with id ``snapshot_id``."""

    snapshot_id: str
    index: Index


def _write_sessions(path: Path, tmp: Path, snapshot_id: str, contents: Contents, previous: Previous) -> Index:
    """Write ``contents`` to ``tmp``, copying from the file at ``path`` each session whose
    version is the one ``previous`` gives, if that file is the one ``previous`` describes
    (its id comes first in it). Returns the new file's index."""
    index: Index = {}
    known_sessions: Index = {}
    try:
        old: int | None = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        old = None
    out = _create_private(tmp)
    try:
        if old is not None and previous.snapshot_id and _id_of(old) == previous.snapshot_id:
            known_sessions = previous.index
        head = encode({"id": snapshot_id, **contents.header})[:-1] + b',"sessions":['
        _write(out, head)
        position = len(head)
        run: list[int] = []  # [start, end) of old bytes still to copy: unchanged neighbours go in one copy
        for count, (session_id, version, record) in enumerate(contents.sessions):
            known = known_sessions.get(session_id)
            if old is not None and known is not None and known[0] == version:
                _, offset, size = known
                if run and count and offset == run[1] + 1:  # next in the old file too: the comma comes along
                    run[1] = offset + size
                    position += 1
                else:
                    _copy(old, out, run)
                    position += _write(out, b"," if count else b"")
                    run[:] = [offset, offset + size]
                index[session_id] = (version, position, size)
                position += size
            else:
                if old is not None:
                    _copy(old, out, run)
                position += _write(out, b"," if count else b"")
                blob = encode(record())
                index[session_id] = (version, position, len(blob))
                position += _write(out, blob)
        if old is not None:
            _copy(old, out, run)
        _write(out, b"]}")
        os.fsync(out)
    finally:
        os.close(out)
        if old is not None:
            os.close(old)
    return index


def _create_private(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left by an older run keeps its mode through O_CREAT
    return fd


def _write(fd: int, data: bytes) -> int:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return len(data)


def _copy(source: int, target: int, run: list[int]) -> None:
    """Append bytes [start, end) of ``source`` to ``target`` (in the kernel where it can), and empty ``run``."""
    if not run:
        return
    start, end = run
    run.clear()
    while start < end:
        try:
            copied = os.copy_file_range(source, target, end - start, start)
        except OSError:  # e.g. across file systems on older kernels
            copied = _write(target, os.pread(source, min(end - start, 1 << 20), start))
        if copied == 0:
            raise OSError("the previous snapshot is shorter than its index says")
        start += copied


def write_indexed(path: Path, index_path: Path, snapshot_id: str, contents: Contents, previous: Previous) -> None:
    """Write ``contents`` and its index atomically: both to temporary files, then the index
    renamed, then the snapshot (a crash in between leaves an index that names another id)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    index = _write_sessions(path, tmp, snapshot_id, contents, previous)
    index_tmp = index_path.with_name(index_path.name + ".tmp")
    with open_private(index_tmp) as f:
        marshal.dump((snapshot_id, index), f)
    os.replace(index_tmp, index_path)
    os.replace(tmp, path)


def _id_of(fd: int) -> str:
    """The id at the start of a snapshot file (``{"id":"<16 hex digits>",...``); "" if none."""
    head = os.pread(fd, 32, 0)
    prefix = b'{"id":"'
    return head[len(prefix) : len(prefix) + 16].decode("ascii", "replace") if head.startswith(prefix) else ""


def _fork_writer(
    path: Path,
    index_path: Path,
    snapshot_id: str,
    contents: Callable[[], Contents],
    previous: Previous,
    background: bool,
) -> int:
    pid = os.fork()
    if pid != 0:
        return pid
    # The child: never return into the parent's code (its event loop, its threads).
    code = 1
    try:
        # Not the parent's sockets: a child outliving a killed parent must not hold its port.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        if background:
            # Serving comes first: the child inherits the server's CPUs (a pinned or
            # CPU-limited pod may have one) and would take half of a shared core from calls.
            os.nice(19)
        gc.disable()  # every object is reachable and about to be freed by _exit
        write_indexed(path, index_path, snapshot_id, contents(), previous)
        code = 0
    except BaseException as exc:  # reported through the exit code
        print(f"sessiond: snapshot to {path} failed: {exc!r}", file=sys.stderr, flush=True)
    finally:
        os._exit(code)
