"""Named leases: mutual exclusion across every process sharing the Redis."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from sessiond.periodic import cancel_and_wait
from sessiond.store._backoff import backoff_delay
from sessiond.store._keyed_locks import KeyedLocks
from sessiond.store.redis._client import Client, unavailable_on_failure
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._scripts import Scripts


class Leases:
    """Named mutual exclusion across every process sharing the Redis: ``SET NX PX`` of a
    random token, renewed while held, released only by its holder (compare-and-delete).

    A holder that dies stops renewing, so its lease ends ``lease_seconds`` later at most:
    a crashed process never blocks the others for longer than that. Waiters in this
    process queue on a local lock first, so only one of them polls Redis at a time.
    """

    def __init__(self, client: Client, scripts: Scripts, keys: Keys, lease_seconds: float) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._local = KeyedLocks()

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        key = self._keys.lock(name)
        token = uuid.uuid4().hex
        async with self._local.hold(name):
            with unavailable_on_failure():
                await self._acquire(key, token)
            renewal = asyncio.create_task(self._renew(key, token), name=f"lease-renewal:{name}")
            try:
                yield
            finally:
                await cancel_and_wait(renewal)
                # If Redis is unreachable now, the lease simply runs out.
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._scripts.value_delete(keys=[key], args=[token]))

    async def _acquire(self, key: str, token: str) -> None:
        attempt = 0
        while not await self._client.set(key, token, nx=True, px=self._lease_ms):
            # Holders keep leases briefly: poll with a short, jittered, growing pause.
            await asyncio.sleep(backoff_delay(attempt, first=0.002, cap=0.05, jitter=0.5))
            attempt += 1

    async def _renew(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            with contextlib.suppress(Exception):  # a failed renewal is retried; the lease outlasts two
                if not await self._scripts.value_extend(keys=[key], args=[token, self._lease_ms]):
                    return  # not ours any more (it ran out): nothing left to renew
