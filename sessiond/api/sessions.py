"""SessionService servicer: call one use case per method and convert its result. Parsing,
authentication and the mapping of domain errors to statuses are the call interceptor's
(sessiond/api/interceptor.py); a method raises domain errors as they come."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import empty_pb2
from sessiond_client._proto.sessiond.v1 import resources_pb2 as pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as spb_grpc

from sessiond.api import convert
from sessiond.api.event_ranges import reports_event_range
from sessiond.api.serialized import SerializedCache
from sessiond.core.lifecycle import LifecycleAction
from sessiond.core.models import Event, GraphProgress, Session
from sessiond.manager.placement import Swapped
from sessiond.manager.sessions import SessionManager, WatchStart
from sessiond.manager.ticks import Tick

SERIALIZED_EVENTS = 10_000  # recent events and ticks kept serialized for their watchers
SERIALIZED_SESSIONS = 10_000  # sessions kept serialized for GetSession, at their last revision read

STATUS_ACTIONS = {
    spb.PauseSessionRequest: LifecycleAction.PAUSE,
    spb.ResumeSessionRequest: LifecycleAction.RESUME,
    spb.EndSessionRequest: LifecycleAction.END,
}


class SessionServicer(spb_grpc.SessionServiceServicer):
    def __init__(self, manager: SessionManager, version: str) -> None:
        self._m = manager
        self._version = version
        self._store = manager.store.name
        self._events = SerializedCache(SERIALIZED_EVENTS)
        self._sessions = SerializedCache(SERIALIZED_SESSIONS)

    def _event_bytes(self, event: Event) -> bytes:
        """The event serialized once for all its watchers in this process. Keyed with the
        event's time too: a session deleted and created again restarts its event ids."""
        key = (event.session_id, event.event_id, event.time)
        return self._events.get(key, None, lambda: convert.event_to_pb(event))

    def _tick_bytes(self, tick: Tick) -> bytes:
        """A countdown tick serialized once for the session's watchers (they share the Tick)."""
        return self._events.get(tick, None, lambda: convert.tick_to_pb(tick))

    def _session_bytes(self, session: Session) -> bytes:
        """The session as GetSession answers it, serialized once per revision read. Every
        commit moves the revision; create_time tells a session deleted and created again
        apart, and the times cover any write that would leave the revision (none should)."""
        version = (session.create_time, session.revision, session.update_time, session.last_activity_time)
        return self._sessions.get(session.session_id, version, lambda: self._pb(session))

    def _pb(self, session: Session, graph: GraphProgress | None = None) -> pb.Session:
        return convert.session_to_pb(session, self._store, graph)

    def _swapped(self, done: Swapped) -> spb.SwapGameResponse:
        out = spb.SwapGameResponse(session=self._pb(done.session))
        if done.saved is not None:
            out.saved.CopyFrom(self._pb(done.saved))
        return out

    @reports_event_range
    async def CreateSession(self, request: spb.CreateSessionRequest, context: Any) -> pb.Session:
        spec = convert.spec_from_pb(request.session)
        return self._pb(await self._m.create_session(spec, request.session_id, request.request_id))

    async def GetSession(self, request: spb.GetSessionRequest, context: Any) -> pb.Session | bytes:
        session = await self._m.get_session(request.session_id)
        graph = (await self._m.graph_progress([session])).get(session.session_id)
        # The graph's progress moves without the session: answered fresh when there is one.
        return self._pb(session, graph) if graph is not None else self._session_bytes(session)

    async def ListSessions(self, request: spb.ListSessionsRequest, context: Any) -> spb.ListSessionsResponse:
        page = await self._m.list_sessions(request.filter, request.page_size, request.page_token)
        graph = await self._m.graph_progress(page.items)
        return spb.ListSessionsResponse(
            sessions=[self._pb(s, graph.get(s.session_id)) for s in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total,
        )

    async def DeleteSession(self, request: spb.DeleteSessionRequest, context: Any) -> empty_pb2.Empty:
        await self._m.delete_session(request.session_id, request.etag)
        return empty_pb2.Empty()

    async def _change_state(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> pb.Session:
        action = STATUS_ACTIONS[type(request)]
        tag = convert.request_tag(request)
        return self._pb(await self._m.change_state(request.session_id, action, request.etag, tag))

    PauseSession = reports_event_range(_change_state)
    ResumeSession = reports_event_range(_change_state)
    EndSession = reports_event_range(_change_state)

    @reports_event_range
    async def UpdateSessionState(self, request: spb.UpdateSessionStateRequest, context: Any) -> pb.Session:
        patch = convert.dict_of("patch", request.patch)
        expected = request.expected_state_version if request.HasField("expected_state_version") else None
        tag = convert.request_tag(request)
        return self._pb(await self._m.update_session_state(request.session_id, patch, expected, tag))

    @reports_event_range
    async def ResetSessionState(self, request: spb.ResetSessionStateRequest, context: Any) -> pb.Session:
        session_state = convert.dict_of("session_state", request.session_state)
        expected = request.expected_state_version if request.HasField("expected_state_version") else None
        tag = convert.request_tag(request)
        return self._pb(await self._m.reset_session_state(request.session_id, session_state, expected, tag))

    @reports_event_range
    async def JoinSession(self, request: spb.JoinSessionRequest, context: Any) -> pb.Player:
        tag = convert.request_tag(request)
        view = await self._m.join(request.session_id, request.player_id, request.display_name, tag)
        return convert.view_to_pb(view)

    @reports_event_range
    async def LeaveSession(self, request: spb.LeaveSessionRequest, context: Any) -> empty_pb2.Empty:
        await self._m.leave(request.session_id, request.player_id, convert.request_tag(request))
        return empty_pb2.Empty()

    async def ListPlayers(self, request: spb.ListPlayersRequest, context: Any) -> spb.ListPlayersResponse:
        page = await self._m.list_players(
            request.session_id, request.page_size, request.page_token, request.include_departed
        )
        return spb.ListPlayersResponse(
            players=[convert.view_to_pb(v) for v in page.items], next_page_token=page.next_page_token
        )

    @reports_event_range
    async def SubmitChoice(self, request: spb.SubmitChoiceRequest, context: Any) -> spb.SubmitChoiceResponse:
        turn = request.turn_number if request.HasField("turn_number") else None
        tag = convert.request_tag(request)
        receipt = await self._m.submit_choice(request.session_id, request.player_id, request.choice, turn, tag)
        return convert.receipt_to_pb(receipt)

    async def WatchSession(
        self, request: spb.WatchSessionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SessionEvent | bytes]:
        after = request.after_event_id if request.HasField("after_event_id") else None
        watch = self._m.watch(request.session_id, after, ticks=not request.exclude_ticks, player_id=request.player_id)
        # Closed with this stream, not when collected: a stream cancelled while one of its
        # messages is being written closes this generator at its yield, and the watch
        # (its subscription, its player's presence lease) must end then too.
        async with contextlib.aclosing(watch):
            async for item in watch:
                if isinstance(item, Tick):
                    yield self._tick_bytes(item)
                elif isinstance(item, WatchStart):
                    yield convert.watch_start_to_pb(item, self._store)
                else:
                    yield self._event_bytes(item)
                del item  # an idle stream holds not its last item (the start is a whole session)

    async def ListTurns(self, request: spb.ListTurnsRequest, context: Any) -> spb.ListTurnsResponse:
        page = await self._m.list_turns(request.session_id, request.page_size, request.page_token)
        return spb.ListTurnsResponse(
            turns=[convert.turn_to_pb(t) for t in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total,
            oldest_turn_number=page.oldest,
        )

    @reports_event_range
    async def SetTurnSummary(self, request: spb.SetTurnSummaryRequest, context: Any) -> pb.Turn:
        tag = convert.request_tag(request)
        turn = await self._m.set_turn_summary(
            request.session_id, request.turn_number, request.summary, request.winner, tag
        )
        return convert.turn_to_pb(turn)

    @reports_event_range
    async def SetTurnOptions(self, request: spb.SetTurnOptionsRequest, context: Any) -> pb.Session:
        tag = convert.request_tag(request)
        return self._pb(await self._m.set_turn_options(request.session_id, list(request.options), tag))

    async def GetServiceStats(self, request: spb.GetServiceStatsRequest, context: Any) -> spb.ServiceStats:
        return convert.stats_to_pb(await self._m.stats(), self._version)

    @reports_event_range
    async def SwitchCharacterWorld(
        self, request: spb.SwitchCharacterWorldRequest, context: Any
    ) -> spb.SwitchCharacterWorldResponse:
        template = convert.spec_from_pb(request.template)
        done = await self._m.switch_character_world(
            request.player_id, request.character_id, request.world_id, template, convert.request_tag(request)
        )
        out = spb.SwitchCharacterWorldResponse(session=self._pb(done.session), created=done.created)
        if done.paused is not None:
            out.paused.CopyFrom(self._pb(done.paused))
        return out

    @reports_event_range
    async def SwapGame(self, request: spb.SwapGameRequest, context: Any) -> spb.SwapGameResponse:
        spec = convert.spec_from_pb(request.session)
        tag = convert.request_tag(request)
        return self._swapped(await self._m.swap_game(request.channel_id, spec, request.session_id, tag))

    @reports_event_range
    async def LoadGame(self, request: spb.LoadGameRequest, context: Any) -> spb.SwapGameResponse:
        return self._swapped(await self._m.load_game(request.session_id, convert.request_tag(request)))

    async def ListGames(self, request: spb.ListGamesRequest, context: Any) -> spb.ListGamesResponse:
        page = await self._m.list_games(request.filter, request.page_size, request.page_token)
        return spb.ListGamesResponse(
            games=[convert.game_to_pb(s) for s in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total,
        )

    @reports_event_range
    async def SetGameMaster(self, request: spb.SetGameMasterRequest, context: Any) -> pb.Session:
        tag = convert.request_tag(request)
        return self._pb(await self._m.set_game_master(request.session_id, request.player_id, tag))
