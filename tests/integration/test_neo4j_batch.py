"""A batch of facts is one statement (``UNWIND $rows ... CALL (row) {...}``) against a real
Neo4j: it must leave the graph its facts leave when applied one at a time, in order, even
where a fact depends on what an earlier one in the same batch wrote."""

from __future__ import annotations

import pytest

from sessiond.core import facts
from sessiond.store.neo4j import GraphStore
from tests.integration.test_neo4j_graph import (
    Fact,
    Story,
    chooses,
    fingerprint,
    joins,
    patches,
    story_of_three_sessions,
    summarizes,
)
from tests.neo4j_fixtures import graph_fixture, neo4j_server_fixture, wipe  # noqa: F401 (fixtures)

pytestmark = pytest.mark.neo4j


async def one_at_a_time(graph: GraphStore, stream: list[Fact]) -> list[str]:
    await wipe(graph)
    for fact in stream:
        await graph.apply_batch([fact])
    return await fingerprint(graph)


async def all_at_once(graph: GraphStore, stream: list[Fact]) -> list[str]:
    await wipe(graph)
    await graph.apply_batch(stream)
    return await fingerprint(graph)


async def test_a_batch_leaves_the_graph_its_facts_leave_one_by_one(graph: GraphStore) -> None:
    story = await story_of_three_sessions()
    # s2 again, in the same stream: turns, a summary, a delete, and the id created anew.
    await story.commit("s2", summarizes("They hid."), turn_number=1)
    await story.delete("s2")
    await story.create("s2", title="again", options=("x", "y"))
    await story.commit("s2", joins("p5", "Eve"))
    await story.commit("s2", chooses("p5", "x"))
    await story.profile("p1", display_name="Annie")

    expected = await one_at_a_time(graph, story.facts)
    assert await all_at_once(graph, story.facts) == expected


async def test_later_rows_see_what_earlier_rows_of_the_batch_wrote(graph: GraphStore) -> None:
    """Updates of one turn and of one profile, newest first within one batch: each row must
    see the revision the row before it stored, so the older ones are ignored."""
    story = Story()
    await story.create("s1", options=("a", "b"))
    await story.commit("s1", chooses("p1", "a"))
    for summary in ("first", "second", "third"):
        await story.commit("s1", summarizes(summary), turn_number=1)
    for name in ("Ann", "Anna", "Annie"):
        await story.profile("p1", display_name=name)
    revision = 0
    newest_first: list[Fact] = []
    for fact in story.facts:
        if fact["kind"] == facts.SESSION:
            revision = fact["revision"]
        elif fact["kind"] == facts.TURN:
            newest_first.insert(0, fact | {"revision": revision})
        else:
            newest_first.insert(0, fact)

    expected = await one_at_a_time(graph, newest_first)
    assert await all_at_once(graph, newest_first) == expected
    assert any('"summary": "third"' in line for line in expected)
    assert any('"display_name": "Annie"' in line and "Player" in line for line in expected)


async def test_a_large_interleaved_batch_matches_one_by_one(graph: GraphStore) -> None:
    """Many sessions' facts interleaved, as a projector concatenates outboxes: a few hundred
    rows in one statement."""
    story = Story()
    sessions = [f"s{i}" for i in range(12)]
    for sid in sessions:
        await story.create(sid, options=("a", "b"))
    for n in range(4):
        for i, sid in enumerate(sessions):
            await story.commit(sid, joins(f"p{i}-{n}", f"Player {n}"))
            await story.commit(sid, patches({"n": n}))
            await story.commit(sid, chooses(f"p{i}-{n}", "ab"[n % 2]))
    assert len(story.facts) > 150

    expected = await one_at_a_time(graph, story.facts)
    assert await all_at_once(graph, story.facts) == expected
