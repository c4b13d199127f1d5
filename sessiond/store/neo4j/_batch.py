"""Batches of facts: checked, coalesced, written in one managed transaction, and the
permanent/transient split of what can go wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from neo4j import AsyncDriver, AsyncSession
from neo4j.exceptions import DriverError, Neo4jError

from sessiond.core import facts
from sessiond.store.neo4j._failures import PermanentFactError, is_permanent, unavailable
from sessiond.store.neo4j._params import Parsed, parse
from sessiond.store.neo4j._projection import apply_parsed

DOING = "applying facts"


async def apply_batch(driver: AsyncDriver, database: str, facts_: Sequence[Mapping[str, Any]]) -> None:
    """Project ``facts_`` in order, in one managed write transaction (the driver retries
    transient errors within its ``max_transaction_retry_time``).

    Session and profile facts superseded by a newer one of the same record later in the
    batch are skipped: the newer one would overwrite them anyway.

    Raises:
        PermanentFactError: fact ``index`` can never apply. Facts before it are applied
            (committed), facts after it are not: dead-letter that one, resubmit the rest.
        GraphUnavailable: Neo4j could not be reached, or refused the work for reasons that
            are not the facts' (GraphAuthFailed for bad credentials). Nothing of the
            batch is known to be applied; resubmit it later (facts are idempotent).
    """
    checked: list[Parsed] = []
    refused: PermanentFactError | None = None
    for index, fact in enumerate(facts_):
        try:
            checked.append(parse(fact))
        except PermanentFactError as exc:
            refused = exc.at(index, fact)
            break
    if checked:
        try:
            await _transaction(driver, database, newest_only(checked))
        except Neo4jError:  # a permanent refusal (_transaction turned the others into GraphUnavailable)
            await _one_by_one(driver, database, checked, facts_)
    if refused is not None:
        raise refused


async def _one_by_one(
    driver: AsyncDriver, database: str, checked: Sequence[Parsed], facts_: Sequence[Mapping[str, Any]]
) -> None:
    """The database refused the batch for good: apply its facts in order, one transaction
    each, to commit those before the culprit and name it."""
    for index, parsed in enumerate(checked):
        try:
            await _transaction(driver, database, [parsed])
        except Neo4jError as exc:
            raise PermanentFactError(
                f"Neo4j refused the fact: {exc.code}: {exc.message}", index=index, fact=facts_[index]
            ) from exc


async def _transaction(driver: AsyncDriver, database: str, batch: Sequence[Parsed]) -> None:
    """One managed write transaction. Raises GraphUnavailable, or the database's permanent
    error (a Neo4jError for which ``is_permanent`` holds) unchanged."""
    try:
        session: AsyncSession
        async with driver.session(database=database) as session:
            await session.execute_write(apply_parsed, batch)
    except Neo4jError as exc:
        if is_permanent(exc):
            raise
        raise unavailable(exc, DOING) from exc
    except DriverError as exc:
        raise unavailable(exc, DOING) from exc


def newest_only(batch: Sequence[Parsed]) -> list[Parsed]:
    """``batch`` without the session and profile facts that a newer fact of the same record
    supersedes within it. Session facts are compared by (create_time, revision) and only
    between deletes of that session, so every incarnation's newest fact stays."""
    newest: dict[tuple[str, str], tuple[float, int]] = {}
    kept: list[Parsed] = []
    for parsed in reversed(batch):
        p = parsed.params
        if parsed.kind == facts.SESSION_DELETED:
            newest.pop((facts.SESSION, p["session_id"]), None)
        elif parsed.kind in (facts.SESSION, facts.PROFILE):
            record = (parsed.kind, p["session_id"] if parsed.kind == facts.SESSION else p["player_id"])
            order = (p.get("create_time", 0.0), p["revision"])
            if record in newest and newest[record] >= order:
                continue
            newest[record] = order
        kept.append(parsed)
    kept.reverse()
    return kept
