"""Presence leases on Redis (see core.presence and manager.presence).

Per session, in its slot: a hash ``<replica>/<player>`` -> when that replica's lease
ends (renewed by its heartbeat; set to "now" when its last stream closes). Across
sessions, in the indexes' slot: ``presence-due`` (session -> when to settle it) and
``presence-replicas`` (replica -> when its leases end), with a set per replica of the
sessions it holds leases in. A replica writes one pipeline per batch; a replica that
stops renewing is found by the sweep of any other, which makes its sessions due when
its leases ended. The hash outlives every grace (its TTL is renewed on each write).
"""

from __future__ import annotations

import math
from collections.abc import Collection

from sessiond.store.protocols import PresenceLeases
from sessiond.store.redis import _packing as rc
from sessiond.store.redis._client import Client
from sessiond.store.redis._indexes import score_arg
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._scripts import Scripts

KEEP_MS = 2 * 3600 * 1000  # TTL of a presence hash and a replica's set: beyond the longest grace


class RedisPresence:
    def __init__(self, client: Client, scripts: Scripts, keys: Keys) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    async def renew(self, batch: PresenceLeases, now: float) -> None:
        end = now + batch.lease_seconds
        fields: dict[str, dict[str, str]] = {}
        due: dict[str, float] = {}
        for sid, pid in batch.held:
            fields.setdefault(sid, {})[f"{batch.replica}/{pid}"] = repr(end)
        for (sid, pid), grace in batch.released.items():
            fields.setdefault(sid, {})[f"{batch.replica}/{pid}"] = repr(now)
            due[sid] = min(now + grace, due.get(sid, math.inf))
        pipe = self._client.pipeline(transaction=False)
        for sid, mapping in fields.items():
            key = self._keys.presence(sid)
            pipe.hset(key, items=[part for item in mapping.items() for part in item])
            pipe.pexpire(key, KEEP_MS)
        if due:
            pipe.zadd(self._keys.presence_due(), due, lt=True)
        sessions = self._keys.presence_replica(batch.replica)
        if batch.complete:
            pipe.delete(sessions)
        held = {sid for sid, _ in batch.held}
        if held:
            pipe.sadd(sessions, *held)
            pipe.pexpire(sessions, KEEP_MS)
        pipe.zadd(self._keys.presence_replicas(), {batch.replica: end})
        await pipe.execute()

    async def leases(self, session_id: str) -> dict[str, float]:
        ends: dict[str, float] = {}
        raw = await self._client.hgetall(self._keys.presence(session_id))
        for field, value in raw.items():
            pid = rc.as_text(field).partition("/")[2]
            ends[pid] = max(float(value), ends.get(pid, 0.0))
        return ends

    async def due(self, until: float, limit: int) -> list[str]:
        replicas = self._keys.presence_replicas()
        for pair in await self._client.zrangebyscore(replicas, "-inf", score_arg(until), withscores=True):
            replica, end = rc.as_text(pair[0]), float(pair[1])
            if not await self._scripts.presence_replica_gone(keys=[replicas], args=[replica, until]):
                continue  # renewed meanwhile, or another replica's sweep took it
            sessions = self._keys.presence_replica(replica)
            held = [rc.as_text(sid) for sid in await self._client.smembers(sessions)]
            if held:
                await self._client.zadd(self._keys.presence_due(), dict.fromkeys(held, end), lt=True)
            await self._client.delete(sessions)
        due = self._keys.presence_due()
        found = await self._client.zrangebyscore(due, "-inf", score_arg(until), start=0, num=limit)
        return [rc.as_text(sid) for sid in found]

    async def checked(self, session_id: str, forget: Collection[str], next_check: float | None, now: float) -> None:
        if forget:
            await self._scripts.presence_forget(keys=[self._keys.presence(session_id)], args=[repr(now), *forget])
        if next_check is None:
            await self._client.zrem(self._keys.presence_due(), session_id)
        else:
            await self._client.zadd(self._keys.presence_due(), {session_id: next_check})
