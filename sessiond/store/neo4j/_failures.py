"""The two ways projecting into Neo4j can fail, and the one place that tells them apart.

- ``PermanentFactError``: this fact can never be applied (malformed, or refused by the
  database for what it says: a constraint, a type). Retrying is pointless; the caller
  dead-letters the fact and moves on.
- ``GraphUnavailable`` (a ``core.errors.Unavailable``): Neo4j cannot be reached or
  refused us for reasons that are not the fact's (down, leader switch, timeouts,
  credentials). Nothing is lost: the caller keeps the fact and retries later.
"""

from __future__ import annotations

from typing import Any

from neo4j.exceptions import AuthError, DriverError, Neo4jError

from sessiond.core.errors import Unavailable

# Server error codes that describe the statement or the data, not the server's health.
_PERMANENT_PREFIXES = ("Neo.ClientError.Statement.", "Neo.ClientError.Schema.")


class PermanentFactError(Exception):
    """A fact that will never apply.

    Attributes:
        index: position of the fact in the batch given to ``apply_batch`` (None when
            raised by ``apply`` for a single fact). Facts before it were applied, the
            ones after it were not.
        fact: the offending fact, as given.
    """

    def __init__(self, reason: str, *, index: int | None = None, fact: Any = None) -> None:
        super().__init__(reason if index is None else f"fact #{index}: {reason}")
        self.reason = reason
        self.index = index
        self.fact = fact

    def at(self, index: int, fact: Any = None) -> PermanentFactError:
        """The same error, located at ``index`` of a batch (and naming ``fact`` if given)."""
        located = PermanentFactError(self.reason, index=index, fact=self.fact if fact is None else fact)
        located.__cause__ = self.__cause__
        return located


class GraphUnavailable(Unavailable):
    """Neo4j cannot serve right now; the operation may be retried later."""


class GraphAuthFailed(GraphUnavailable):
    """Neo4j refused the configured credentials: a configuration problem, not an outage."""


def is_permanent(exc: BaseException) -> bool:
    """True for server errors caused by the statement or its data, which no retry fixes."""
    if not isinstance(exc, Neo4jError) or exc.is_retryable():
        return False
    return (exc.code or "").startswith(_PERMANENT_PREFIXES)


def unavailable(exc: Neo4jError | DriverError, doing: str) -> GraphUnavailable:
    """The GraphUnavailable (or GraphAuthFailed) to raise, ``from exc``, for a failed call;
    ``doing`` says what failed (e.g. "reading session 's1' from bolt://host:7687")."""
    if isinstance(exc, AuthError):
        return GraphAuthFailed(f"Neo4j refused the credentials while {doing}: {exc.message or exc}")
    return GraphUnavailable(f"Neo4j is unavailable while {doing}: {type(exc).__name__}: {exc}")
