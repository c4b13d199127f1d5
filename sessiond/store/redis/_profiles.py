"""Player profiles: one key each (``<prefix>:{profile/<player_id>}``), no TTL: a profile
outlives the sessions it seeds. Changed like sessions: read (with the Redis clock) ->
``change`` in Python -> compare-and-set on the digest of the value read, which appends
the profile's fact to its outbox (same hash tag) when the outbox is on."""

from __future__ import annotations

import hashlib

from sessiond.core import codec, facts
from sessiond.core.models import PlayerProfile
from sessiond.store._bookkeeping import stamp_profile
from sessiond.store.protocols import ProfileChange
from sessiond.store.redis import _packing as rc
from sessiond.store.redis._client import Client
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._outbox import OutboxLog
from sessiond.store.redis._scripts import Scripts

WRITTEN, REPLAYED = 1, 2


def encode(profile: PlayerProfile, compress: bool) -> bytes:
    return rc.pack(rc.dumps(profile), compress)


def decode(stored: bytes) -> PlayerProfile:
    return codec.profile_from_dict(rc.loads(rc.unpack(stored)))


class Profiles:
    def __init__(self, client: Client, scripts: Scripts, keys: Keys, outbox: OutboxLog, compress: bool) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._outbox = outbox
        self._compress = compress

    async def find(self, player_id: str) -> PlayerProfile | None:
        stored = await self._client.get(self._keys.profile(player_id))
        return decode(rc.as_bytes(stored)) if stored is not None else None

    async def try_change(self, player_id: str, change: ProfileChange, now: float) -> PlayerProfile | None:
        """One read -> change -> compare-and-set; None when another writer came first."""
        key = self._keys.profile(player_id)
        raw = await self._client.get(key)
        stored = None if raw is None else rc.as_bytes(raw)
        before = decode(stored) if stored is not None else None
        updated = change(decode(stored) if stored is not None else None)
        stamp_profile(updated, player_id, before, now)
        digest = hashlib.sha1(stored).hexdigest() if stored is not None else ""
        value = encode(updated, self._compress)
        outbox = self._keys.profile_outbox(player_id)
        await self._outbox.mark(outbox)  # before and after the write, as the session changes do
        args = [digest, value, *self._outbox.args(lambda: [facts.profile_fact(updated)])]
        outcome = await self._scripts.digest_swap(keys=[key, outbox], args=args)
        if outcome not in (WRITTEN, REPLAYED):
            return None
        await self._outbox.mark(outbox)
        return decode(value)
