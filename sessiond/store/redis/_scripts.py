"""The Lua scripts. Each runs atomically on the node that owns its keys.

A script only touches the keys it is given, and the keys given to one script always
share a hash tag (one session's keys, or the index keys), so every script runs the
same way on a single node and on Redis Cluster.

The rules never run here: a session changes by read (READ) -> ``change`` in Python ->
compare-and-set (COMMIT). COMMIT writes only if the stored record is still,
byte for byte, the one the change was computed from, compared by SHA-1 digest;
that also rules out ABA after a delete and re-create of the same id.

The change scripts (COMMIT, CREATE, DELETE, DIGEST_SWAP) also append the change's durable
facts to the owner's outbox stream (see _outbox) in the same atomic step: a change is
never stored without its facts, nor its facts without it. They append FIRST, before any
other write: a script that fails midway keeps the writes it already made, and a failed
append must leave nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

# append_facts(outbox, at) appends the facts of a change to an outbox stream, one entry
# each (field 'f'): ARGV[at] = n, then the n packed facts (n = 0 when the outbox is off).
_APPEND_FACTS = """
local function append_facts(outbox, at)
  for i = at + 1, at + tonumber(ARGV[at]) do
    redis.call('XADD', outbox, '*', 'f', ARGV[i])
  end
end
"""


def with_facts(script: str) -> str:
    """``script`` with the function ``append_facts`` defined."""
    return _APPEND_FACTS + script


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

COMMIT_HEAD = ("read_digest", "record", "ttl_ms", "history", "retention", "event_time", "n_events")
"""The first ARGV of COMMIT, by name: the script declares them as locals of these names,
and CommitArgs.argv() puts its fields in this order."""


@dataclass(frozen=True, slots=True)
class CommitArgs:
    """The ARGV of COMMIT: ``COMMIT_HEAD`` in order (``n_events`` = len(events)), then
    (stream id, kind, data) per event, then the new turn and the updated turn as (score,
    json) each, '' '' when absent, then the facts (n, packed facts) as OutboxLog.args
    builds them."""

    read_digest: str  # SHA-1 of the record the change was computed from
    record: bytes  # the new record
    ttl_ms: int  # sliding TTL of every key of the session
    history: int  # turns kept
    retention: int  # events kept (stream MAXLEN)
    event_time: str  # repr of the commit time, stamped on every event
    events: Sequence[tuple[str, str, bytes]]
    new_turn: tuple[str, bytes] | None
    updated_turn: tuple[str, bytes] | None
    facts: Sequence[Any]

    def argv(self) -> list[Any]:
        head = [len(self.events) if name == "n_events" else getattr(self, name) for name in COMMIT_HEAD]
        tail: list[Any] = [value for event in self.events for value in event]
        for turn in (self.new_turn, self.updated_turn):
            tail += turn if turn is not None else ("", "")
        return [*head, *tail, *self.facts]


def _head_locals(names: Sequence[str]) -> str:
    """``local a, b = ARGV[1], ARGV[2]`` for ``names``."""
    slots = ", ".join(f"ARGV[{i}]" for i in range(1, len(names) + 1))
    return f"local {', '.join(names)} = {slots}\n"


# KEYS: session, turns, events, outbox. ARGV: see CommitArgs.
# -> 1 committed; 2 this very record is already stored (a replay after a lost reply: its
#    facts were appended then); 0 the record changed since it was read (retry); -1 gone.
COMMIT = with_facts(
    _head_locals(COMMIT_HEAD)
    + f"local events_at = {len(COMMIT_HEAD) + 1}\n"
    + """
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
local current_digest = redis.sha1hex(current)
if current_digest ~= read_digest then
  if current_digest == redis.sha1hex(record) then return 2 end
  return 0
end
local n = tonumber(n_events)
local turns_at = events_at + 3 * n  -- the turns, then the facts
append_facts(KEYS[4], turns_at + 4)
redis.call('SET', KEYS[1], record, 'PX', ttl_ms)
local i = events_at
for _ = 1, n do
  redis.call('XADD', KEYS[3], 'MAXLEN', retention, ARGV[i], 'k', ARGV[i + 1], 't', event_time, 'd', ARGV[i + 2])
  i = i + 3
end
if n > 0 then redis.call('PUBLISH', KEYS[3], ARGV[turns_at - 3]) end  -- followers of the events (_events)
i = turns_at
if ARGV[i] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(history) + 1))
end
if ARGV[i + 2] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[i + 2], ARGV[i + 2])
  redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i + 3])
end
redis.call('PEXPIRE', KEYS[2], ttl_ms)
redis.call('PEXPIRE', KEYS[3], ttl_ms)
return 1
"""
)

# KEYS: session, turns, events, outbox, taken. ARGV: record, ttl ms, registry mode, then
# the facts (n, facts). Registry mode (see _registry): '' off, 'new' the id must not be
# taken either and becomes taken, 'check' it must not be taken (and stays free), 'restore'
# it becomes taken (it is this session's).
# -> 1 created, 0 the id is taken. Leftovers of an earlier session with this id (a
# tombstone) must not leak into this one; its outbox stays: its facts (the delete among
# them) are still to be projected, before this session's.
CREATE = with_facts("""
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if (ARGV[3] == 'new' or ARGV[3] == 'check') and redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
append_facts(KEYS[4], 4)
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] == 'new' or ARGV[3] == 'restore' then redis.call('SET', KEYS[5], '1') end
return 1
""")

# KEYS: session, turns, events, outbox, taken. ARGV: digest of the record read, tombstone
# ttl ms, '1' to free the id in the registry (a caller's delete, not an eviction) or '',
# then the facts (n, facts). -> 1 deleted, 0 changed since read, -1 gone. Deleting a stream does not wake the XREADs
# blocked on it, so the stream is not deleted but gets a tombstone entry: it wakes them,
# and a reader that checked the session just before the delete finds it when its XREAD
# starts. The tombstone expires soon after, or a create that reuses the id clears it.
DELETE = with_facts("""
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if redis.sha1hex(current) ~= ARGV[1] then return 0 end
append_facts(KEYS[4], 4)
redis.call('DEL', KEYS[1], KEYS[2])
if ARGV[3] == '1' then redis.call('DEL', KEYS[5]) end
redis.call('XADD', KEYS[3], '0-*', 'gone', '1')
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PUBLISH', KEYS[3], 'gone')
return 1
""")

# KEYS: session, events. ARGV: first stream id wanted (inclusive), count.
# -> nil if the session is gone, else {oldest entry (0 or 1 of them), entries}
EVENTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
return {oldest, redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])}
"""

# KEYS: session, turns. ARGV: highest turn number ('+inf' or '(N': below N), count.
# -> nil if gone, else up to count turns, newest first
TURNS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if tonumber(ARGV[2]) == 0 then return {} end
return redis.call('ZRANGE', KEYS[2], ARGV[1], '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, ARGV[2])
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

# KEYS: deadlines. ARGV: (session id, deadline) pairs. Removes each entry only if it still
# has that deadline: a replica that closed a window must not remove the entry of the next
# one. -> how many were removed
DEADLINE_DROP = """
local dropped = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    dropped = dropped + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return dropped
"""

# KEYS: session, outbox, taken. -> 1 the id is (now) taken, 0 left out: no record and
# facts still on their way to the graph (a delete among them, maybe; see _registry).
TAKE_ID = """
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('XLEN', KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[3], '1')
return 1
"""

# KEYS: one string key, its outbox. ARGV: digest of the value read ('' = there was none),
# new value, then the facts (n, facts).
# -> 1 written, 2 this very value is already stored (a replay), 0 changed since read.
DIGEST_SWAP = with_facts("""
local current = redis.call('GET', KEYS[1])
if not current then
  if ARGV[1] ~= '' then return 0 end
elseif redis.sha1hex(current) ~= ARGV[1] then
  if redis.sha1hex(current) == redis.sha1hex(ARGV[2]) then return 2 end
  return 0
end
append_facts(KEYS[2], 3)
redis.call('SET', KEYS[1], ARGV[2])
return 1
""")

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

# The projector's side of the outbox (see _outbox): each script touches one outbox, or the
# dirty index and the parked stream (tag {idx}).

# KEYS: the dirty index. ARGV: outbox keys. Indexes them (ZADD NX: an indexed outbox keeps
# the time of its oldest fact) at the index node's TIME, the clock outbox_stats reads.
# -> how many were not indexed yet.
OUTBOX_MARK = """
local now = redis.call('TIME')
local score = now[1] .. '.' .. string.format('%06d', tonumber(now[2]))
local added = 0
for i = 1, #ARGV do added = added + redis.call('ZADD', KEYS[1], 'NX', score, ARGV[i]) end
return added
"""

# KEYS: outbox. ARGV: group, consumer, count, min idle ms.
# -> {0} when another consumer is working on it (it holds entries, idle for less than min
#    idle ms); else {1, entries}: this consumer's pending entries if it has any (a batch
#    it failed to project), else up to count new ones; {1, {}} when there is nothing.
# At most one consumer holds entries of an outbox at a time: facts of one owner are
# projected in order even with many projectors. A consumer's entries idle for min idle ms
# (it died) are claimed first. Pending entries deleted meanwhile are acknowledged.
OUTBOX_CLAIM = """
local key, group, me = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', key) == 0 then return {1, {}} end
local made = redis.pcall('XGROUP', 'CREATE', key, group, '0')
if type(made) == 'table' and made.err and not string.find(made.err, 'BUSYGROUP') then
  return redis.error_reply(made.err)
end
local function others_hold()
  for _, holder in ipairs(redis.call('XPENDING', key, group)[4] or {}) do
    if holder[1] ~= me then return true end
  end
  return false
end
if others_hold() then
  local cursor = '0-0'
  repeat
    cursor = redis.call('XAUTOCLAIM', key, group, me, ARGV[4], cursor, 'COUNT', 100, 'JUSTID')[1]
  until cursor == '0-0'
  if others_hold() then return {0} end
end
local function read(from)
  local reply = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', ARGV[3], 'STREAMS', key, from)
  local entries = {}
  for _, entry in ipairs(reply and reply[1][2] or {}) do
    if entry[2] then table.insert(entries, entry) else redis.call('XACK', key, group, entry[1]) end
  end
  return entries
end
local entries = read('0')
if #entries == 0 then entries = read('>') end
return {1, entries}
"""

# KEYS: outbox. ARGV: group, consumer, entry ids. Resets the idle time of those of the ids
# this consumer still holds, so a slow projection is not taken for a dead one. -> how many
OUTBOX_TOUCH = """
local mine = {}
for i = 3, #ARGV do
  local held = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if type(held) == 'table' and held[1] then table.insert(mine, ARGV[i]) end
end
local held = #mine
if held > 0 then
  table.insert(mine, 'JUSTID')  -- JUSTID: the delivery count stays
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(mine))
end
return held
"""

# KEYS: outbox. ARGV: group, entry ids (projected or parked). Acknowledges and deletes
# them, and the consumers that hold nothing (a read makes its consumer again), so a
# long-lived outbox does not collect the name of every projector process that read it.
# -> {entries left, id of the oldest left or false}
OUTBOX_ACK = """
local ids = {unpack(ARGV, 2)}
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
redis.call('XDEL', KEYS[1], unpack(ids))
local holding = {}
for _, holder in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1])[4] or {}) do holding[holder[1]] = true end
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name = consumer[2]  -- {'name', name, 'pending', n, ...}
  if not holding[name] then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name) end
end
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
return {redis.call('XLEN', KEYS[1]), oldest and oldest[1] or false}
"""

# KEYS: outbox, and its session record (none for a profile's outbox).
# Deletes the outbox (its group with it) when it is empty and its session is gone.
# -> entries in the outbox
OUTBOX_CLEAN = """
local left = redis.call('XLEN', KEYS[1])
if left == 0 and (#KEYS == 1 or redis.call('EXISTS', KEYS[2]) == 0) then redis.call('DEL', KEYS[1]) end
return left
"""

# KEYS: parked. ARGV: outbox key, entry id, fact, error. -> the parked entry's id
OUTBOX_PARK = """
local now = redis.call('TIME')
local time = now[1] .. '.' .. string.format('%06d', tonumber(now[2]))
return redis.call('XADD', KEYS[1], '*', 'outbox', ARGV[1], 'id', ARGV[2], 'fact', ARGV[3], 'error', ARGV[4],
  'time', time)
"""


# KEYS: a session's presence hash. ARGV: now, then player ids.
# Drops the leases of those players that ended by now (not one renewed meanwhile).
# -> the fields left.
PRESENCE_FORGET = """
local now = tonumber(ARGV[1])
local forget = {}
for i = 2, #ARGV do forget[ARGV[i]] = true end
local leases = redis.call('HGETALL', KEYS[1])
for i = 1, #leases, 2 do
  local player = string.match(leases[i], '^[^/]*/(.*)$')
  if forget[player] and tonumber(leases[i + 1]) <= now then
    redis.call('HDEL', KEYS[1], leases[i])
  end
end
return redis.call('HLEN', KEYS[1])
"""

# KEYS: the presence replicas sorted set. ARGV: replica, until.
# Removes the replica if its leases ended by ``until`` (not renewed meanwhile) -> 1, else 0.
PRESENCE_REPLICA_GONE = """
local ends = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ends and tonumber(ends) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


async def run_many(
    client: Redis | RedisCluster, script: AsyncScript, calls: Sequence[tuple[Sequence[str], Sequence[Any]]]
) -> list[Any]:
    """The replies of ``script`` run once per (keys, args), in one pipeline: one round trip
    (per node of a cluster, each call going to its keys' node) instead of one per call.
    Calls the server did not know the script for run again one by one, which loads it.
    An error reply raises (the calls before it in the pipeline may have run)."""
    if not calls:
        return []
    pipe = client.pipeline(transaction=False)
    for keys, args in calls:
        # Not pipe.evalsha: a cluster pipeline refuses that method, yet routes the command
        # by its keys (all of one call's keys share a slot).
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    replies = list(await pipe.execute(raise_on_error=False))
    for i, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            keys, args = calls[i]
            replies[i] = await script(keys=keys, args=args)
        elif isinstance(reply, Exception):
            raise reply
    return replies


@dataclass(frozen=True, slots=True)
class Scripts:
    """The scripts registered on one client (EVALSHA, loading them on NOSCRIPT)."""

    clock: AsyncScript
    read: AsyncScript
    commit: AsyncScript
    create: AsyncScript
    delete: AsyncScript
    take_id: AsyncScript
    events: AsyncScript
    turns: AsyncScript
    index_put: AsyncScript
    index_drop: AsyncScript
    deadline_drop: AsyncScript
    digest_swap: AsyncScript
    value_swap: AsyncScript
    value_extend: AsyncScript
    value_delete: AsyncScript
    outbox_mark: AsyncScript
    outbox_claim: AsyncScript
    outbox_touch: AsyncScript
    outbox_ack: AsyncScript
    outbox_clean: AsyncScript
    outbox_park: AsyncScript
    presence_forget: AsyncScript
    presence_replica_gone: AsyncScript

    @classmethod
    def register(cls, client: Redis | RedisCluster) -> Scripts:
        return cls(
            clock=client.register_script(CLOCK),
            read=client.register_script(READ),
            commit=client.register_script(COMMIT),
            create=client.register_script(CREATE),
            delete=client.register_script(DELETE),
            take_id=client.register_script(TAKE_ID),
            events=client.register_script(EVENTS),
            turns=client.register_script(TURNS),
            index_put=client.register_script(INDEX_PUT),
            index_drop=client.register_script(INDEX_DROP),
            deadline_drop=client.register_script(DEADLINE_DROP),
            digest_swap=client.register_script(DIGEST_SWAP),
            value_swap=client.register_script(VALUE_SWAP),
            value_extend=client.register_script(VALUE_EXTEND),
            value_delete=client.register_script(VALUE_DELETE),
            outbox_mark=client.register_script(OUTBOX_MARK),
            outbox_claim=client.register_script(OUTBOX_CLAIM),
            outbox_touch=client.register_script(OUTBOX_TOUCH),
            outbox_ack=client.register_script(OUTBOX_ACK),
            outbox_clean=client.register_script(OUTBOX_CLEAN),
            outbox_park=client.register_script(OUTBOX_PARK),
            presence_forget=client.register_script(PRESENCE_FORGET),
            presence_replica_gone=client.register_script(PRESENCE_REPLICA_GONE),
        )
