"""Persistence chosen per session, through the API of a server without a graph (memory):
only EPHEMERAL sessions, DURABLE refused naming the store, and sessions counted and
listed by persistence. The redis+neo4j side is in tests/integration/test_durable.py."""

from __future__ import annotations

import pytest
from sessiond_client import InvalidArgument, SessionClient, pb

EPHEMERAL, DURABLE = pb.SessionSettings.EPHEMERAL, pb.SessionSettings.DURABLE


async def test_a_session_on_a_store_without_a_graph_is_ephemeral_and_says_where_it_is(client: SessionClient) -> None:
    made = await client.create_session(session_id="s1")
    assert made.settings.persistence == EPHEMERAL
    assert made.persistence.store == "memory" and made.persistence.kind == EPHEMERAL
    got = await client.get_session("s1")
    assert got.persistence.kind == EPHEMERAL and not got.persistence.HasField("graph")
    asked = await client.create_session(session_id="s2", persistence="EPHEMERAL")
    assert asked.settings.persistence == EPHEMERAL


async def test_durable_on_a_store_without_a_graph_is_refused_naming_the_store_and_creates_nothing(
    client: SessionClient,
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await client.create_session(session_id="s1", persistence=DURABLE)
    assert "settings.persistence" in refused.value.message and "memory" in refused.value.message
    assert "EPHEMERAL" in refused.value.message
    with pytest.raises(InvalidArgument):
        await client.swap_game("c1", pb.Session(settings=pb.SessionSettings(persistence=DURABLE)))
    assert (await client.list_sessions()).total_size == 0


async def test_sessions_are_counted_and_listed_by_persistence(client: SessionClient) -> None:
    for sid in ("a", "b"):
        await client.create_session(session_id=sid)

    stats = await client.get_service_stats()
    assert [(c.persistence, c.count) for c in stats.sessions_by_persistence] == [(EPHEMERAL, 2)]
    listed = await client.list_sessions(filter="persistence=EPHEMERAL")
    assert sorted(s.session_id for s in listed.sessions) == ["a", "b"] and listed.total_size == 2
    assert all(s.persistence.kind == EPHEMERAL for s in listed.sessions)
    assert (await client.list_sessions(filter="persistence=durable")).total_size == 0
    with pytest.raises(InvalidArgument) as refused:
        await client.list_sessions(filter="persistence=FOREVER")
    assert "persistence must be one of DURABLE, EPHEMERAL" in refused.value.message
