"""The Lua scripts. Each runs atomically on the node that owns its keys.

A script only touches the keys it is given, and the keys given to one script always
share a hash tag (one session's keys, or the index keys), so every script runs the
same way on a single node and on Redis Cluster.

The rules never run here: a session changes by read (READ) -> ``change`` in Python ->
compare-and-set (COMMIT). COMMIT writes only if the stored record is still,
byte for byte, the one the change was computed from, compared by SHA-1 digest;
that also rules out ABA after a delete and re-create of the same id.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript

# KEYS[1] any index key (routes to a fixed node in a cluster, so every replica reads one clock)
CLOCK = """
return redis.call('TIME')
"""

# KEYS: session, turns. ARGV: turn number or ''.
# -> {seconds, microseconds, record or nil, turn or nil}
READ = """
local now = redis.call('TIME')
local record = redis.call('GET', KEYS[1])
local turn = false
if record and ARGV[1] ~= '' then
  turn = redis.call('ZRANGE', KEYS[2], ARGV[1], ARGV[1], 'BYSCORE')[1] or false
end
return {now[1], now[2], record, turn}
"""

# KEYS: session, turns, events.
# ARGV: digest of the record read, new record, ttl ms, history, event retention, event time,
#       n events, then n x (stream id, kind, data), then new turn (score, json) and
#       updated turn (score, json), each '' '' when absent.
# -> 1 committed; 2 this very record is already stored (a replay after a lost reply);
#    0 the record changed since it was read (retry); -1 the session is gone.
COMMIT = """
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
local digest = redis.sha1hex(current)
if digest ~= ARGV[1] then
  if digest == redis.sha1hex(ARGV[2]) then return 2 end
  return 0
end
local ttl = ARGV[3]
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
local i = 8
for _ = 1, tonumber(ARGV[7]) do
  redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[5], ARGV[i], 'k', ARGV[i + 1], 't', ARGV[6], 'd', ARGV[i + 2])
  i = i + 3
end
if ARGV[i] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
end
if ARGV[i + 2] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[i + 2], ARGV[i + 2])
  redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i + 3])
end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return 1
"""

# KEYS: session, turns, events. ARGV: record, ttl ms. -> 1 created, 0 the id is taken.
# Leftovers of an earlier session with this id (a tombstone) must not leak into this one.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: session, turns, events. ARGV: digest of the record read, tombstone ttl ms.
# -> 1 deleted, 0 changed since read, -1 gone. Deleting a stream does not wake the XREADs
# blocked on it, so the stream is not deleted but gets a tombstone entry: it wakes them,
# and a reader that checked the session just before the delete finds it when its XREAD
# starts. The tombstone expires soon after, or a create that reuses the id clears it.
DELETE = """
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if redis.sha1hex(current) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('XADD', KEYS[3], '0-*', 'gone', '1')
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 1
"""

# KEYS: session, events. ARGV: first stream id wanted (inclusive), count.
# -> nil if the session is gone, else {oldest entry (0 or 1 of them), entries}
EVENTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
return {oldest, redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])}
"""

# KEYS: session, turns. ARGV: start, stop (ranks, newest first). -> nil if gone, else turns
TURNS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('ZRANGE', KEYS[2], ARGV[1], ARGV[2], 'REV')
"""

# KEYS: created, expiry, deadlines, channel, owner.
# ARGV: session id, create_time, expire_time, deadline or '', channel id or '', owner id or ''.
INDEX_PUT = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1]) end
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[4], 0, ARGV[5] .. '/' .. ARGV[1]) end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[5], 0, ARGV[6] .. '/' .. ARGV[1]) end
return 1
"""

# KEYS: created, expiry, deadlines, channel, owner.
# ARGV: session id, mode, create_time, channel id or '', owner id or ''. -> 1 dropped, 0 kept.
# Removes the session from every index, but only the incarnation meant: mode 'exact' needs
# its creation score to equal create_time (delete), mode 'older' at most (readers pruning
# sessions gone by TTL leave alone an entry a create wrote moments ago).
INDEX_DROP = """
local created = redis.call('ZSCORE', KEYS[1], ARGV[1])
if created then
  local score, bound = tonumber(created), tonumber(ARGV[3])
  if (ARGV[2] == 'exact' and score ~= bound) or (ARGV[2] == 'older' and score > bound) then return 0 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[4], ARGV[4] .. '/' .. ARGV[1]) end
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[5], ARGV[5] .. '/' .. ARGV[1]) end
return 1
"""

# KEYS: deadlines. ARGV: session id, deadline. Removes the entry only if it still has that
# deadline: a replica that closed a window must not remove the entry of the next one.
DEADLINE_DROP = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""

# KEYS: one string key. ARGV: digest of the value read ('' = there was none), new value.
# -> 1 written, 2 this very value is already stored (a replay), 0 changed since read.
DIGEST_SWAP = """
local current = redis.call('GET', KEYS[1])
if not current then
  if ARGV[1] ~= '' then return 0 end
elseif redis.sha1hex(current) ~= ARGV[1] then
  if redis.sha1hex(current) == redis.sha1hex(ARGV[2]) then return 2 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

# KEYS: one string key. ARGV: expected value, new value, ttl ms. -> 1 swapped, 0 not
VALUE_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# KEYS: one string key. ARGV: expected value, ttl ms. -> 1 extended, 0 not ours any more
VALUE_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: one string key. ARGV: expected value. -> 1 deleted, 0 not
VALUE_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Scripts:
    """The scripts registered on one client (EVALSHA, loading them on NOSCRIPT)."""

    clock: AsyncScript
    read: AsyncScript
    commit: AsyncScript
    create: AsyncScript
    delete: AsyncScript
    events: AsyncScript
    turns: AsyncScript
    index_put: AsyncScript
    index_drop: AsyncScript
    deadline_drop: AsyncScript
    digest_swap: AsyncScript
    value_swap: AsyncScript
    value_extend: AsyncScript
    value_delete: AsyncScript

    @classmethod
    def register(cls, client: Redis | RedisCluster) -> Scripts:
        return cls(
            clock=client.register_script(CLOCK),
            read=client.register_script(READ),
            commit=client.register_script(COMMIT),
            create=client.register_script(CREATE),
            delete=client.register_script(DELETE),
            events=client.register_script(EVENTS),
            turns=client.register_script(TURNS),
            index_put=client.register_script(INDEX_PUT),
            index_drop=client.register_script(INDEX_DROP),
            deadline_drop=client.register_script(DEADLINE_DROP),
            digest_swap=client.register_script(DIGEST_SWAP),
            value_swap=client.register_script(VALUE_SWAP),
            value_extend=client.register_script(VALUE_EXTEND),
            value_delete=client.register_script(VALUE_DELETE),
        )
