"""Use cases of SessionService: validate input, run one rule atomically in the store,
keep the window timers and watchers informed. No transport and no storage details."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar, assert_never

import structlog

from sessiond.core import lifecycle, presence
from sessiond.core.errors import (
    InvalidInput,
    PlayerNotFound,
    SessionNotFound,
    TurnNotFound,
    Unavailable,
)
from sessiond.core.events import StatusChanged, TurnResolved, UnknownEvent, WindowOpened
from sessiond.core.limits import check_id, check_options, check_text
from sessiond.core.models import Event, GraphProgress, PlayerEntry, Session, SessionState, Tier, Turn
from sessiond.core.paging import (
    PlayerKey,
    decode_player_key,
    decode_session_key,
    decode_turn_number,
    encode_player_key,
    encode_session_key,
    encode_turn_number,
    page_size,
    session_key,
)
from sessiond.core.requests import RequestMemo, RequestTag
from sessiond.core.tiers import tier_of
from sessiond.core.window import ChoiceReceipt, set_turn_summary, submit_choice
from sessiond.manager import commits
from sessiond.manager.janitor import Janitor
from sessiond.manager.manager_config import ManagerConfig
from sessiond.manager.placement import REQUEST_ID_NAMESPACE, Placement, Swapped, Switched
from sessiond.manager.presence import PresenceTracker
from sessiond.manager.queries import GAME_FILTER_FIELDS, SESSION_FILTER_FIELDS, session_query
from sessiond.manager.ticks import Tick, Ticks
from sessiond.manager.watch import WatchEnd, WatchHub
from sessiond.manager.windows import WindowCloser
from sessiond.store.protocols import ProjectionProgress, SessionQuery, SessionStore, StoreStats

log = structlog.get_logger(__name__)

T = TypeVar("T")

@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str
    total: int = 0


@dataclass(frozen=True, slots=True)
class TurnPage(Page[Turn]):
    """``oldest``: the oldest turn the store still keeps (0 if none); ``total``: the
    turns from it to the newest, which the pages list."""

    oldest: int = 0


@dataclass(frozen=True, slots=True)
class PlayerView:
    player: PlayerEntry
    tier: Tier
    seen: presence.Seen | None = None  # presence as of the answer (None: the settled one)


@dataclass(frozen=True, slots=True)
class WatchStart:
    """The first item of a watch started without after_event_id: the session as the
    watch starts (sent as the proto's ``SessionEvent.snapshot``)."""

    session: Session


WatchItem = Event | Tick | WatchStart


@dataclass(frozen=True, slots=True)
class Stats:
    store: str
    store_stats: StoreStats
    watchers: int
    start_time: float


class SessionManager:
    def __init__(
        self,
        store: SessionStore,
        config: ManagerConfig,
        *,
        wall_clock: Callable[[], float] = time.time,
        on_close_lag: Callable[[float], None] | None = None,
        projection: ProjectionProgress | None = None,
    ) -> None:
        """``projection``: the store's graph, when it has one (then sessions may be DURABLE)."""
        self.store = store
        self._projection = projection
        self.config = config
        self._wall = wall_clock
        self.windows = WindowCloser(store, config.sweep_interval, on_close_lag)
        self.janitor = Janitor(store, config.janitor_interval, config.expired_retention)
        self.hub = WatchHub(store, config.watch_queue_size)
        self._ticks = Ticks(wall_clock)
        self.placement = Placement(store, config)
        self.presence = PresenceTracker(store, config.tiers, config.presence_lease, config.sweep_interval)
        self.start_time = wall_clock()

    async def start(self) -> None:
        await self.windows.start()
        await self.janitor.start()
        await self.presence.start()

    async def stop(self) -> None:
        """Stop background work and end every watch stream (they end UNAVAILABLE)."""
        await self.hub.close()
        await self.windows.stop()
        await self.janitor.stop()
        await self.presence.stop()

    # Lifecycle

    async def create_session(self, spec: lifecycle.SessionSpec, session_id: str, request_id: str) -> Session:
        check_id("session_id", session_id, required=False)
        check_id("request_id", request_id, required=False)
        # A retried request gets the same generated id, so the store recognises it.
        generated = uuid.uuid5(REQUEST_ID_NAMESPACE, request_id).hex if request_id else uuid.uuid4().hex
        session = lifecycle.new_session(
            session_id or generated,
            replace(self._with_persistence(spec), owner_player_id=""),
            await self.store.now(),
            self.config.defaults,
            self.config.limits,
        )
        async with self.placement.exclusive(session):
            if session.channel_id:
                await self.placement.require_no_rival(session)  # ignores the session's own id
            created, _ = await self.store.create(session, request_id, self.config.max_sessions)
        return commits.created(created)

    def _with_persistence(self, spec: lifecycle.SessionSpec) -> lifecycle.SessionSpec:
        """``spec`` with its persistence checked against the store and defaulted from it."""
        kind = lifecycle.resolve_persistence(spec.persistence, self.store.name, graph=self._projection is not None)
        return replace(spec, persistence=kind)

    async def graph_progress(self, sessions: list[Session]) -> dict[str, GraphProgress]:
        """How far each DURABLE session of ``sessions`` has reached the graph (none
        without one). Read from the outboxes: never waits on the graph."""
        if self._projection is None or not sessions:
            return {}
        return await self._projection.graph_progress(sessions)

    async def get_session(self, session_id: str) -> Session:
        return await self.store.get(check_id("session_id", session_id))

    async def list_sessions(self, filter_text: str, size: int, token: str) -> Page[Session]:
        query = session_query(filter_text, SESSION_FILTER_FIELDS)
        return await self.find_page(query, size, token, "sessions:")

    async def find_page(self, query: SessionQuery, size: int, token: str, scope: str) -> Page[Session]:
        """One page of a store query, with a token valid only for the same query."""
        scope += query.key()
        limit = page_size(size, 50, 500)
        found, total = await self.store.find(query, decode_session_key(token, scope), limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return Page(page, encode_session_key(session_key(page[-1]), scope) if more else "", total)

    async def delete_session(self, session_id: str, etag: str) -> None:
        await self.store.delete(check_id("session_id", session_id), etag)

    async def change_state(
        self, session_id: str, action: lifecycle.LifecycleAction, etag: str, request: RequestTag | None = None
    ) -> Session:
        """``action`` is pause, resume or end. Resuming a channel's or a player's session
        is refused while another one of theirs is ACTIVE."""
        check_id("session_id", session_id)
        current = await self.store.get(session_id)
        resuming = action is lifecycle.LifecycleAction.RESUME
        async with self.placement.exclusive(current) if resuming else contextlib.nullcontext():
            if resuming and current.state in (SessionState.PAUSED, SessionState.EXPIRED):
                await self.placement.require_no_rival(current)
            change = lifecycle.change_state(action, etag)
            session, _ = await commits.mutate_once(self.store, session_id, change, request)
        return session

    async def set_game_master(self, session_id: str, player_id: str, request: RequestTag | None = None) -> Session:
        check_id("session_id", session_id)
        check_id("player_id", player_id, required=False)
        session, _ = await commits.mutate_once(self.store, session_id, lifecycle.set_game_master(player_id), request)
        return session

    # Placement: channels, games and single-player switching

    async def switch_character_world(
        self,
        player_id: str,
        character_id: str,
        world_id: str,
        template: lifecycle.SessionSpec,
        request: RequestTag | None = None,
    ) -> Switched:
        return await self.placement.switch(
            player_id, character_id, world_id, self._with_persistence(template), request
        )

    async def swap_game(
        self, channel_id: str, spec: lifecycle.SessionSpec, session_id: str, request: RequestTag | None = None
    ) -> Swapped:
        return await self.placement.swap_game(channel_id, self._with_persistence(spec), session_id, request)

    async def load_game(self, session_id: str, request: RequestTag | None = None) -> Swapped:
        return await self.placement.load_game(session_id, request)

    async def list_games(self, filter_text: str, size: int, token: str) -> Page[Session]:
        query = session_query(filter_text, GAME_FILTER_FIELDS, in_channel=True)
        return await self.find_page(query, size, token, "games:")

    # State

    async def update_session_state(
        self,
        session_id: str,
        patch: dict[str, Any],
        expected_version: int | None,
        request: RequestTag | None = None,
    ) -> Session:
        check_id("session_id", session_id)
        change = lifecycle.patch_session_state(patch, expected_version, self.config.limits)
        session, _ = await commits.mutate_once(self.store, session_id, change, request)
        return session

    async def reset_session_state(
        self,
        session_id: str,
        session_state: dict[str, Any],
        expected_version: int | None,
        request: RequestTag | None = None,
    ) -> Session:
        check_id("session_id", session_id)
        change = lifecycle.reset_session_state(session_state, expected_version, self.config.limits)
        session, _ = await commits.mutate_once(self.store, session_id, change, request)
        return session

    # Roster

    async def join(
        self, session_id: str, player_id: str, display_name: str, request: RequestTag | None = None
    ) -> PlayerView:
        check_id("session_id", session_id)
        check_id("player_id", player_id)
        check_text("display_name", display_name, self.config.limits.max_display_name_chars)
        change = lifecycle.join(player_id, display_name)
        session, joined = await commits.mutate_once(self.store, session_id, change, request)
        player = _player_now(session, player_id) if isinstance(joined, RequestMemo) else joined
        return PlayerView(player, tier_of(player, session.turn_number, await self.store.now(), self.config.tiers))

    async def leave(self, session_id: str, player_id: str, request: RequestTag | None = None) -> None:
        check_id("session_id", session_id)
        check_id("player_id", player_id)
        await commits.mutate_once(self.store, session_id, lifecycle.leave(player_id), request)

    async def list_players(
        self, session_id: str, size: int, token: str, include_departed: bool = False
    ) -> Page[PlayerView]:
        """The roster in join order; then, if asked, departed players whose privacy
        settings allow being listed, in leave order (see PlayerKey)."""
        session = await self.get_session(session_id)
        scope = f"players:{session_id}:{include_departed}"
        limit = page_size(size, 100, 1000)
        after = decode_player_key(token, scope)
        now = await self.store.now()
        keyed = [(PlayerKey(0, p.join_time, p.player_id), p) for p in session.roster.values()]
        if include_departed:
            keyed += [
                (PlayerKey(1, p.leave_time, p.player_id), p)
                for p in session.departed.values()
                if not await self._hides_departure(p.player_id)
            ]
        keyed.sort(key=lambda kp: kp[0])
        rest = [kp for kp in keyed if after is None or kp[0] > after]
        page = rest[:limit]
        leases = await self.store.presence_leases(session_id)
        views = [
            PlayerView(
                p,
                tier_of(p, session.turn_number, now, self.config.tiers),
                None if p.leave_time else presence.seen(p, leases.get(p.player_id, 0.0), now),
            )
            for _, p in page
        ]
        return Page(views, encode_player_key(page[-1][0], scope) if len(rest) > limit else "")

    async def _hides_departure(self, player_id: str) -> bool:
        profile = await self.store.find_profile(player_id)
        return profile is not None and profile.hide_from_departed_rosters

    # Choices and turns

    async def submit_choice(
        self,
        session_id: str,
        player_id: str,
        choice: str,
        turn_number: int | None = None,
        request: RequestTag | None = None,
    ) -> ChoiceReceipt:
        """With ``turn_number``, refused (WrongTurn) unless the session is on that turn."""
        check_id("session_id", session_id)
        check_id("player_id", player_id)
        limits, tiers = self.config.limits, self.config.tiers
        change = submit_choice(player_id, choice, limits, tiers, turn_number)
        _, receipt = await commits.mutate_once(self.store, session_id, change, request, keep=receipt_to_memo)
        if isinstance(receipt, RequestMemo):
            return await self._receipt_again(session_id, receipt)
        if receipt.resolved_turn is None:
            self.windows.schedule(session_id, receipt.turn_number, receipt.time_remaining)
        return receipt

    async def _receipt_again(self, session_id: str, memo: RequestMemo) -> ChoiceReceipt:
        """The receipt a repeated choice first got; its resolved turn read back from the history."""
        resolved = None
        if memo.result["resolved"]:
            resolved = await self._turn(session_id, memo.result["turn_number"])
        return receipt_from_memo(memo, resolved)

    async def _turn(self, session_id: str, turn_number: int) -> Turn:
        found = await self.store.turns(session_id, turn_number + 1, 1)
        if not found or found[0].turn_number != turn_number:
            raise TurnNotFound(session_id, turn_number)
        return found[0]

    async def set_turn_options(self, session_id: str, options: list[str], request: RequestTag | None = None) -> Session:
        check_id("session_id", session_id)
        check_options("options", options, self.config.limits)
        session, _ = await commits.mutate_once(self.store, session_id, lifecycle.set_options(options), request)
        return session

    async def list_turns(self, session_id: str, size: int, token: str) -> TurnPage:
        """A page of the kept history, newest first, with how far back it reaches."""
        check_id("session_id", session_id)
        limit = page_size(size, 20, 100)
        scope = "turns:" + session_id
        before = decode_turn_number(token, scope)
        newest = (await self.store.get(session_id)).turn_number - 1  # turns resolve in order, from 1
        found = await self.store.turns(session_id, before, limit + 1)
        page = found[:limit]
        more = len(found) > limit
        oldest = await self._oldest_kept_turn(session_id, newest)
        return TurnPage(
            page,
            encode_turn_number(page[-1].turn_number, scope) if more else "",
            newest - oldest + 1 if oldest else 0,
            oldest,
        )

    async def _oldest_kept_turn(self, session_id: str, newest: int) -> int:
        """The oldest turn the store still lists (0 if none). Turns resolve in order and a
        store keeps a contiguous run up to the newest (a hot store the newest
        ``history_turns``, a durable one all), so two probes usually tell."""

        async def kept(turn_number: int) -> bool:
            return bool(await self.store.turns(session_id, turn_number + 1, 1))

        if newest < 1 or await kept(1):
            return min(newest, 1)
        expected = max(1, newest - self.config.history_turns + 1)
        if await kept(expected) and not await kept(expected - 1):
            return expected
        kept_turns = await self.store.turns(session_id, None, newest)  # a history of another length
        return kept_turns[-1].turn_number if kept_turns else newest + 1

    async def set_turn_summary(
        self, session_id: str, turn_number: int, summary: str, winner: str, request: RequestTag | None = None
    ) -> Turn:
        check_id("session_id", session_id)
        if turn_number < 1:
            raise InvalidInput("turn_number", f"must be 1 or more, got {turn_number}")
        check_text("summary", summary, 1 << 20, required=True)
        change = set_turn_summary(summary, winner, self.config.limits)
        _, turn = await commits.mutate_once(self.store, session_id, change, request, turn_number=turn_number)
        return await self._turn(session_id, turn_number) if isinstance(turn, RequestMemo) else turn

    # Watching

    async def watch(
        self, session_id: str, after_event_id: int | None, ticks: bool = True, player_id: str = ""
    ) -> AsyncGenerator[WatchItem, None]:
        """Stored events after ``after_event_id`` (or the session as it starts), then live ones,
        each once and in order, with countdown ticks in between while a window is open.
        With ``player_id`` (on the roster) the player is ONLINE while the watch lasts."""
        check_id("player_id", player_id, required=False)
        session = await self.get_session(session_id)
        if player_id and player_id not in session.roster:
            raise PlayerNotFound(session_id, player_id)
        if after_event_id is None:
            yield WatchStart(session)
            last = session.last_event_id
        elif after_event_id < 0 or after_event_id > session.last_event_id:
            raise InvalidInput(
                "after_event_id",
                f"{after_event_id} is not an event id of session {session_id!r} (its last is {session.last_event_id})",
            )
        else:
            last = after_event_id
        window = (session.window.turn_number, session.window.deadline) if session.window else None
        grace = session.settings.presence_grace_seconds
        online = player_id in session.roster and session.roster[player_id].online
        sub = await self.hub.subscribe(session_id, session.last_event_id)
        del session  # an idle watch holds no copy of the session for its whole life
        try:
            if player_id:
                await self.presence.hold(session_id, player_id, grace, online)
            while batch := await self.store.events_after(session_id, last, 500):
                for event in batch:
                    window = _track_window(window, event)
                    if _sendable(event):
                        yield event
                    last = event.event_id
            while True:
                try:
                    async with asyncio.timeout(self._until_tick(window) if ticks else None):
                        item = await sub.get()
                except TimeoutError:
                    assert window is not None
                    yield self._ticks.tick(session_id, *window)
                    continue
                if isinstance(item, WatchEnd):
                    raise _watch_end(session_id, item, last)
                if item.event_id <= last:
                    continue  # already replayed
                window = _track_window(window, item)
                if _sendable(item):
                    yield item
                last = item.event_id
        finally:
            self.hub.unsubscribe(sub)
            if player_id:
                self.presence.release(session_id, player_id)

    def _until_tick(self, window: tuple[int, float] | None) -> float | None:
        """Seconds until the next whole second of the countdown, or None if no window."""
        if window is None:
            return None
        remaining = window[1] - self._wall()
        if remaining <= self.config.tick_interval:
            return None  # the turn_resolved event comes next
        step = self.config.tick_interval
        return remaining - step * math.floor((remaining - 1e-3) / step)

    async def stats(self) -> Stats:
        return Stats(self.store.name, await self.store.stats(), self.hub.watchers, self.start_time)


def receipt_to_memo(receipt: ChoiceReceipt) -> dict[str, Any]:
    """What a repeat of the choice answers again (the resolved turn by its number)."""
    return {
        "turn_number": receipt.turn_number,
        "opened_window": receipt.opened_window,
        "replaced": receipt.replaced,
        "deadline": receipt.deadline,
        "time_remaining": receipt.time_remaining,
        "choice_count": receipt.choice_count,
        "resolved": receipt.resolved_turn is not None,
    }


def receipt_from_memo(memo: RequestMemo, resolved: Turn | None) -> ChoiceReceipt:
    kept = {k: v for k, v in memo.result.items() if k != "resolved"}
    return ChoiceReceipt(**kept, resolved_turn=resolved)


def _player_now(session: Session, player_id: str) -> PlayerEntry:
    """The player a repeated join added, as they are now (on the roster, or departed since)."""
    player = session.roster.get(player_id) or session.departed.get(player_id)
    if player is None:
        raise PlayerNotFound(session.session_id, player_id)
    return player


def _track_window(window: tuple[int, float] | None, event: Event) -> tuple[int, float] | None:
    match event.payload:
        case WindowOpened(turn_number=turn_number, deadline=deadline):
            return turn_number, deadline
        case TurnResolved() | StatusChanged(new=SessionState.EXPIRED):
            return None
    return window


def _sendable(event: Event) -> bool:
    """Events of a kind a newer version wrote are skipped: this one cannot describe them."""
    if isinstance(event.payload, UnknownEvent):
        log.warning("skipped an event of an unknown kind", session_id=event.session_id, kind=event.kind)
        return False
    return True


def _watch_end(session_id: str, reason: WatchEnd, last: int) -> Exception:
    match reason:
        case WatchEnd.DELETED:
            return SessionNotFound(session_id)
        case WatchEnd.FELL_BEHIND:
            return Unavailable(f"watcher fell too far behind; reconnect with after_event_id={last}")
        case WatchEnd.SHUTDOWN:
            return Unavailable(f"server is shutting down; reconnect with after_event_id={last}")
        case _:
            assert_never(reason)
