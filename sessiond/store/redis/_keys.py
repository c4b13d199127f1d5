"""Key names. Every key of one session carries the hash tag ``{session_id}``, so the
session's multi-key scripts run on one node of a Redis Cluster; the cross-session
indexes share a tag of their own (``{idx}``) and are only ever touched outside the
session's scripts. Profiles and locks are single keys, anywhere."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "sessiond"


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The keys of one session, in the order the Lua scripts expect them."""

    session: str  # string: the session record (JSON)
    turns: str  # sorted set: turn JSON scored by turn number, newest ``history`` kept
    events: str  # stream: ids ``0-<event_id>``, newest ``event_retention`` kept

    @property
    def all(self) -> list[str]:
        return [self.session, self.turns, self.events]


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


class Keys:
    """Builds key names under one prefix (default ``sessiond``)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        # A brace in the prefix would move the hash tag and split a session across slots.
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"key prefix {prefix!r} must be non-empty and free of braces")
        self.prefix = prefix
        names = ("created", "expiry", "deadlines", "channel", "owner")
        self.index = IndexKeys(*(f"{prefix}:{{idx}}:{name}" for name in names))

    def session(self, session_id: str) -> SessionKeys:
        base = f"{self.prefix}:{{{session_id}}}"
        return SessionKeys(f"{base}:session", f"{base}:turns", f"{base}:events")

    def session_pattern(self, session_id: str) -> str:
        """A SCAN pattern matching every key of the session (for tests and operators)."""
        return f"{self.prefix}:{{{session_id}}}:*"

    def request(self, request_id: str) -> str:
        return f"{self.prefix}:req:{request_id}"

    def profile(self, player_id: str) -> str:
        return f"{self.prefix}:profile:{player_id}"

    def lock(self, name: str) -> str:
        return f"{self.prefix}:lock:{name}"
