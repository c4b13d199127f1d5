"""The redis+neo4j store through the real service, on a real redis-server and a real Neo4j
5.26 (tests/neo4j_fixtures.py), no mocks. What is proven where:

1. The store contract: tests/contract runs the whole suite on the "redis+neo4j" backend too
   (tests/contract/conftest.py); here, what only a durable store does.
2. Cold restore: after Redis lost everything (FLUSHALL), GetSession, ResumeSession, LoadGame
   and SwitchCharacterWorld each bring their session back from the graph as it was, and it
   carries on in Redis (and in the graph).
3. ListTurns pages through the whole history, hot turns and the graph's, exactly, at every
   lag of the projection.
4. A Neo4j outage under steady traffic: writes keep succeeding, the outbox lag shows and
   grows (and is 0 when nothing is pending), and once Neo4j is back every acknowledged fact
   is in the graph exactly once.
5. ``sessiond migrate`` twice: the second run applies and changes nothing; ``sessiond serve``
   with a wrong Neo4j password stops with a clear message.
6. Persistence per session: an EPHEMERAL session leaves nothing in the graph and is gone
   after FLUSHALL, while a DURABLE one (the default) comes back; GetSession tells how far
   the graph has a durable session.
7. A replica started while Neo4j is down serves, and its projection catches up once Neo4j
   is up (within the outage test of 4, which already pays for stopping Neo4j).

The services run in-process (``sessiond.server.Service``), the CLI as ``python -m sessiond``.
Waits are polls with a deadline; the only deliberate duration is the outage itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sessiond_client import NotFound, RetryPolicy, SessionClient, SessiondError, pb, struct_to_dict

from sessiond.config import Config, load
from sessiond.core.lifecycle import expire
from sessiond.server import SERVICE_NAME, Service
from sessiond.store.durable import DurableStore
from sessiond.store.neo4j import GraphStore, PermanentFactError
from sessiond.store.outbox import Projector
from tests.e2e.daemon import ROOT, free_port, source_env
from tests.neo4j.launcher import Neo4jServer
from tests.neo4j_fixtures import graph_fixture, neo4j_server_fixture, wipe  # noqa: F401 (fixtures)
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.neo4j]

CATCH_UP = 180.0  # seconds the projection may take to catch up (a bound, not a latency figure)
OUTAGE = 30.0  # seconds Neo4j stays stopped, at least
StartService = Callable[..., Awaitable[Service]]


# ----- the service, its client and the graph ---------------------------------------------------


def service_config(redis: RedisServer, neo4j: Neo4jServer, **overrides: Any) -> Config:
    args = ["--listen", "127.0.0.1:0", "--metrics-listen", "", "--console-listen", ""]
    args += ["--log-level", "warning", "--log-format", "json"]
    args += ["--store", "redis+neo4j", "--redis-url", redis.url]
    args += ["--neo4j-uri", neo4j.uri, "--neo4j-user", neo4j.user, "--neo4j-password", neo4j.password]
    return dataclasses.replace(load(args, env={}), **overrides)


@pytest.fixture
async def clean(redis_server: RedisServer, graph: GraphStore) -> GraphStore:
    """Empty Redis and an empty, migrated graph (returned, to look into)."""
    with redis_server.client() as admin:
        admin.flushall()
    return graph


@pytest.fixture
async def start_service(redis_server: RedisServer, neo4j_server: Neo4jServer) -> AsyncIterator[StartService]:
    """Starts in-process services on the test's Redis and Neo4j; all are stopped at the end."""
    started: list[Service] = []

    async def start(**overrides: Any) -> Service:
        service = Service(service_config(redis_server, neo4j_server, **overrides))
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop(0)


def client_of(service: Service) -> SessionClient:
    """A client that never retries: every call either is acknowledged or fails visibly."""
    return SessionClient(f"127.0.0.1:{service.port}", default_timeout=30, retry=RetryPolicy(max_attempts=1))


def durable(service: Service) -> DurableStore:
    assert isinstance(service.store, DurableStore)
    return service.store


async def caught_up(client: SessionClient, timeout: float = CATCH_UP) -> pb.ServiceStats:
    """GetServiceStats once the projection has no fact pending (polled, within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await client.get_service_stats()
        if stats.outbox_pending == 0:
            return stats
        assert time.monotonic() < deadline, f"the projection did not catch up in {timeout}s: {stats}"
        await asyncio.sleep(0.1)


async def query(graph: GraphStore, cypher: str, **params: Any) -> list[dict[str, Any]]:
    result = await graph.driver.execute_query(cypher, params, database_=graph.database)
    return [record.data() for record in result.records]


async def health(service: Service, name: str = SERVICE_NAME) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        return int(reply.status)


def lag(stats: pb.ServiceStats) -> float:
    return float(stats.outbox_lag.ToTimedelta().total_seconds())


def revision(etag: str) -> int:
    return int(etag.removeprefix("r"))


# ----- playing sessions ---------------------------------------------------------------------------


async def play(
    client: SessionClient, session_id: str, players: list[str], rounds: int, patch: Mapping[str, Any]
) -> None:
    """Joins ``players``, patches the state, then resolves ``rounds`` turns (everyone chooses)."""
    for player in players:
        await client.join_session(session_id, player, display_name=player.title())
    await client.update_session_state(session_id, dict(patch))
    for n in range(rounds):
        receipts = [await client.submit_choice(session_id, p, "x" if n % 2 else "y") for p in players]
        assert receipts[-1].HasField("resolved_turn")


def settled(session: pb.Session) -> pb.Session:
    """The session without what a restore, a resume (or time) changes: lifecycle state,
    etag, times, the id of the newest event and how far the graph has it."""
    copy = pb.Session()
    copy.CopyFrom(session)
    for name in ("state", "etag", "update_time", "last_activity_time", "expire_time", "last_event_id"):
        copy.ClearField(name)
    copy.persistence.ClearField("graph")
    return copy


async def full_view(client: SessionClient, session_id: str) -> tuple[pb.Session, list[pb.Player], list[pb.Turn]]:
    """The session (settled), its roster with departed players (tiers aside) and every turn."""
    players = list((await client.list_players(session_id, include_departed=True)).players)
    for player in players:
        player.ClearField("tier")
    turns = [t async for t in client.iter_turns(session_id, page_size=100)]
    return settled(await client.get_session(session_id)), players, turns


# ----- 2. cold restore ------------------------------------------------------------------------------


async def test_after_redis_lost_everything_each_way_back_restores_the_session_from_neo4j(
    clean: GraphStore, start_service: StartService, redis_server: RedisServer
) -> None:
    """With Redis flushed once the graph caught up, GetSession, ResumeSession, LoadGame and
    SwitchCharacterWorld each restore their own session from Neo4j: state, roster, turn
    number and history, game name, everything but the lifecycle state equal to before
    (GetSession shows it PAUSED, an ENDED or EXPIRED one as it was); a profile comes back at
    its revision.
    Each session then carries on in Redis, and the graph follows."""
    service = await start_service()
    async with client_of(service) as client:
        await client.upsert_player_profile(pb.PlayerProfile(player_id="solo", display_name="Solo"))
        profile = await client.upsert_player_profile(pb.PlayerProfile(player_id="solo", display_name="Solo Two"))
        template = pb.Session(game_id="g-solo", game_name="Solo Quest", title="Elf in w1")
        solo = (await client.switch_character_world("solo", "elf", "w1", template=template)).session.session_id
        await play(client, solo, ["solo"], 2, {"hp": 10})
        lobby = pb.Session(game_id="g-lobby", game_name="Lobby Game", title_screen_url="https://x.test/t.png")
        game = (await client.swap_game("lobby", lobby)).session.session_id
        await play(client, game, ["ann", "bob"], 3, {"map": {"room": "cave", "lit": False}})
        plain = (await client.create_session(game_name="Plain", state={"a": [1, 2]}, options=["x", "y"])).session_id
        await play(client, plain, ["ann", "cid"], 4, {"a": [3], "b": "c"})
        await client.leave_session(plain, "cid")
        resumable = (await client.create_session(game_name="Resumable")).session_id
        await play(client, resumable, ["dan"], 1, {"n": 1})
        ended = (await client.create_session(game_name="Ended")).session_id
        await play(client, ended, ["eve"], 1, {"n": 2})
        await client.end_session(ended)
        expired = (await client.create_session(game_name="Expired")).session_id
        # As the janitor does once the session idled past its TTL (a day on).
        await durable(service).mutate(expired, lambda s, _t, now: expire(s, None, now + 86_400))
        sessions = (solo, game, plain, resumable, ended, expired)
        before = {sid: await full_view(client, sid) for sid in sessions}
        hot = {sid: await client.get_session(sid) for sid in sessions}
        events = {sid: s.last_event_id for sid, s in hot.items()}
        revisions = {sid: revision(s.etag) for sid, s in hot.items()}
        await caught_up(client)
        with redis_server.client() as admin:
            admin.flushall()
            assert admin.dbsize() == 0

        # Each way back restores its session (the first call that touches it); callers racing
        # to restore the same session all get it, restored once.
        racing = await asyncio.gather(*(client.get_session(plain) for _ in range(8)))
        got = racing[0]
        assert all(r == got for r in racing) and revision(got.etag) == revisions[plain] + 1
        assert got.state == pb.Session.PAUSED and settled(got) == before[plain][0]
        assert got.last_event_id == events[plain]  # the next event continues the numbering
        resumed = await client.resume_session(resumable)
        assert resumed.state == pb.Session.ACTIVE and settled(resumed) == before[resumable][0]
        assert resumed.last_event_id == events[resumable] + 1
        loaded = (await client.load_game(game)).session
        assert loaded.state == pb.Session.ACTIVE and settled(loaded) == before[game][0]
        switched = await client.switch_character_world("solo", "elf", "w1")
        assert not switched.created and switched.session.session_id == solo
        assert switched.session.state == pb.Session.ACTIVE and settled(switched.session) == before[solo][0]
        assert (await client.get_session(ended)).state == pb.Session.ENDED
        assert (await client.get_session(expired)).state == pb.Session.EXPIRED
        assert {sid: await full_view(client, sid) for sid in sessions} == before
        restored = await client.get_player_profile("solo")
        assert restored.etag == profile.etag and restored.display_name == "Solo Two"

        # ... and carries on in Redis.
        await client.resume_session(plain)
        for sid, players in ((plain, ["ann"]), (resumable, ["dan"]), (game, ["ann", "bob"]), (solo, ["solo"])):
            await play(client, sid, players, 1, {"after": "restore"})
        changed = await client.upsert_player_profile(pb.PlayerProfile(player_id="solo", display_name="Solo Three"))
        assert revision(changed.etag) == revision(profile.etag) + 1
        await caught_up(client)
        for sid in sessions:
            hot = await client.get_session(sid)
            loaded_back = await clean.load_session(sid, 100)
            assert loaded_back is not None
            session, turns = loaded_back
            assert session.revision == revision(hot.etag) and session.turn_number == hot.turn_number
            assert [t.turn_number for t in turns] == list(range(hot.turn_number - 1, 0, -1))
            assert session.session_state == struct_to_dict(hot.session_state)
        durable_profile = await clean.profile("solo")
        assert durable_profile is not None and durable_profile.revision == revision(changed.etag)
        assert durable_profile.display_name == "Solo Three"


async def test_an_ephemeral_session_never_reaches_the_graph_and_a_durable_one_comes_back_after_flushall(
    clean: GraphStore, start_service: StartService, redis_server: RedisServer
) -> None:
    service = await start_service()
    async with client_of(service) as client:
        kept = await client.create_session(session_id="kept", options=["x", "y"])
        assert kept.settings.persistence == pb.SessionSettings.DURABLE  # the default with a graph
        assert kept.persistence.store == "redis+neo4j" and kept.persistence.kind == pb.SessionSettings.DURABLE
        lobby = await client.create_session(session_id="lobby", options=["x", "y"], persistence="EPHEMERAL")
        assert lobby.persistence.kind == pb.SessionSettings.EPHEMERAL
        await play(client, "kept", ["ann"], 2, {"hp": 3})
        await play(client, "lobby", ["lobbyist"], 2, {"hp": 4})
        await client.update_session_state("lobby", {"gone": "soon"})

        stats = await caught_up(client)
        by_kind = {c.persistence: c.count for c in stats.sessions_by_persistence}
        assert by_kind == {pb.SessionSettings.DURABLE: 1, pb.SessionSettings.EPHEMERAL: 1}
        listed = await client.list_sessions(filter="persistence=EPHEMERAL")
        assert [s.session_id for s in listed.sessions] == ["lobby"]
        hot = await client.get_session("kept")
        assert hot.persistence.graph.pending_facts == 0
        assert hot.persistence.graph.projected_event_id == hot.last_event_id > 0
        assert not (await client.get_session("lobby")).persistence.HasField("graph")

        # Nothing of the ephemeral session (nor of its only player) is in the graph; the durable one is.
        mentions = """MATCH (n) WHERE any(k IN keys(n) WHERE n[k] IS :: STRING AND
                      (n[k] STARTS WITH $sid OR n[k] = $player)) RETURN count(n) AS n"""
        assert await query(clean, mentions, sid="lobby", player="lobbyist") == [{"n": 0}]
        assert await query(clean, mentions, sid="kept", player="ann") != [{"n": 0}]
        turns = "MATCH (:Session {session_id: $sid})-[:HAS_TURN]->(t:Turn) RETURN count(t) AS n"
        assert await query(clean, turns, sid="kept") == [{"n": 2}]

        with redis_server.client() as admin:
            admin.flushall()
        back = await client.get_session("kept")
        assert back.state == pb.Session.PAUSED and settled(back) == settled(hot)
        assert back.persistence.kind == pb.SessionSettings.DURABLE
        with pytest.raises(NotFound):
            await client.get_session("lobby")
        again = await client.create_session(session_id="lobby", persistence="EPHEMERAL")  # its id is free again
        assert again.turn_number == 1

        # A change not projected yet shows: the graph has the session as of the event before it.
        await caught_up(client)
        before = (await client.get_session("kept")).last_event_id
        durable(service).projector.stop()
        await client.update_session_state("kept", {"hp": 2})
        behind = await client.get_session("kept")
        assert behind.last_event_id == before + 1
        assert behind.persistence.graph.pending_facts >= 1 and behind.persistence.graph.projected_event_id == before


async def test_a_deleted_session_is_not_restored_while_its_delete_is_on_the_way_to_the_graph(
    clean: GraphStore, start_service: StartService
) -> None:
    """Deleted in Redis, still in the graph (its delete not projected yet): the session is
    gone (NOT_FOUND, never restored) and its id is free for a new session, whose facts then
    replace the old one's in the graph."""
    service = await start_service()
    store = durable(service)
    async with client_of(service) as client:
        made = await client.create_session(session_id="s1", game_name="Old", state={"v": "old"})
        await play(client, "s1", ["ann"], 2, {"v": "older"})
        await caught_up(client)
        store.projector.stop()  # the delete stays in the outbox
        await client.delete_session("s1")
        assert (await client.get_service_stats()).outbox_pending > 0
        assert await clean.load_session("s1") is not None
        with pytest.raises(NotFound):
            await client.get_session("s1")
        with pytest.raises(NotFound):
            await client.list_turns("s1")
        with pytest.raises(NotFound):
            await client.resume_session("s1")
        again = await client.create_session(session_id="s1", game_name="New", state={"v": "new"})
        assert again.create_time != made.create_time
        await drain(Projector(store.hot.outbox_log, store.graph.apply_batch, PermanentFactError))
        loaded = await clean.load_session("s1")
        assert loaded is not None and loaded[0].game_name == "New" and loaded[1] == []


async def test_the_outbox_lag_is_zero_when_nothing_is_pending(
    clean: GraphStore, start_service: StartService, redis_server: RedisServer
) -> None:
    """An outbox still listed as dirty but already empty (its projector has yet to drop
    it, or was stopped before it could) is no lag: GetServiceStats says 0 pending, 0 lag;
    a fact in it again shows its own age."""
    service = await start_service()
    store = durable(service)
    store.projector.stop()
    outbox = store.hot.keys.session("quiet").outbox
    async with client_of(service) as client:
        now = (await client.get_service_stats()).start_time.ToSeconds()
        with redis_server.client() as admin:
            admin.zadd(store.hot.keys.outbox.dirty, {outbox: now - 600})
            stats = await client.get_service_stats()
            assert (stats.outbox_pending, lag(stats)) == (0, 0.0)
            admin.xadd(outbox, {"f": b"{}"})
        stats = await client.get_service_stats()
        assert stats.outbox_pending == 1 and lag(stats) >= 600


# ----- 3. the whole history -----------------------------------------------------------------------


async def drain(projector: Projector) -> int:
    """Project everything pending, a batch at a time; returns how many passes it took."""
    for passes in range(10_000):
        if not await projector.drain_once():
            return passes
    raise AssertionError("the outbox never emptied")


async def walk_turns(client: SessionClient, session_id: str, page_size: int) -> list[pb.Turn]:
    """Every turn, page by page, following the tokens."""
    turns: list[pb.Turn] = []
    token = ""
    for _ in range(1000):
        page = await client.list_turns(session_id, page_size=page_size, page_token=token)
        turns += page.turns
        token = page.next_page_token
        if not token:
            return turns
    raise AssertionError("ListTurns never ended")


async def test_list_turns_pages_through_all_120_turns_exactly_at_every_lag_of_the_graph(
    clean: GraphStore, start_service: StartService, redis_server: RedisServer
) -> None:
    """120 turns resolved one per SubmitChoice (one player, early close), 50 of them hot:
    ListTurns pages through all 120, newest first, each turn once and with its own choice,
    whatever the graph has of them: the first 40 only (the rest still in the outbox, some
    of those beyond the hot ones), every step of the projection after that, and all."""
    service = await start_service()
    store = durable(service)
    store.projector.stop()  # this test projects by hand, 23 facts at a time
    projector = Projector(store.hot.outbox_log, store.graph.apply_batch, PermanentFactError, batch_size=23)
    async with client_of(service) as client:
        sid = (await client.create_session(game_name="Long")).session_id
        for n in range(1, 121):
            receipt = await client.submit_choice(sid, "p1", f"move-{n}")
            assert receipt.resolved_turn.turn_number == n
            if n == 40:
                await drain(projector)
        lags = []
        for _ in range(100):
            pending = (await client.get_service_stats()).outbox_pending
            lags.append(pending)
            for size in (7, 50, 100):
                turns = await walk_turns(client, sid, size)
                assert [t.turn_number for t in turns] == list(range(120, 0, -1)), (pending, size)
                assert [t.choices[0].choice for t in turns] == [f"move-{n}" for n in range(120, 0, -1)]
            if not pending:
                break
            await projector.drain_once()
        # From 80 turns behind (past the hot 50) to caught up, one batch at a time.
        assert lags[0] > 2 * 50 and lags[-1] == 0 and lags == sorted(lags, reverse=True) and len(lags) > 5
        counted = await query(clean, "MATCH (t:Turn {session_id: $sid}) RETURN count(t) AS n", sid=sid)
        assert counted == [{"n": 120}]
        with redis_server.client() as admin:  # the 70 older turns came from elsewhere than Redis
            assert admin.zcard(store.hot.keys.session(sid).turns) == 50


# ----- 4. and 6. a Neo4j outage under steady traffic ----------------------------------------------


@dataclasses.dataclass
class Acked:
    """What the service acknowledged of one session."""

    players: list[str] = dataclasses.field(default_factory=list)
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    revision: int = 0  # the newest revision a reply showed
    turns: dict[int, dict[str, str]] = dataclasses.field(default_factory=dict)  # resolved: player -> choice
    in_channel: bool = False


class Traffic:
    """A steady loop of mixed writes through ``client`` (switchable between replicas):
    creates, joins, state patches, rounds of choices resolving turns, profile upserts and
    channel game swaps. Records every acknowledged write, and every failure."""

    PACE = 0.03  # seconds between writes: steady load (~25/s), not a flood the graph then takes minutes to absorb
    MAX_WRITES = 100_000

    def __init__(self, client: SessionClient, seed: int = 7) -> None:
        self.client = client
        self.sessions: dict[str, Acked] = {}
        self.profiles: dict[str, tuple[int, str]] = {}  # player -> (revision, display name)
        self.failures: list[str] = []
        self.writes = 0
        self._random = random.Random(seed)
        self._stop = asyncio.Event()
        self._next: SessionClient | None = None
        self._switched = asyncio.Event()

    async def run(self) -> None:
        for step in range(self.MAX_WRITES):
            if self._stop.is_set():
                return
            if self._next is not None:  # between two writes: none is in flight on the old client
                self.client, self._next = self._next, None
                self._switched.set()
            try:
                await self._write(step)
                self.writes += 1
            except SessiondError as exc:
                self.failures.append(f"step {step}: {exc!r}")
            await asyncio.sleep(self.PACE)

    def stop(self) -> None:
        self._stop.set()

    async def switch_to(self, client: SessionClient) -> None:
        """Send the next writes to ``client``; returns once none is in flight on the old one."""
        self._switched.clear()
        self._next = client
        await asyncio.wait_for(self._switched.wait(), 30)

    async def until_writes(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.writes < count:
            assert time.monotonic() < deadline, f"only {self.writes} writes in {timeout}s: {self.failures[-3:]}"
            await asyncio.sleep(0.05)

    async def _write(self, step: int) -> None:
        kind = step % 10
        plain = [sid for sid, acked in self.sessions.items() if not acked.in_channel]
        playing = [sid for sid in plain if self.sessions[sid].players]
        if kind == 0 or not plain:
            self._record(await self.client.create_session(game_name=f"game-{step}", state={"step": step}))
        elif kind in (1, 2) or not playing:
            sid = self._random.choice(plain)
            if len(self.sessions[sid].players) < 3:
                await self.client.join_session(sid, f"p{step}", display_name=f"Player {step}")
                self.sessions[sid].players.append(f"p{step}")
        elif kind in (3, 4):
            sid = self._random.choice(list(self.sessions))
            self._record(await self.client.update_session_state(sid, {f"k{step % 4}": step, "last": step}))
        elif kind in (5, 6, 7):
            await self._round(self._random.choice(playing), step)
        elif kind == 8:
            player = f"p{self._random.randrange(step + 1)}"
            done = await self.client.upsert_player_profile(pb.PlayerProfile(player_id=player, display_name=f"n{step}"))
            self.profiles[player] = (revision(done.etag), done.display_name)
        else:
            swapped = await self.client.swap_game(f"chan-{step % 3}", pb.Session(game_name=f"swap-{step}"))
            self._record(swapped.session, in_channel=True)
            if swapped.HasField("saved"):
                self._record(swapped.saved, in_channel=True)

    def _record(self, reply: pb.Session, *, in_channel: bool = False) -> None:
        """A session the service acknowledged, as its reply shows it."""
        acked = self.sessions.setdefault(reply.session_id, Acked(in_channel=in_channel))
        acked.state = struct_to_dict(reply.session_state)
        acked.revision = revision(reply.etag)

    async def _round(self, sid: str, step: int) -> None:
        """Every player of ``sid`` chooses: the last choice resolves the turn."""
        acked = self.sessions[sid]
        for player in acked.players:
            receipt = await self.client.submit_choice(sid, player, f"c{step}-{player}")
            if receipt.HasField("resolved_turn"):
                turn = receipt.resolved_turn
                acked.turns[turn.turn_number] = {c.player_id: c.choice for c in turn.choices}


async def assert_graph_holds_exactly(graph: GraphStore, client: SessionClient, traffic: Traffic) -> None:
    """Every acknowledged fact in the graph exactly once: each session at its last revision
    (Redis's, never below an acknowledged one) with its last acknowledged state and roster,
    each resolved turn once (and no other), each choice once, each profile at its last
    acknowledged revision."""
    sessions = await query(graph, "MATCH (s:Session) RETURN s.session_id AS sid, s.revision AS rev, s.snapshot AS doc")
    stored = {row["sid"]: (row["rev"], json.loads(row["doc"])) for row in sessions}
    assert set(stored) == set(traffic.sessions)
    for sid, acked in traffic.sessions.items():
        hot = await client.get_session(sid)
        rev, snapshot = stored[sid]
        assert rev == revision(hot.etag) >= acked.revision, sid
        assert snapshot["state"] == struct_to_dict(hot.session_state) == acked.state, sid
        assert snapshot["turn_number"] == hot.turn_number == len(acked.turns) + 1, sid
        assert sorted(snapshot["roster"]) == sorted(acked.players), sid
    turns = await query(
        graph,
        "MATCH (t:Turn) OPTIONAL MATCH (:Session)-[h:HAS_TURN]->(t) "
        "RETURN t.session_id AS sid, t.turn_number AS n, t.turn_key AS key, count(h) AS links",
    )
    assert len({t["key"] for t in turns}) == len(turns) and all(t["links"] == 1 for t in turns)
    resolved = sorted((sid, n) for sid, acked in traffic.sessions.items() for n in acked.turns)
    assert sorted((t["sid"], t["n"]) for t in turns) == resolved
    chose = await query(
        graph,
        "MATCH (p:Player)-[r:CHOSE]->(t:Turn) "
        "RETURN t.session_id AS sid, t.turn_number AS n, p.player_id AS player, collect(r.choice) AS choices",
    )
    found: dict[tuple[str, int], dict[str, str]] = {}
    for row in chose:
        [choice] = row["choices"]  # one CHOSE relationship per player and turn
        found.setdefault((row["sid"], row["n"]), {})[row["player"]] = choice
    assert found == {(sid, n): c for sid, acked in traffic.sessions.items() for n, c in acked.turns.items()}
    profiles = await query(
        graph,
        "MATCH (p:Player) WHERE p.revision IS NOT NULL "
        "RETURN p.player_id AS id, p.revision AS rev, p.display_name AS name",
    )
    assert {p["id"]: (p["rev"], p["name"]) for p in profiles} == traffic.profiles


@pytest.mark.timeout(420)
async def test_a_neo4j_outage_under_steady_traffic_loses_and_doubles_nothing(
    clean: GraphStore, start_service: StartService, neo4j_server: Neo4jServer
) -> None:
    """Steady mixed writes; Neo4j stopped for 30 s and more in the middle. Every write keeps
    succeeding (Redis is the hot path), the stats show facts pending and the lag growing.
    A second replica started during the outage starts and serves (health SERVING, the
    writes move to it), and the first one stops. Neo4j comes back on its data directory;
    the second replica's projection catches up alone, and then every acknowledged fact is
    in the graph exactly once."""
    first = await start_service()
    clients = [client_of(first)]
    traffic = Traffic(clients[0])
    writing = asyncio.create_task(traffic.run())
    try:
        await traffic.until_writes(150)
        await asyncio.to_thread(neo4j_server.stop)
        down_at = time.monotonic()
        try:
            await traffic.until_writes(traffic.writes + 100)
            early = await traffic.client.get_service_stats()
            assert early.outbox_pending > 0
            second = await start_service()  # Neo4j is down at its start
            assert await health(second) == health_pb2.HealthCheckResponse.SERVING
            clients.append(client_of(second))
            await traffic.switch_to(clients[1])
            await first.stop(0)
            await traffic.until_writes(traffic.writes + 100)
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))  # the outage itself
            late = await traffic.client.get_service_stats()
            assert late.outbox_pending > early.outbox_pending and lag(late) > lag(early) + 10, (early, late)
            assert late.store == "redis+neo4j" and late.outbox_parked == 0
        finally:
            await asyncio.to_thread(neo4j_server.start)
        await traffic.until_writes(traffic.writes + 50)
        traffic.stop()
        await writing
        assert traffic.failures == [], traffic.failures[:5]
        stats = await caught_up(traffic.client)
        assert stats.outbox_parked == 0 and lag(stats) == 0
        await assert_graph_holds_exactly(clean, traffic.client, traffic)
    finally:
        traffic.stop()
        await asyncio.gather(writing, return_exceptions=True)
        for client in clients:
            await client.close()


# ----- 5. the command line ----------------------------------------------------------------------------


async def sessiond(command: str, env: Mapping[str, str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m sessiond <command>`` of this checkout, logging JSON, with ``env`` added."""
    full = source_env({**os.environ, "SESSIOND_LOG_FORMAT": "json", **env})
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "sessiond", command],
        env=full,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def neo4j_env(server: Neo4jServer, password: str | None = None) -> dict[str, str]:
    return {
        "SESSIOND_NEO4J_URI": server.uri,
        "SESSIOND_NEO4J_USER": server.user,
        "SESSIOND_NEO4J_PASSWORD": server.password if password is None else password,
    }


async def schema(graph: GraphStore) -> tuple[list[str], list[str], list[str]]:
    """Names of the constraints and (non-lookup) indexes, and the recorded migrations."""
    constraints = await query(graph, "SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name")
    indexes = await query(graph, "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name ORDER BY name")
    migrations = await query(graph, "MATCH (m:Migration) RETURN m.version AS v ORDER BY v")
    return [r["name"] for r in constraints], [r["name"] for r in indexes], [r["v"] for r in migrations]


def migrated(done: subprocess.CompletedProcess[str]) -> Any:
    """What the ``migrated`` log line says was applied."""
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{") and '"migrated"' in x]
    return line["applied"]


async def test_migrate_twice_applies_everything_then_changes_nothing(
    clean: GraphStore, neo4j_server: Neo4jServer
) -> None:
    """On a graph without schema, ``sessiond migrate`` applies every migration (exit 0); run
    again it applies nothing (exit 0, logged as such) and the schema is unchanged."""
    constraints, indexes, _ = await schema(clean)
    for name in constraints:
        await query(clean, f"DROP CONSTRAINT {name}")
    for name in (await schema(clean))[1]:
        await query(clean, f"DROP INDEX {name}")
    await wipe(clean)
    assert await schema(clean) == ([], [], [])
    assert migrated(await sessiond("migrate", neo4j_env(neo4j_server))) == ["0001", "0002"]
    after_first = await schema(clean)
    assert after_first == (constraints, indexes, ["0001", "0002"])
    assert migrated(await sessiond("migrate", neo4j_env(neo4j_server))) == "nothing: the schema is current"
    assert await schema(clean) == after_first


async def test_serve_with_a_wrong_neo4j_password_exits_non_zero_with_a_clear_message(
    redis_server: RedisServer, neo4j_server: Neo4jServer
) -> None:
    """Bad credentials are a configuration error, not an outage: the service does not start."""
    env = neo4j_env(neo4j_server, password="not-the-password")
    env |= {"SESSIOND_STORE": "redis+neo4j", "SESSIOND_REDIS_URL": redis_server.url}
    env |= {"SESSIOND_LISTEN": f"127.0.0.1:{free_port()}", "SESSIOND_METRICS_LISTEN": "", "SESSIOND_CONSOLE_LISTEN": ""}
    done = await sessiond("serve", env)
    assert done.returncode != 0
    assert "neo4j refused the credentials" in done.stderr, done.stderr
