"""CreateSession idempotency: ``<prefix>:req:<request_id>`` -> the session id it created.

A create claims the request id first (SET NX, value ``+<session_id>`` = in progress),
creates the session, then marks the claim done (value ``<session_id>``, kept for
``request_id_ttl``). So two replicas handling the same request concurrently create one
session: the second waits for the first's session and returns it. A claim whose
creator failed is released; one whose creator died expires after PENDING_TTL, or is
taken over once a waiter has waited WAIT_SECONDS for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sessiond.core.errors import Unavailable
from sessiond.core.models import Session
from sessiond.store.redis._client import Client
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._scripts import Scripts

PENDING = "+"  # not a character of a session id (core.limits.ID_PATTERN)
PENDING_TTL_MS = 60_000
WAIT_SECONDS = 1.0
POLL_SECONDS = 0.01
MAX_ROUNDS = 1000


class RequestIds:
    def __init__(self, client: Client, scripts: Scripts, keys: Keys, ttl_seconds: float) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    async def claim(
        self, request_id: str, session_id: str, lookup: Callable[[str], Awaitable[Session | None]]
    ) -> Session | None:
        """Claim ``request_id`` for ``session_id``: None when claimed (go on and create),
        or the session an earlier request with this id created."""
        key = self._keys.request(request_id)
        mine = PENDING + session_id
        waited_until = asyncio.get_running_loop().time() + WAIT_SECONDS
        for _ in range(MAX_ROUNDS):
            if await self._client.set(key, mine, nx=True, px=PENDING_TTL_MS):
                return None
            raw = await self._client.get(key)
            if raw is None:
                continue  # released or expired just now: claim again
            value = raw.decode() if isinstance(raw, bytes) else raw
            in_progress = value.startswith(PENDING)
            other = value.removeprefix(PENDING)
            found = await lookup(other)
            if found is not None:
                return found
            # Take the claim over when it is ours from an earlier try, when its session is gone
            # (deleted or expired: memory's rule too), or when its creator seems to have died.
            if other == session_id or not in_progress or asyncio.get_running_loop().time() >= waited_until:
                if await self._swap(key, value, mine, PENDING_TTL_MS):
                    return None
                continue
            await asyncio.sleep(POLL_SECONDS)
        raise Unavailable(f"request_id {request_id!r} is contended; retry")

    async def done(self, request_id: str, session_id: str) -> None:
        await self._swap(self._keys.request(request_id), PENDING + session_id, session_id, self._ttl_ms)

    async def release(self, request_id: str, session_id: str) -> None:
        await self._scripts.value_delete(keys=[self._keys.request(request_id)], args=[PENDING + session_id])

    async def _swap(self, key: str, expected: str, new: str, ttl_ms: int) -> bool:
        return bool(await self._scripts.value_swap(keys=[key], args=[expected, new, ttl_ms]))
