"""The Redis backend: hot session state with a sliding TTL, on one node or a Redis Cluster.

Design (the module docstrings say why of each part):

- Atomic changes (_store, _scripts): a Lua read (record, turn, server TIME) -> the rule
  runs in Python -> a compare-and-set Lua script on the SHA-1 of the record read, which
  writes the record, XADDs the events, writes the turns and refreshes the TTLs. Retried
  (bounded, jittered) when another replica won; serialised per session in a process.
  The same code runs on one node and on a cluster: every script's keys share one slot.
- Keys (_keys): ``<prefix>:{<session_id>}:session|turns|events``; sliding TTL = the
  session's idle TTL + ``ttl_margin`` on all three, refreshed by every commit.
- Events (_events): one stream per session, stream id ``0-<event_id>``, exact
  ``XADD MAXLEN``; watchers XREAD BLOCK on a pool of their own.
- Indexes (_indexes, _listing): sorted sets in their own slot (created, expiry,
  deadlines, channel, owner), written outside the session's script in an order that
  never loses an open window; readers check entries against the records and prune
  those of sessions Redis expired. Other filters (player, game, state...) read the
  records: O(sessions) per call, fine at the default 10k sessions, and cheaper in
  memory than an index entry per player per session.
- Values (_packing) are compact JSON deflated with a preset dictionary (~0.6 KB for a
  4-player session with 1 KB of state).
- Profiles (_profiles) are plain keys without TTL; ``lock`` (_locks) is a renewed lease.
- Outbox (_outbox), with ``outbox=True`` (the ``redis+neo4j`` store): the script of each
  change also appends the change's durable facts to a stream in the owner's slot
  (``<prefix>:{<session_id>}:outbox``, ``<prefix>:{profile/<player_id>}:outbox``), listed
  in a dirty index; sessiond.store.outbox.Projector drains them into the graph
  (``RedisStore.outbox_log``), ``RedisStore.outbox_stats`` reports the lag.
"""

from __future__ import annotations

from sessiond.store.redis._client import ConnectOptions
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._outbox import OutboxLog
from sessiond.store.redis._store import RedisStore

__all__ = [
    "ConnectOptions",
    "Keys",
    "OutboxLog",
    "RedisStore",
]
