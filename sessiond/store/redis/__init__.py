"""The Redis backend: hot session state with a sliding TTL, on one node or a Redis Cluster.

Design (see the module docstrings for the why of each part):

- Atomic changes: read (Lua: record, turn, TIME) -> the rule runs in Python ->
  compare-and-set Lua script keyed on the SHA-1 of the record read, which writes the
  record, XADDs the events, writes the turns and refreshes the TTLs. Retried (bounded,
  jittered) when another replica won; serialised per session within a process.
- Keys: ``<prefix>:{<session_id>}:session|turns|events``: one hash slot per session.
- Event ids are stream ids ``0-<event_id>``; ``XADD MAXLEN <retention>`` keeps exactly
  the newest ``event_retention`` events.
- Indexes (``<prefix>:{idx}:created|expiry|deadlines``) live in their own slot and are
  written outside the session's script, in an order that never loses an open window;
  readers verify entries against the records and drop the ones whose session is gone.
- Listing filters and stats read the session records (pipelined, pre-filtered on raw
  bytes): O(sessions) per call, which at the default max_sessions (10k) costs less than
  per-attribute index sets would cost in memory for every session.
"""

from __future__ import annotations

from sessiond.store.redis._client import ConnectOptions
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._store import RedisStore

__all__ = [
    "ConnectOptions",
    "Keys",
    "RedisStore",
]
