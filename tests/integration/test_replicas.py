"""The Redis hot store with several replicas, end to end: real ``python -m sessiond serve``
processes on one real redis-server, all on loopback, reached through the Python client.

What a deployment of N identical replicas behind one Service promises: any replica
serves any session (watch here, write there, resume elsewhere), a window closes exactly
once however many replicas race for it, windows survive every replica being killed,
and a Redis outage is reported (UNAVAILABLE, readiness NOT_SERVING) and healed by itself.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sessiond_client import SessionClient, Unavailable, pb

from tests.e2e.conftest import Recorder
from tests.integration.replicas import (
    NOT_SERVING,
    SERVING,
    SESSION_SERVICE,
    Replica,
    Replicas,
    choices_of,
    resolved_turns,
    seconds,
    stored_events,
    wait_health,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

OPTIONS = ("a", "b", "c")
RACE_SESSIONS = 50
RACE_WINDOW = 2.0  # seconds: room for 150 choices through 3 replicas on 2 busy cores
KILLED_WINDOWS = 100
MIN_WINDOW, MAX_WINDOW = 2.0, 4.0  # seconds, the window lengths of the kill -9 test
KILL_MARGIN = 0.5  # the replicas are killed at least this long before the first deadline
CLOSE_TIMEOUT = 30.0  # seconds the surviving replica gets to close every window
CLOSE_LATENESS = 5.0  # a window closes this soon after its deadline (or the restart, if later)
FAIL_FAST = 3.0  # seconds a call may take to fail while Redis is down, client retries included


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[Replicas]:
    group = Replicas(tmp_path)
    try:
        yield group
    finally:
        await group.close()


def watch_after(client: SessionClient, session: pb.Session) -> Recorder:
    """Record every event of ``session`` after the state it was returned in."""
    return Recorder(client.watch(session.session_id, after_event_id=session.last_event_id, exclude_ticks=True))


def kinds(events: list[pb.SessionEvent]) -> list[str]:
    return [str(e.WhichOneof("kind")) for e in events]


def assert_consecutive(events: list[pb.SessionEvent], after: int) -> None:
    """Every stored event after ``after``, once each, in order, no gap."""
    ids = [e.event_id for e in events]
    assert ids == list(range(after + 1, after + 1 + len(ids))), ids


async def test_a_watcher_on_one_replica_sees_the_choices_made_through_another(
    replicas: Replicas, redis_url: str
) -> None:
    """Cross-replica watch: B's watcher gets A's choices and the countdown's turn_resolved,
    each once, in the order A's log holds them, and nothing after the close."""
    a, b = await replicas.start(2, redis_url)
    session = await a.client.create_session(options=OPTIONS, window_seconds=1.0, early_close=False)
    sid = session.session_id
    seen = watch_after(b.client, session)
    chosen = {"p1": "a", "p2": "b", "p3": "a"}
    for player, choice in chosen.items():
        await a.client.submit_choice(sid, player, choice)
    resolved = (await seen.wait_kind("turn_resolved")).turn_resolved
    await seen.stop()

    assert_consecutive(seen.stored(), session.last_event_id)
    assert [e.choice_received.player_id for e in seen.of_kind("choice_received")] == list(chosen)
    assert len(seen.of_kind("turn_resolved")) == 1
    assert resolved.close_reason == pb.Turn.DEADLINE and choices_of(resolved) == chosen and resolved.winner == "a"
    last = (await b.client.get_session(sid)).last_event_id
    assert seen.stored()[-1].event_id == last, "the close is the last event"
    assert seen.stored() == await stored_events(a.client, sid, session.last_event_id, last), "A's log, as is"


async def test_a_watch_resumes_on_another_replica_without_gap_or_duplicate_then_goes_live(
    replicas: Replicas, redis_url: str
) -> None:
    """Resume elsewhere: a watch cut on A and resumed on B with after_event_id = the last
    id seen gets every later event exactly once (ids consecutive), including those made
    through B while nobody watched, then follows live changes made through A."""
    a, b = await replicas.start(2, redis_url)
    session = await a.client.create_session(options=OPTIONS, window_seconds=2.0, early_close=False)
    sid = session.session_id
    first = watch_after(a.client, session)
    await a.client.submit_choice(sid, "p1", "a")
    await first.wait_kind("choice_received")
    await first.stop()  # the client goes away mid-countdown
    last_seen = first.stored()[-1].event_id

    await b.client.submit_choice(sid, "p2", "b")
    unseen = await b.client.update_session_state(sid, {"door": "open"})
    second = Recorder(b.client.watch(sid, after_event_id=last_seen, exclude_ticks=True))
    await second.wait_for(lambda e: e.event_id == unseen.last_event_id)  # the replay is through
    await a.client.submit_choice(sid, "p3", "c")  # live, through the other replica
    resolved = (await second.wait_kind("turn_resolved")).turn_resolved
    await second.stop()

    assert kinds(first.stored()) == ["player_joined", "window_opened", "choice_received"]
    assert_consecutive(second.stored(), last_seen)
    assert kinds(second.stored()) == [
        *("player_joined", "choice_received", "state_changed"),  # replayed
        *("player_joined", "choice_received", "turn_resolved"),  # live
    ]
    assert not second.of_kind("snapshot")
    assert choices_of(resolved) == {"p1": "a", "p2": "b", "p3": "c"}


async def test_replicas_racing_to_close_the_same_deadlines_close_every_window_once(
    replicas: Replicas, redis_url: str
) -> None:
    """Exactly-once close: many windows opened together through different replicas, then a
    choice in each through the two others, so all 3 replicas hold a timer for the same
    deadline (and sweep too); every window resolves once: one turn record with every
    choice, turn_number + 1, one turn_resolved per watcher, nothing written after it.
    (On a machine too loaded to make those choices well before the deadline, fewer
    replicas hold timers; the checks stay the same.)"""
    group = await replicas.start(3, redis_url)

    def via(i: int, shift: int = 0) -> SessionClient:
        """The client of session ``i``'s replica number ``shift`` (0 creates it and opens its window)."""
        return group[(i + shift) % len(group)].client

    sessions = await asyncio.gather(
        *(
            via(i).create_session(options=OPTIONS, window_seconds=RACE_WINDOW, early_close=False)
            for i in range(RACE_SESSIONS)
        )
    )
    watchers = [watch_after(via(i, 1), s) for i, s in enumerate(sessions)]
    expected: dict[str, str] = {}
    first_deadline = math.inf
    for shift, choice in enumerate(OPTIONS):  # shift 0 opens every window at once
        if time.time() > first_deadline - RACE_WINDOW / 2:
            break  # a choice sent now might miss its window and open the next one
        chooser = f"p{shift}"
        receipts = await asyncio.gather(
            *(via(i, shift).submit_choice(s.session_id, chooser, choice) for i, s in enumerate(sessions))
        )
        assert {r.turn_number for r in receipts} == {1}, "the set-up was too slow: a choice missed its window"
        expected[chooser] = choice
        first_deadline = min(first_deadline, *(seconds(r.deadline) for r in receipts))
    await asyncio.gather(*(w.wait_kind("turn_resolved") for w in watchers))

    async def closed_once(i: int, opened: pb.Session, watcher: Recorder) -> None:
        reader = via(i, 2)
        session = await reader.get_session(opened.session_id)
        [turn] = (await reader.list_turns(opened.session_id)).turns
        await watcher.stop()
        assert (turn.turn_number, turn.close_reason, choices_of(turn)) == (1, pb.Turn.DEADLINE, expected)
        assert session.turn_number == 2 and not session.HasField("window")
        assert len(watcher.of_kind("turn_resolved")) == 1
        assert_consecutive(watcher.stored(), opened.last_event_id)
        assert watcher.stored()[-1].event_id == session.last_event_id, "nothing written after the one close"

    await asyncio.gather(*(closed_once(i, s, w) for i, (s, w) in enumerate(zip(sessions, watchers, strict=True))))
    for replica in group:
        assert "window close failed" not in replica.log_events()


@dataclass(frozen=True, slots=True)
class Ack:
    """A choice a replica acknowledged, and the deadline of its window."""

    session_id: str
    player_id: str
    choice: str
    deadline: float


def player(k: int) -> str:
    return f"p{k + 1}"


async def choose(pair: list[Replica], i: int, session_id: str, plan: list[str], acks: list[Ack]) -> None:
    """Submit ``plan`` (choice k by player k) alternating between the replicas; ``acks``
    gets each choice as soon as it is acknowledged."""
    for k, choice in enumerate(plan):
        receipt = await pair[(i + k) % 2].client.submit_choice(session_id, player(k), choice)
        acks.append(Ack(session_id, player(k), choice, seconds(receipt.deadline)))


async def choose_then_kill_all(pair: list[Replica], plans: dict[str, list[str]]) -> list[Ack]:
    """Make the choices, then ``kill -9`` every replica: once all are acknowledged, or
    KILL_MARGIN before the first window could close (a slow machine: the choices still
    in flight then were never acknowledged, their fate is open). Returns the acknowledged."""
    acks: list[Ack] = []
    began = time.time()
    tasks = [asyncio.create_task(choose(pair, i, sid, plan, acks)) for i, (sid, plan) in enumerate(plans.items())]
    await asyncio.wait(tasks, timeout=began + MIN_WINDOW - KILL_MARGIN - time.time())
    finished = [task for task in tasks if task.done()]
    for replica in pair:
        replica.daemon.kill()
    killed = time.time()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in finished:
        task.result()  # a choice refused before the kill is a failure, not a crash effect
    opened = {ack.session_id: ack.deadline for ack in acks}
    assert len(opened) == len(plans), "the set-up was too slow: a window had no acknowledged choice at the kill"
    assert killed < min(opened.values()), "a window could close before the kill"
    return acks


async def test_windows_open_when_every_replica_is_killed_close_once_with_every_acknowledged_choice(
    replicas: Replicas, redis_url: str
) -> None:
    """kill -9: with 100 windows open (2-4 s, 1-3 acknowledged choices each) every replica
    is killed; one replica started again closes every window at its deadline (at once if
    it passed), each turn record holds every acknowledged choice (and nothing that was not
    submitted), and none resolves twice: one turn record, turn_number 2."""
    pair = await replicas.start(2, redis_url)
    rng = random.Random(20)
    lengths = [round(rng.uniform(MIN_WINDOW, MAX_WINDOW), 2) for _ in range(KILLED_WINDOWS)]
    sessions = await asyncio.gather(
        *(
            pair[i % 2].client.create_session(options=OPTIONS, window_seconds=length, early_close=False)
            for i, length in enumerate(lengths)
        )
    )
    plans = {s.session_id: [rng.choice(OPTIONS) for _ in range(rng.randint(1, 3))] for s in sessions}
    acks = await choose_then_kill_all(pair, plans)

    await pair[0].restart()
    restarted = time.time()
    turns = await resolved_turns(pair[0].client, list(plans), CLOSE_TIMEOUT)
    after = {s.session_id: s for s in await asyncio.gather(*(pair[0].client.get_session(sid) for sid in plans))}
    acked: dict[str, dict[str, str]] = {sid: {} for sid in plans}
    for ack in acks:
        acked[ack.session_id][ack.player_id] = ack.choice
    deadlines = {ack.session_id: ack.deadline for ack in acks}

    for sid, plan in plans.items():
        [turn] = turns[sid]
        assert (turn.turn_number, turn.close_reason, after[sid].turn_number) == (1, pb.Turn.DEADLINE, 2)
        submitted = {player(k): choice for k, choice in enumerate(plan)}
        assert acked[sid].items() <= choices_of(turn).items() <= submitted.items(), sid
        closed_at, deadline = seconds(turn.resolve_time), deadlines[sid]
        assert deadline <= closed_at <= max(deadline, restarted) + CLOSE_LATENESS, (sid, closed_at - deadline)


async def fails_fast(call: Callable[[], Awaitable[object]]) -> Unavailable:
    """The Unavailable ``call`` raises within FAIL_FAST seconds."""
    began = time.monotonic()
    with pytest.raises(Unavailable) as failed:
        await call()
    assert time.monotonic() - began < FAIL_FAST
    return failed.value


async def test_redis_down_fails_calls_fast_takes_the_service_out_of_rotation_and_heals(
    replicas: Replicas, fresh_server: RedisServer
) -> None:
    """Redis outage: calls fail within seconds with UNAVAILABLE saying Redis is unreachable;
    SessionService health goes NOT_SERVING while the process ("") stays SERVING. Redis back
    on its port with its data (append-only file): health SERVING again by itself, the session
    made before is there, the window whose deadline passed in the outage closes with the
    acknowledged choice only, and a watch open across the outage goes on without gap."""
    [replica] = await replicas.start(1, fresh_server.url)
    client = replica.client
    kept = await client.create_session(options=OPTIONS, state={"hp": 3}, window_seconds=1.0, early_close=False)
    sid = kept.session_id
    watcher = watch_after(client, kept)
    opened = await client.submit_choice(sid, "p1", "a")

    fresh_server.stop()
    assert time.time() < seconds(opened.deadline), "the set-up was too slow: the window closed before the outage"
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.get_session(sid),
        lambda: client.submit_choice(sid, "p2", "b"),
        lambda: client.create_session(options=OPTIONS),
    ]
    for call in calls:
        error = await fails_fast(call)
        assert "redis unreachable" in error.message.lower(), error.message
    await wait_health(replica, SESSION_SERVICE, NOT_SERVING)
    assert await replica.health() == SERVING, "the process is alive: liveness must not restart it"

    fresh_server.start()
    await wait_health(replica, SESSION_SERVICE, SERVING)
    assert await replica.health() == SERVING
    resolved = (await watcher.wait_kind("turn_resolved")).turn_resolved
    assert choices_of(resolved) == {"p1": "a"} and resolved.close_reason == pb.Turn.DEADLINE
    before = await client.get_session(sid)
    assert (before.session_state["hp"], before.turn_number) == (3, 2), "the record from before the outage"
    changed = await client.update_session_state(sid, {"hp": 2})
    assert (changed.session_state["hp"], changed.turn_number) == (2, 2)
    await watcher.wait_for(lambda e: e.event_id == changed.last_event_id)
    await watcher.stop()
    assert_consecutive(watcher.stored(), kept.last_event_id)
    assert kinds(watcher.stored()) == [
        *("player_joined", "window_opened", "choice_received"),  # before the outage
        *("turn_resolved", "state_changed"),  # after it
    ]
    assert await client.create_session(options=OPTIONS)


async def test_a_replica_started_while_redis_is_down_waits_for_redis_instead_of_exiting(
    replicas: Replicas, fresh_server: RedisServer
) -> None:
    """Redis down at start-up (a pod rescheduled, or restarted after a kill, during an
    outage): the process stays up, SessionService NOT_SERVING from the first Check (never
    SERVING without its store), and serves by itself once Redis is back, like a replica
    that was already running. Exiting instead sends every restarted pod into
    CrashLoopBackOff, whose growing delays outlast the outage."""
    fresh_server.stop()
    [replica] = await replicas.start(1, fresh_server.url)
    assert await replica.health(SESSION_SERVICE) == NOT_SERVING
    fresh_server.start()
    await wait_health(replica, SESSION_SERVICE, SERVING)
    assert await replica.client.create_session(options=OPTIONS)
