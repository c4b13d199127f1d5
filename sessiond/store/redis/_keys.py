"""Key names. Every key of one session carries the hash tag ``{session_id}``, so the
session's multi-key scripts run on one node of a Redis Cluster; the cross-session
indexes share a tag of their own (``{idx}``) and are only ever touched outside the
session's scripts. A profile and its outbox share the tag ``{profile/<player_id>}``
("/" is not a character of an id, so no session's tag can equal it). Locks and
request ids are single keys, anywhere."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "sessiond"
EVENTS_SUFFIX = ":events"


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The keys of one session, in the order the Lua scripts expect them."""

    session: str  # string: the session record (JSON)
    turns: str  # sorted set: turn JSON scored by turn number, newest ``history`` kept
    events: str  # stream: ids ``0-<event_id>``, newest ``event_retention`` kept
    outbox: str  # stream: durable facts not yet projected (see _outbox); no TTL, not in ``all``
    taken: str  # string, no TTL, not in ``all``: the id registry (see _registry)

    @property
    def all(self) -> list[str]:
        """The hot keys, which share the sliding TTL."""
        return [self.session, self.turns, self.events]

    @property
    def with_outbox(self) -> list[str]:
        """The keys the change scripts (COMMIT, CREATE, DELETE) take, in their order."""
        return [self.session, self.turns, self.events, self.outbox]

    @property
    def with_registry(self) -> list[str]:
        """The keys CREATE and DELETE take, in their order."""
        return [*self.with_outbox, self.taken]


@dataclass(frozen=True, slots=True)
class IndexKeys:
    """Cross-session sorted sets, all in one hash slot."""

    created: str  # member: session id, score: create_time; newest-first listing and the session count
    expiry: str  # member: session id, score: a lower bound of expire_time, raised lazily by readers
    deadlines: str  # member: session id, score: the deadline of the session's open window
    channel: str  # member: "<channel_id>/<session id>", score 0: sessions of a channel (by lex range)
    owner: str  # member: "<owner_player_id>/<session id>", score 0: sessions of an owner

    @property
    def all(self) -> list[str]:
        """In the order the index scripts take them."""
        return [self.created, self.expiry, self.deadlines, self.channel, self.owner]

    @property
    def by_value(self) -> list[str]:
        return [self.channel, self.owner]


@dataclass(frozen=True, slots=True)
class OutboxKeys:
    """The projector's shared keys, in the indexes' slot (tag ``{idx}``)."""

    dirty: str  # sorted set, member: an outbox key, score: time of its oldest pending fact (or earlier)
    parked: str  # stream: facts that can never apply, with their error (see _outbox)


OUTBOX_SUFFIX = ":outbox"
PROFILE_TAG = "profile/"  # "/" is not a character of an id: no session id makes this tag


class Keys:
    """Builds key names under one prefix (default ``sessiond``)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        # A brace in the prefix would move the hash tag and split a session across slots.
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"key prefix {prefix!r} must be non-empty and free of braces")
        self.prefix = prefix
        names = ("created", "expiry", "deadlines", "channel", "owner")
        self.index = IndexKeys(*(f"{prefix}:{{idx}}:{name}" for name in names))
        # Not "{idx}:outbox": that is the outbox of a session called "idx".
        self.outbox = OutboxKeys(f"{prefix}:{{idx}}:dirty-outboxes", f"{prefix}:{{idx}}:outbox-parked")

    def session(self, session_id: str) -> SessionKeys:
        base = f"{self.prefix}:{{{session_id}}}"
        return SessionKeys(
            f"{base}:session", f"{base}:turns", base + EVENTS_SUFFIX, base + OUTBOX_SUFFIX, f"{base}:taken"
        )

    def session_pattern(self, session_id: str) -> str:
        """A SCAN pattern matching every key of the session (for tests and operators)."""
        return f"{self.prefix}:{{{session_id}}}:*"

    def presence(self, session_id: str) -> str:
        """Hash, in the session's slot: field ``<replica>/<player id>`` -> when that replica's
        lease for the player ends (see _presence)."""
        return f"{self.prefix}:{{{session_id}}}:presence"

    def presence_due(self) -> str:
        """Sorted set, in the indexes' slot: session id -> when its presence is due to settle."""
        return f"{self.prefix}:{{idx}}:presence-due"

    def presence_replicas(self) -> str:
        """Sorted set, in the indexes' slot: replica -> when its presence leases end."""
        return f"{self.prefix}:{{idx}}:presence-replicas"

    def presence_replica(self, replica: str) -> str:
        """Set: the sessions where ``replica`` holds presence leases."""
        return f"{self.prefix}:presence-replica:{replica}"

    def request(self, request_id: str) -> str:
        return f"{self.prefix}:req:{request_id}"

    def profile(self, player_id: str) -> str:
        return f"{self.prefix}:{{{PROFILE_TAG}{player_id}}}"

    def profile_outbox(self, player_id: str) -> str:
        return self.profile(player_id) + OUTBOX_SUFFIX

    def outbox_pattern(self) -> str:
        """A SCAN pattern matching every outbox (session's or profile's) and nothing else."""
        return f"{_glob_escape(self.prefix)}:{{*}}{OUTBOX_SUFFIX}"

    def outbox_owner(self, outbox: str) -> str | None:
        """The session record an outbox belongs to, or None for a profile's outbox.

        An empty outbox is deleted once its session is gone; a profile's, whenever it is
        empty (profiles are never deleted, and their changes are rare)."""
        tag = outbox.removeprefix(f"{self.prefix}:{{").removesuffix("}" + OUTBOX_SUFFIX)
        return None if tag.startswith(PROFILE_TAG) else self.session(tag).session

    def events_pattern(self) -> str:
        """A PSUBSCRIBE pattern matching the channel every session's commits publish on
        (named as its events stream) and nothing else."""
        return f"{_glob_escape(self.prefix)}:{{*}}{EVENTS_SUFFIX}"

    def session_of_events(self, channel: str) -> str | None:
        """The session id of an events channel (see `events_pattern`), None if it is none."""
        head, tail = f"{self.prefix}:{{", "}" + EVENTS_SUFFIX
        if not (channel.startswith(head) and channel.endswith(tail)):
            return None
        return channel[len(head) : -len(tail)] or None

    def registry_complete(self) -> str:
        """String, no TTL: set once every id of the durable store is in the registry."""
        return f"{self.prefix}:registry-complete"

    def lock(self, name: str) -> str:
        return f"{self.prefix}:lock:{name}"


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a SCAN MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
