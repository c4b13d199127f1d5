"""Where sessions run: at most one ACTIVE session per channel and one ACTIVE
single-player session per player. Switching characters/worlds, swapping and loading
channel games, and the checks CreateSession and ResumeSession make, all hold the
store lock of the channel or player, so concurrent calls across replicas serialise."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from sessiond.core import lifecycle
from sessiond.core.errors import (
    InvalidInput,
    NotAGame,
    RivalActive,
    SessionExists,
    SessionNotFound,
    SessionUnreadable,
    Unavailable,
    WrongLifecycleState,
)
from sessiond.core.limits import check_id
from sessiond.core.models import Session, SessionState
from sessiond.core.requests import RequestMemo, RequestTag, recall, remember
from sessiond.manager import commits
from sessiond.manager.manager_config import ManagerConfig
from sessiond.store.protocols import SCAN_LIMIT, SessionQuery, SessionStore

# Ids generated from a request id (CreateSession, SwapGame): a repeat finds what it made.
REQUEST_ID_NAMESPACE = uuid.UUID("6b1f3a52-55c1-4c5e-9a43-3f3d5b0f6a10")


@dataclass(frozen=True, slots=True)
class Switched:
    session: Session
    paused: Session | None
    created: bool


@dataclass(frozen=True, slots=True)
class Swapped:
    session: Session
    saved: Session | None


def lock_names(s: Session) -> list[str]:
    """The exclusive scopes a session belongs to, in a fixed order (no lock cycles)."""
    names = []
    if s.channel_id:
        names.append(f"channel:{s.channel_id}")
    if s.owner_player_id:
        names.append(f"owner:{s.owner_player_id}")
    return sorted(names)


class Placement:
    def __init__(self, store: SessionStore, config: ManagerConfig) -> None:
        self._store = store
        self._config = config

    @contextlib.asynccontextmanager
    async def exclusive(self, s: Session) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for name in lock_names(s):
                await stack.enter_async_context(self._store.lock(name))
            yield

    async def active_rivals(self, s: Session) -> list[Session]:
        """ACTIVE sessions other than ``s`` in its channel or of its owner."""
        rivals: dict[str, Session] = {}
        queries = []
        if s.channel_id:
            queries.append(SessionQuery(channel_id=s.channel_id, state=SessionState.ACTIVE))
        if s.owner_player_id:
            queries.append(SessionQuery(owner_player_id=s.owner_player_id, state=SessionState.ACTIVE))
        for query in queries:
            found, _ = await self._store.find(query, None, SCAN_LIMIT)
            rivals.update((r.session_id, r) for r in found if r.session_id != s.session_id)
        return list(rivals.values())

    async def require_no_rival(self, s: Session) -> None:
        """Call inside ``exclusive(s)`` before making ``s`` ACTIVE."""
        for rival in await self.active_rivals(s):
            if s.channel_id and rival.channel_id == s.channel_id:
                raise RivalActive(
                    f"channel {s.channel_id!r} already runs ACTIVE session {rival.session_id!r}; "
                    "use SwapGame or LoadGame to change games"
                )
            raise RivalActive(
                f"player {s.owner_player_id!r} already plays ACTIVE session {rival.session_id!r}; "
                "use SwitchCharacterWorld"
            )

    async def _pause(self, s: Session) -> Session:
        paused, _ = await commits.mutate(
            self._store, s.session_id, lifecycle.change_state(lifecycle.LifecycleAction.PAUSE, "")
        )
        return paused

    async def _resume(
        self, s: Session, request: RequestTag | None = None, answer: dict[str, Any] | None = None
    ) -> Session:
        """Resume ``s``; with a request tag, ``answer`` is kept for a repeat of the call."""
        change = lifecycle.change_state(lifecycle.LifecycleAction.RESUME, "")
        resumed, _ = await commits.mutate_once(self._store, s.session_id, change, request, keep=lambda _: answer or {})
        return resumed

    async def _earlier(self, sessions: list[Session], request: RequestTag | None) -> tuple[Session, RequestMemo] | None:
        """The session (of ``sessions``) a call with this request id already changed, and its memo."""
        if request is None:
            return None
        now = await self._store.now()
        for s in sessions:
            memo = recall(s.requests, request, now)
            if memo is not None:
                return commits.repeated(s, memo), memo
        return None

    async def _get_or_none(self, session_id: str) -> Session | None:
        try:
            return await self._store.get(session_id)
        except SessionNotFound:
            return None

    async def _made_by_request(self, session_id: str) -> Session | None:
        """The session a first attempt made under this id, if readable. One made minutes
        ago is hot; a durable store that cannot read its graph must not fail the call."""
        try:
            return await self._store.get(session_id)
        except (SessionNotFound, Unavailable):
            return None

    async def _create(self, session: Session) -> Session:
        created, _ = await self._store.create(session, "", self._config.max_sessions)
        return commits.created(created)

    async def switch(
        self,
        player_id: str,
        character_id: str,
        world_id: str,
        template: lifecycle.SessionSpec,
        request: RequestTag | None = None,
    ) -> Switched:
        for name, value in (("player_id", player_id), ("character_id", character_id), ("world_id", world_id)):
            check_id(name, value)
        async with self._store.lock(f"owner:{player_id}"):
            mine, _ = await self._store.find(SessionQuery(owner_player_id=player_id), None, SCAN_LIMIT)
            earlier = await self._earlier(mine, request)
            if earlier is not None:  # a repeat: answer as the first time, change nothing
                session, memo = earlier
                paused_id = memo.result.get("paused", "")
                paused_again = await self._get_or_none(paused_id) if paused_id else None
                return Switched(session, paused_again, memo.result["created"])
            target = next(
                (
                    s
                    for s in mine
                    if s.character_id == character_id and s.world_id == world_id and not s.state.final
                ),
                None,
            )
            created = target is None
            if target is None:  # checked before anything changes, so a refusal changes nothing
                target = await self._new_single_player(player_id, character_id, world_id, template)
            paused = None
            for s in mine:
                if s.state is SessionState.ACTIVE and s.session_id != target.session_id:
                    paused = await self._pause(s)
            answer = {"paused": paused.session_id if paused else "", "created": created}
            if created:
                session = await self._create(target)
                join = lifecycle.join(player_id, "")
                session, _ = await commits.mutate_once(
                    self._store, session.session_id, join, request, keep=lambda _: answer
                )
            elif target.state is SessionState.PAUSED:
                session = await self._resume(target, request, answer)
            else:
                session = target
            return Switched(session, paused, created)

    async def _new_single_player(
        self, player_id: str, character_id: str, world_id: str, template: lifecycle.SessionSpec
    ) -> Session:
        profile = await self._store.find_profile(player_id)
        content = profile.content if profile is not None else None
        spec = replace(
            template,
            character_id=character_id,
            world_id=world_id,
            owner_player_id=player_id,
            content=content or template.content,
        )
        return lifecycle.new_session(
            uuid.uuid4().hex, spec, await self._store.now(), self._config.defaults, self._config.limits
        )

    async def swap_game(
        self, channel_id: str, spec: lifecycle.SessionSpec, session_id: str, request: RequestTag | None = None
    ) -> Swapped:
        check_id("channel_id", channel_id)
        check_id("session_id", session_id, required=False)
        if spec.channel_id and spec.channel_id != channel_id:
            raise InvalidInput("session.channel_id", f"is {spec.channel_id!r}, not the request's {channel_id!r}")
        # A repeat of a call with a request id gets the same generated id, to find it by.
        generated = uuid.uuid5(REQUEST_ID_NAMESPACE, request.request_id).hex if request else uuid.uuid4().hex
        new = lifecycle.new_session(
            session_id or generated,
            replace(spec, channel_id=channel_id),
            await self._store.now(),
            self._config.defaults,
            self._config.limits,
        )
        async with self._store.lock(f"channel:{channel_id}"):
            mine = await self._made_by_request(new.session_id) if request else None
            earlier = await self._earlier([mine] if mine else [], request)
            if earlier is not None:
                return await self._swapped_again(*earlier)
            # Only an id the caller chose can be taken (a durable store cannot look a
            # generated one up while its graph is down, and need not).
            if session_id:
                with contextlib.suppress(SessionNotFound):
                    with contextlib.suppress(SessionUnreadable):  # taken, only not readable now
                        await self._store.get(new.session_id)
                    raise SessionExists(new.session_id)
            rivals = await self.active_rivals(new)
            saved = [await self._pause(r) for r in rivals]
            if request is not None:  # committed with the session it creates
                answer = {"saved": saved[0].session_id if saved else ""}
                memo = RequestMemo(request.fingerprint, new.create_time, 1, 0, answer)  # no event yet
                new.requests = remember({}, request, memo, new.create_time)
            try:
                session = await self._create(new)
            except Exception:
                for r in saved:  # put the channel back as it was
                    await self._resume(r)
                raise
            return Swapped(session, saved[0] if saved else None)

    async def _swapped_again(self, session: Session, memo: RequestMemo) -> Swapped:
        saved_id = memo.result.get("saved", "")
        return Swapped(session, await self._get_or_none(saved_id) if saved_id else None)

    async def load_game(self, session_id: str, request: RequestTag | None = None) -> Swapped:
        check_id("session_id", session_id)
        game = await self._store.get(session_id)
        if not game.channel_id:
            raise NotAGame(f"session {session_id!r} is not bound to a channel, so it is not a saved game")
        async with self._store.lock(f"channel:{game.channel_id}"):
            game = await self._store.get(session_id)
            earlier = await self._earlier([game], request)
            if earlier is not None:
                return await self._swapped_again(*earlier)
            if game.state.final:
                raise WrongLifecycleState(f"cannot load session {session_id!r}: it is {game.state.value}")
            saved = [await self._pause(r) for r in await self.active_rivals(game)]
            if game.state is SessionState.PAUSED:
                game = await self._resume(game, request, {"saved": saved[0].session_id if saved else ""})
            return Swapped(game, saved[0] if saved else None)
