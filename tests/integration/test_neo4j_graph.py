"""The durable graph against a real Neo4j 5.26 Community (tests/neo4j_fixtures.py): schema
migrations, projection of fact streams (in order, redelivered, shuffled, stale), cold
restore, deep turn paging, companions and privacy, and the permanent/transient error split
(a malformed fact, a stopped server, a wrong password)."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import neo4j
import pytest

from sessiond.core import facts
from sessiond.core.errors import Unavailable
from sessiond.core.lifecycle import change_state, join, leave, patch_session_state
from sessiond.core.limits import Limits
from sessiond.core.models import ContentSettings, Mutation, PlayerProfile, Session, TieBreak, Turn
from sessiond.core.tiers import TierRules
from sessiond.core.window import close_if_due, set_turn_summary, submit_choice
from sessiond.store.memory import MemoryStore
from sessiond.store.neo4j import GraphAuthFailed, GraphStore, GraphUnavailable, PermanentFactError, apply
from tests.neo4j.launcher import Neo4jServer
from tests.neo4j_fixtures import connect, graph_fixture, neo4j_server_fixture, wipe  # noqa: F401 (fixtures)
from tests.support import FakeClock, make_session

pytestmark = pytest.mark.neo4j

LIMITS = Limits()
TIERS = TierRules()
Fact = dict[str, Any]
Change = Callable[[Session, Turn | None, float], tuple[Mutation, object]]


# ----- building fact streams with the real rules ---------------------------------------------


def joins(player_id: str, name: str) -> Change:
    return lambda s, _t, now: join(player_id, name)(s, None, now)


def leaves(player_id: str) -> Change:
    return lambda s, _t, now: leave(player_id)(s, None, now)


def chooses(player_id: str, choice: str) -> Change:
    return lambda s, _t, now: submit_choice(player_id, choice, LIMITS, TIERS)(s, None, now)


def closes_due(s: Session, _t: Turn | None, now: float) -> tuple[Mutation, object]:
    assert s.window is not None
    return close_if_due(s.window.turn_number)(s, None, now)


def summarizes(summary: str, winner: str = "") -> Change:
    def change(_s: Session, t: Turn | None, _now: float) -> tuple[Mutation, object]:
        assert t is not None
        return set_turn_summary(summary, winner, LIMITS)(_s, t, 0.0)

    return change


def patches(patch: dict[str, Any]) -> Change:
    return lambda s, _t, _now: (patch_session_state(patch, None, LIMITS)(s, None, 0.0)[0], None)


def goes(action: str) -> Change:
    return lambda s, _t, now: (change_state(action, "")(s, None, now)[0], None)


class Story:
    """Commits changes through the memory store (its revisions, clock and history) and
    keeps the facts each commit produces, as the Redis outbox will."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = MemoryStore(clock=self.clock, history=1000)
        self.facts: list[Fact] = []

    async def create(self, session_id: str, **spec: object) -> Session:
        self.clock.advance(1.0)
        session, created = await self.store.create(make_session(session_id, self.clock.now, **spec), "", 100)
        assert created
        self.facts.append(facts.session_fact(session))
        return session

    async def commit(self, session_id: str, change: Change, *, turn_number: int | None = None) -> Session:
        seen: list[Mutation] = []

        def recording(s: Session, t: Turn | None, now: float) -> tuple[Mutation, object]:
            mutation, result = change(s, t, now)
            seen.append(mutation)
            return mutation, result

        self.clock.advance(1.0)
        session, _ = await self.store.mutate(session_id, recording, turn_number=turn_number)
        if seen[-1].changed:
            self.facts += facts.facts_of_commit(session, seen[-1].new_turn, seen[-1].updated_turn)
        return session

    async def delete(self, session_id: str) -> None:
        await self.store.delete(session_id)
        self.facts.append(facts.deleted_fact(session_id))

    async def profile(self, player_id: str, **fields: Any) -> PlayerProfile:
        self.clock.advance(1.0)
        profile = await self.store.mutate_profile(
            player_id, lambda stored: replace(stored or PlayerProfile(player_id), **fields)
        )
        self.facts.append(facts.profile_fact(profile))
        return profile


async def story_of_three_sessions() -> Story:
    """s1: a channel game (4 players, one departed; a NARRATOR tie decided with a summary;
    a unanimous turn; state; paused). s2: p1's own single-player session with p2 along.
    s3: created, joined, deleted. Profiles: p2 hides from recommendations."""
    story = Story()
    await story.profile(
        "p1",
        display_name="Ann",
        preferences={"lang": "en"},
        content=ContentSettings(intensity="LOW", topics_to_avoid=["spiders"]),
    )
    await story.profile("p2", display_name="Bob")
    await story.profile("p2", display_name="Bob", hide_from_recommendations=True)
    await story.profile("p3", display_name="Cy")
    await story.create(
        "s1",
        game_id="g1",
        channel_id="ch1",
        character_id="c1",
        world_id="w1",
        options=("a", "b"),
        tie_break=TieBreak.NARRATOR,
        title="Crypt",
    )
    for player_id, name in (("p1", "Ann"), ("p2", "Bob"), ("p3", "Cy"), ("p4", "Dee")):
        await story.commit("s1", joins(player_id, name))
    await story.commit("s1", leaves("p4"))
    await story.commit("s1", chooses("p1", "a"))
    await story.commit("s1", chooses("p2", "b"))
    story.clock.advance(30.0)
    await story.commit("s1", closes_due)  # a 1-1 tie, NARRATOR: no winner yet
    await story.commit("s1", summarizes("The narrator picks the left door.", "a"), turn_number=1)
    for player_id, choice in (("p1", "b"), ("p2", "b"), ("p3", "a")):
        await story.commit("s1", chooses(player_id, choice))  # the last one closes turn 2
    await story.commit("s1", patches({"hp": 7, "inventory": ["torch"]}))
    await story.commit("s1", goes("pause"))

    await story.create("s2", owner_player_id="p1", character_id="c2", world_id="w1")
    await story.commit("s2", joins("p1", "Ann"))
    await story.commit("s2", joins("p2", "Bob"))
    await story.commit("s2", chooses("p2", "run"))
    await story.commit("s2", chooses("p1", "hide"))

    await story.create("s3", game_id="g1", character_id="c1", world_id="w1")
    await story.commit("s3", joins("p1", "Ann"))
    await story.commit("s3", joins("p3", "Cy"))
    await story.delete("s3")
    return story


async def apply_in_batches(
    graph: GraphStore, stream: Sequence[Fact], rng: random.Random | None = None, size: int = 25
) -> None:
    """Apply ``stream`` in order, in batches of ``size`` facts (random sizes with ``rng``)."""
    i = 0
    while i < len(stream):
        step = rng.randint(1, 9) if rng else size
        await graph.apply_batch(stream[i : i + step])
        i += step


# ----- reading the graph back -----------------------------------------------------------------

KEY = "coalesce(n.turn_key, n.session_id, n.player_id, n.character_id, n.world_id, n.game_id, n.channel_id)"


async def rows(graph: GraphStore, query: str, **params: Any) -> list[dict[str, Any]]:
    result = await graph.driver.execute_query(query, params, database_=graph.database)
    return [record.data() for record in result.records]


async def owner_sessions(graph: GraphStore, player_id: str, character_id: str, world_id: str) -> list[str]:
    """Ids of the player's own sessions with this character in this world that have not
    ended or expired: the owner, character and world are linked in the graph."""
    found = await rows(
        graph,
        "MATCH (s:Session {owner_player_id: $player_id})-[:USES_CHARACTER]->(:Character {character_id: $character}),"
        " (s)-[:IN_WORLD]->(:World {world_id: $world}) WHERE NOT s.status IN ['ENDED', 'EXPIRED']"
        " RETURN s.session_id AS id ORDER BY id",
        player_id=player_id,
        character=character_id,
        world=world_id,
    )
    return [r["id"] for r in found]


async def fingerprint(graph: GraphStore) -> list[str]:
    """Every node and relationship with all properties (Migration nodes aside), canonical."""
    nodes = await rows(graph, "MATCH (n) WHERE NOT n:Migration RETURN labels(n) AS labels, properties(n) AS props")
    rels = await rows(
        graph,
        "MATCH (a)-[r]->(b) WITH a, r, b, "
        + KEY.replace("n.", "a.")
        + " AS a_key, "
        + KEY.replace("n.", "b.")
        + " AS b_key RETURN labels(a) AS a, a_key, type(r) AS type, labels(b) AS b, b_key, properties(r) AS props",
    )
    return sorted(json.dumps(item, sort_keys=True) for item in [*nodes, *rels])


async def schema(graph: GraphStore) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    constraints = await rows(
        graph, "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties RETURN * ORDER BY name"
    )
    indexes = await rows(graph, "SHOW INDEXES YIELD name, type, labelsOrTypes, properties RETURN * ORDER BY name")
    return constraints, indexes


# ----- schema -------------------------------------------------------------------------------


async def test_migrations_run_twice_change_nothing(graph: GraphStore) -> None:
    constraints, indexes = await schema(graph)
    unique = {(c["labelsOrTypes"][0], tuple(c["properties"])) for c in constraints if c["type"] == "UNIQUENESS"}
    assert unique >= {
        ("Player", ("player_id",)),
        ("Session", ("session_id",)),
        ("Character", ("character_id",)),
        ("World", ("world_id",)),
        ("Game", ("game_id",)),
        ("Channel", ("channel_id",)),
        ("Turn", ("turn_key",)),
        ("Migration", ("version",)),
    }
    assert {"session_update_time", "session_owner", "turn_session_number"} <= {i["name"] for i in indexes}
    versions = await rows(graph, "MATCH (m:Migration) RETURN m.version AS v, m.applied_at AS at ORDER BY v")
    assert [v["v"] for v in versions] == ["0001", "0002"]

    assert await graph.migrate() == []
    assert await schema(graph) == (constraints, indexes)
    assert await rows(graph, "MATCH (m:Migration) RETURN m.version AS v, m.applied_at AS at ORDER BY v") == versions

    # Records lost (a crash between a statement and its record): re-running is harmless.
    await graph.driver.execute_query("MATCH (m:Migration) DELETE m", database_=graph.database)
    assert await graph.migrate() == ["0001", "0002"]
    assert await graph.migrate() == []
    assert await schema(graph) == (constraints, indexes)


# ----- projection -----------------------------------------------------------------------------


async def test_a_fact_stream_builds_the_graph_model(graph: GraphStore) -> None:
    story = await story_of_three_sessions()
    await apply_in_batches(graph, story.facts)
    s1 = await story.store.get("s1")

    players = await rows(
        graph,
        "MATCH (p:Player)-[r:HAS_SESSION]->(:Session {session_id: 's1'}) "
        "RETURN p.player_id AS id, r.joined AS joined, r.left AS left, r.display_name AS name ORDER BY id",
    )
    assert players == [
        {"id": "p1", "joined": s1.roster["p1"].join_time, "left": None, "name": "Ann"},
        {"id": "p2", "joined": s1.roster["p2"].join_time, "left": None, "name": "Bob"},
        {"id": "p3", "joined": s1.roster["p3"].join_time, "left": None, "name": "Cy"},
        {"id": "p4", "joined": s1.departed["p4"].join_time, "left": s1.departed["p4"].leave_time, "name": "Dee"},
    ]
    links = await rows(
        graph,
        "MATCH (s:Session)-[r:USES_CHARACTER|IN_WORLD|PLAYS|IN_CHANNEL]->(x) "
        "RETURN s.session_id AS s, type(r) AS rel, " + KEY.replace("n.", "x.") + " AS target ORDER BY s, rel",
    )
    assert links == [
        {"s": "s1", "rel": "IN_CHANNEL", "target": "ch1"},
        {"s": "s1", "rel": "IN_WORLD", "target": "w1"},
        {"s": "s1", "rel": "PLAYS", "target": "g1"},
        {"s": "s1", "rel": "USES_CHARACTER", "target": "c1"},
        {"s": "s2", "rel": "IN_WORLD", "target": "w1"},
        {"s": "s2", "rel": "USES_CHARACTER", "target": "c2"},
    ]
    session = (await rows(graph, "MATCH (s:Session {session_id: 's1'}) RETURN properties(s) AS p"))[0]["p"]
    assert session["revision"] == s1.revision
    assert session["status"] == "PAUSED"
    assert session["update_time"] == s1.update_time
    assert session["owner_player_id"] == ""
    assert json.loads(session["snapshot"])["state"] == {"hp": 7, "inventory": ["torch"]}
    assert (await rows(graph, "MATCH (s:Session {session_id: 's2'}) RETURN s.owner_player_id AS o")) == [{"o": "p1"}]

    turns = await rows(
        graph,
        "MATCH (:Session {session_id: 's1'})-[:HAS_TURN]->(t:Turn) "
        "RETURN t.turn_key AS key, t.winner AS winner, t.summary AS summary, t.close_reason AS reason ORDER BY key",
    )
    assert turns == [
        {"key": "s1#1", "winner": "a", "summary": "The narrator picks the left door.", "reason": "DEADLINE"},
        {"key": "s1#2", "winner": "b", "summary": "", "reason": "ALL_CHOSEN"},
    ]
    chose = await rows(
        graph,
        "MATCH (p:Player)-[c:CHOSE]->(t:Turn) RETURN t.turn_key AS turn, p.player_id AS p, c.choice AS choice "
        "ORDER BY turn, p",
    )
    assert chose == [
        {"turn": "s1#1", "p": "p1", "choice": "a"},
        {"turn": "s1#1", "p": "p2", "choice": "b"},
        {"turn": "s1#2", "p": "p1", "choice": "b"},
        {"turn": "s1#2", "p": "p2", "choice": "b"},
        {"turn": "s1#2", "p": "p3", "choice": "a"},
        {"turn": "s2#1", "p": "p1", "choice": "hide"},
        {"turn": "s2#1", "p": "p2", "choice": "run"},
    ]
    # s3 is gone with its relationships; the players, character, world and game it used stay.
    assert await rows(graph, "MATCH (s:Session {session_id: 's3'}) RETURN s") == []
    assert await rows(graph, "MATCH (t:SessionTombstone) RETURN t.session_id AS id") == [{"id": "s3"}]
    counts = await rows(graph, "MATCH (n) WHERE NOT n:Migration RETURN labels(n)[0] AS label, count(*) AS n")
    assert {c["label"]: c["n"] for c in counts} == {
        "Player": 4,
        "Session": 2,
        "Turn": 3,
        "Character": 2,
        "World": 1,
        "Game": 1,
        "Channel": 1,
        "SessionTombstone": 1,
    }


async def test_redelivered_and_shuffled_streams_converge_on_the_same_graph(graph: GraphStore) -> None:
    story = await story_of_three_sessions()
    await apply_in_batches(graph, story.facts)
    expected = await fingerprint(graph)

    await apply_in_batches(graph, story.facts)  # at-least-once: everything again
    assert await fingerprint(graph) == expected

    for seed in range(4):
        rng = random.Random(seed)
        await wipe(graph)
        stream = story.facts * 2 if seed % 2 else list(story.facts)  # odd seeds: each fact twice
        rng.shuffle(stream)
        await apply_in_batches(graph, stream, rng)
        assert await fingerprint(graph) == expected, f"seed {seed}"


async def test_an_older_session_fact_does_not_regress_the_snapshot(graph: GraphStore) -> None:
    story = Story()
    await story.create("s1")
    await story.commit("s1", joins("p1", "Ann"))
    await story.commit("s1", patches({"n": 1}))
    await story.commit("s1", joins("p2", "Bob"))
    newest = story.facts[-1]
    await graph.apply_batch([newest])
    before = await fingerprint(graph)

    await graph.apply_batch(story.facts[:-1])  # every older revision
    same_revision = json.loads(json.dumps(newest))
    same_revision["session"]["title"] = "rewritten at the same revision"
    await graph.apply_batch([same_revision])

    assert await fingerprint(graph) == before
    loaded = await graph.load_session("s1")
    assert loaded is not None and loaded[0] == await story.store.get("s1")


async def test_turn_updates_carrying_a_revision_apply_in_revision_order(graph: GraphStore) -> None:
    story = Story()
    await story.create("s1", options=("a", "b"))
    await story.commit("s1", chooses("p1", "a"))
    for summary in ("first draft", "second draft", ""):
        await story.commit("s1", summarizes(summary), turn_number=1)
    turn_facts = []
    for fact in story.facts:  # what facts_of_commit would emit given the commit's revision
        if fact["kind"] == facts.SESSION:
            revision = fact["revision"]
        else:
            turn_facts.append(fact | {"revision": revision})
    for ordering in (turn_facts, list(reversed(turn_facts))):
        await wipe(graph)
        await graph.apply_batch(ordering)
        assert (await graph.turns("s1", 1))[0].summary == ""  # the last commit cleared it
    await graph.apply_batch([turn_facts[1]])
    assert (await rows(graph, "MATCH (t:Turn) RETURN t.summary AS s")) == [{"s": ""}]


async def test_a_session_created_again_after_its_delete_is_projected(graph: GraphStore) -> None:
    story = Story()
    await story.create("s1", options=("a",))
    await story.commit("s1", chooses("p1", "a"))
    await story.delete("s1")
    first_life = list(story.facts)
    await story.create("s1", title="again")
    await story.commit("s1", joins("p2", "Bob"))

    await graph.apply_batch(story.facts)
    # Late facts of the deleted incarnation (the delete naming it by its create_time).
    first_create_time = first_life[0]["session"]["create_time"]
    late = [f for f in first_life if f["kind"] != facts.SESSION_DELETED]
    await graph.apply_batch([*late, facts.deleted_fact("s1") | {"create_time": first_create_time}])
    loaded = await graph.load_session("s1")
    assert loaded is not None
    assert loaded == (await story.store.get("s1"), [])
    assert await rows(graph, "MATCH (t:SessionTombstone) RETURN t") == []


async def test_concurrent_projectors_keep_the_newest_revision(graph: GraphStore) -> None:
    story = Story()
    await story.create("s1", options=("a", "b"))
    for n in range(30):
        await story.commit("s1", joins(f"p{n}", f"Player {n}") if n % 3 else patches({"n": n}))
    stream = list(story.facts)
    random.Random(7).shuffle(stream)
    # Six projectors, each applying its share one fact per transaction, all at once.
    await asyncio.gather(*(apply_in_batches(graph, stream[i::6], size=1) for i in range(6)))
    assert await graph.load_session("s1") == (await story.store.get("s1"), [])
    members = await rows(graph, "MATCH (:Player)-[r:HAS_SESSION]->(:Session) RETURN count(r) AS n")
    assert members == [{"n": 20}]


async def test_a_turn_before_its_session_leaves_no_visible_session(graph: GraphStore) -> None:
    story = Story()
    await story.create("s1", options=("a",))
    await story.commit("s1", joins("p1", "Ann"))
    await story.commit("s1", chooses("p1", "a"))
    turn = story.facts[-1]
    await graph.apply_batch([turn])
    assert await graph.load_session("s1") is None
    assert await graph.player_sessions("p1", 10) == []
    assert [t.turn_number for t in await graph.turns("s1", 10)] == [1]
    await graph.apply_batch(story.facts[:-1])
    assert await graph.load_session("s1") == (await story.store.get("s1"), await story.store.turns("s1", None, 50))


# ----- reads ----------------------------------------------------------------------------------


async def test_load_session_restores_the_last_commit_with_its_turns(graph: GraphStore) -> None:
    story = await story_of_three_sessions()
    await apply_in_batches(graph, story.facts)
    for session_id in ("s1", "s2"):
        loaded = await graph.load_session(session_id)
        assert loaded is not None
        session, turns = loaded
        assert session == await story.store.get(session_id)
        assert turns == await story.store.turns(session_id, None, 50)
    assert await graph.load_session("s3") is None  # deleted
    assert await graph.load_session("nope") is None


async def test_turns_pages_the_whole_history_newest_first(graph: GraphStore) -> None:
    story = Story()
    await story.create("long", options=("a", "b"))
    for n in range(120):
        await story.commit("long", chooses("p1", "ab"[n % 2]))  # the only player: each choice resolves a turn
    await apply_in_batches(graph, story.facts)

    loaded = await graph.load_session("long")
    assert loaded is not None
    assert [t.turn_number for t in loaded[1]] == list(range(120, 70, -1))
    pages = [await graph.turns("long", 50, before=before) for before in (None, 71, 21, 1)]
    assert [len(p) for p in pages] == [50, 50, 20, 0]
    assert [t for page in pages for t in page] == await story.store.turns("long", None, 200)
    assert [t.turn_number for page in pages for t in page] == list(range(120, 0, -1))
    assert await graph.turns("nope", 10) == []


async def test_companions_leave_out_players_who_hide_from_recommendations(graph: GraphStore) -> None:
    story = await story_of_three_sessions()
    await apply_in_batches(graph, story.facts)
    # p2 shares s1 and s2 with p1 but hides; p4 left s1 and has no profile: the roster name.
    assert await graph.companions("p1", 10) == [("p3", "Cy", 1), ("p4", "Dee", 1)]
    assert await graph.companions("p1", 1) == [("p3", "Cy", 1)]

    stale = facts.profile_fact(replace(await story.store.get_profile("p2"), revision=1, display_name="Old Bob"))
    await story.profile("p2", display_name="Robert", hide_from_recommendations=False)
    await graph.apply_batch(story.facts[-1:])
    await graph.apply_batch([stale | {"profile": stale["profile"] | {"hide_from_recommendations": True}}])
    assert await graph.companions("p1", 10) == [("p2", "Robert", 2), ("p3", "Cy", 1), ("p4", "Dee", 1)]
    assert await graph.companions("nobody", 10) == []


async def test_player_sessions_profiles_and_cold_lookups(graph: GraphStore) -> None:
    story = await story_of_three_sessions()
    await apply_in_batches(graph, story.facts)
    s1, s2 = await story.store.get("s1"), await story.store.get("s2")

    assert await graph.player_sessions("p1", 10) == sorted([s1, s2], key=lambda s: -s.update_time)
    assert await graph.player_sessions("p4", 10) == [s1]  # departed sessions count
    assert await graph.player_sessions("p1", 1) == [max(s1, s2, key=lambda s: s.update_time)]

    assert await graph.profile("p1") == await story.store.get_profile("p1")
    assert await graph.profile("p2") == await story.store.get_profile("p2")
    assert await graph.profile("p4") is None  # a player node, but no profile fact

    assert await owner_sessions(graph, "p1", "c2", "w1") == ["s2"]
    assert await owner_sessions(graph, "p1", "c1", "w1") == []
    assert await graph.find_channel_sessions("ch1") == [s1]
    assert await graph.find_channel_sessions("ch-none") == []

    await story.commit("s2", goes("end"))
    await graph.apply_batch(story.facts[-1:])
    assert await owner_sessions(graph, "p1", "c2", "w1") == []  # ended: not a switch target


async def test_apply_runs_in_a_callers_transaction_or_session(graph: GraphStore) -> None:
    story = Story()
    await story.create("s1")
    await story.profile("p1", display_name="Ann")
    async with graph.driver.session(database=graph.database) as session:
        await session.execute_write(apply, story.facts[0])
        await apply(session, story.facts[1])
    assert await graph.load_session("s1") == (await story.store.get("s1"), [])
    assert await graph.profile("p1") == await story.store.get_profile("p1")


# ----- failures -------------------------------------------------------------------------------


def malformed_facts(good: Fact) -> list[tuple[object, str]]:
    """(fact, words of the error) for facts that can never apply."""
    nan_state = json.loads(json.dumps(good))
    nan_state["session"]["state"] = {"x": math.nan}
    return [
        ({"kind": "nope"}, "unknown fact kind"),
        ("session", "a fact is a dict"),
        ({"kind": "session", "session_id": "s1", "revision": 1}, "KeyError"),
        (good | {"revision": "2"}, "revision must be an integer"),
        (good | {"revision": True}, "revision must be an integer"),
        (good | {"session_id": "other"}, "session_id must be a non-empty string matching"),
        (nan_state, "Out of range float"),
        ({"kind": "session_deleted", "session_id": ""}, "session_id must be a non-empty string"),
        (
            good | {"session": good["session"] | {"revision": 2**70, "status": "ACTIVE"}} | {"revision": 2**70},
            "does not fit in 64 bits",
        ),
    ]


async def test_a_malformed_fact_is_a_permanent_error(graph: GraphStore) -> None:
    story = Story()
    await story.create("s1")
    await story.create("s2")
    good, other = story.facts
    for bad, words in malformed_facts(good):
        with pytest.raises(PermanentFactError, match=words) as info:
            await graph.apply_batch([bad])  # type: ignore[list-item]
        assert info.value.index == 0 and info.value.fact is bad

    bad = good | {"revision": "2"}
    with pytest.raises(PermanentFactError) as info:
        await graph.apply_batch([good, bad, other])
    assert info.value.index == 1 and info.value.fact is bad
    assert await graph.load_session("s1") is not None  # before the bad one: applied
    assert await graph.load_session("s2") is None  # after it: not applied


async def test_a_fact_the_database_refuses_is_located_in_its_batch(graph: GraphStore) -> None:
    story = Story()
    await story.create("s1", options=("a",))
    await story.commit("s1", chooses("p1", "a"))
    await story.create("s2")
    first, _, turn, last = story.facts
    refused = turn | {"turn": turn["turn"] | {"options": ["a", 1]}}  # Neo4j stores no mixed lists
    with pytest.raises(PermanentFactError, match=r"Neo\.ClientError\.Statement") as info:
        await graph.apply_batch([first, refused, last])
    assert info.value.index == 1 and info.value.fact is refused
    assert isinstance(info.value.__cause__, neo4j.exceptions.CypherTypeError)
    assert await graph.load_session("s1") is not None
    assert await graph.load_session("s2") is None


@pytest.mark.timeout(300)
async def test_a_stopped_neo4j_is_a_transient_error_and_keeps_its_data(
    graph: GraphStore, neo4j_server: Neo4jServer
) -> None:
    story = Story()
    await story.create("s1")
    await story.commit("s1", joins("p1", "Ann"))
    await graph.apply_batch(story.facts[:1])

    neo4j_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(GraphUnavailable) as info:
            await graph.apply_batch(story.facts[1:])
        failed_after = time.monotonic() - started
        assert isinstance(info.value, Unavailable) and not isinstance(info.value, PermanentFactError)
        assert failed_after < 20, f"apply_batch took {failed_after:.1f}s to give up"
        with pytest.raises(GraphUnavailable, match="unavailable"):
            await graph.ping()
        with pytest.raises(GraphUnavailable):
            await graph.load_session("s1")
    finally:
        neo4j_server.start()

    await graph.apply_batch(story.facts[1:])  # the caller's retry
    assert await graph.load_session("s1") == (await story.store.get("s1"), [])
    print(f"apply_batch gave up after {failed_after:.2f}s with Neo4j down")


async def test_a_wrong_password_fails_with_a_clear_error(graph: GraphStore, neo4j_server: Neo4jServer) -> None:
    wrong = connect(neo4j_server, password="not-the-password")
    try:
        with pytest.raises(GraphAuthFailed, match="refused the credentials") as info:
            await wrong.ping()
        assert isinstance(info.value, Unavailable)
    finally:
        await wrong.close()
    await graph.ping()  # the right credentials still work


async def test_routing_uris_and_bad_uris(graph: GraphStore, neo4j_server: Neo4jServer) -> None:
    routed = connect(neo4j_server, uri=f"neo4j://127.0.0.1:{neo4j_server.port}")
    try:
        await routed.ping()
        assert await routed.load_session("nope") is None
    finally:
        await routed.close()
    for bad in ("http://127.0.0.1:7474", "127.0.0.1:7687", "bolt://"):
        with pytest.raises(ValueError, match="Neo4j URI"):
            GraphStore.connect(bad, "neo4j", "password")
