"""The id registry (redis+neo4j): which session ids are taken, without asking the graph.

Invariant: while ``complete`` holds, an id is taken exactly when its ``taken`` key exists
(``<prefix>:{<session_id>}:taken``, no TTL, in the session's slot). CREATE refuses a taken
id and takes it in the same script that writes the record; a caller's delete frees it in
the DELETE script; a restore takes it; expiry and the janitor's eviction leave it, since
the graph still holds the session. An EPHEMERAL session never takes its id (it is checked
free, nothing more): the graph never holds it. So a create with a caller-chosen id is refused
ALREADY_EXISTS, or succeeds, while Neo4j is down.

Sessions older than the registry (or every session, after Redis lost its data) are only
in the graph: ``register`` backfills their ids from it, then ``mark_complete`` sets
``<prefix>:registry-complete``. An id whose session Redis does not hold and whose outbox
still has facts is left out (its delete may be on the way to the graph), as is one deleted
between the graph read and its registration; both are rare and only while backfilling.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessiond.store.redis._client import Client, unavailable_on_failure
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._scripts import Scripts

NEW, CHECK, RESTORE, OFF = "new", "check", "restore", ""  # CREATE's registry modes (see _scripts)


class IdRegistry:
    """``enabled`` False (the plain redis store): nothing is written, nothing is ever taken."""

    def __init__(self, client: Client, scripts: Scripts, keys: Keys, *, enabled: bool) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self.enabled = enabled

    def create_mode(self, *, restoring: bool, durable: bool = True) -> str:
        """CREATE's registry mode: a restore takes the id its own session already holds; an
        EPHEMERAL session must find its id free but does not take it (the graph never
        holds it, so the id is free again once Redis lets the session go)."""
        if not self.enabled:
            return OFF
        if restoring:
            return RESTORE
        return NEW if durable else CHECK

    def delete_frees(self, *, durable: bool) -> str:
        """DELETE's flag: a caller's delete frees the id, an eviction keeps it."""
        return "1" if durable and self.enabled else ""

    async def taken(self, session_id: str) -> bool:
        if not self.enabled:
            return False
        with unavailable_on_failure():
            return bool(await self._client.exists(self._keys.session(session_id).taken))

    async def complete(self) -> bool:
        """True once every id the graph held when it was backfilled is registered."""
        if not self.enabled:
            return False
        with unavailable_on_failure():
            return bool(await self._client.exists(self._keys.registry_complete()))

    async def register(self, session_ids: Iterable[str]) -> int:
        """Take ``session_ids`` (read from the graph); returns how many were taken."""
        taken = 0
        with unavailable_on_failure():
            for sid in session_ids:
                keys = self._keys.session(sid)
                taken += int(await self._scripts.take_id(keys=[keys.session, keys.outbox, keys.taken]))
        return taken

    async def mark_complete(self) -> None:
        with unavailable_on_failure():
            await self._client.set(self._keys.registry_complete(), "1")
