"""SessionClient: one typed async method per RPC of sessiond.v1.SessionService."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

import grpc
from google.protobuf import empty_pb2, message, struct_pb2

from sessiond_client import _ranges, pb
from sessiond_client._call_errors import error_from_rpc
from sessiond_client._convert import JsonObject, seconds_to_timedelta, to_struct
from sessiond_client._methods import METHODS, repeat_is_safe
from sessiond_client._proto.sessiond.v1 import player_service_pb2_grpc, session_service_pb2_grpc
from sessiond_client._ranges import EventRanges, Since
from sessiond_client._retry import RetryPolicy, call_with_retry, is_retryable
from sessiond_client._service_config import CHANNEL_OPTION, service_config
from sessiond_client._watch import SessionWatch

Metadata: TypeAlias = Sequence[tuple[str, str]]
ChannelOptions: TypeAlias = Sequence[tuple[str, Any]]
State: TypeAlias = JsonObject | struct_pb2.Struct
R = TypeVar("R", bound=message.Message)
Item = TypeVar("Item")

PATHS = {name: method.path for name, method in METHODS.items()}
"""gRPC path of every method of both services, by RPC name, e.g. ``"GetSession"``."""


class SessionClient:
    """Async client of a sessiond server.

    Usage::

        async with SessionClient("127.0.0.1:50051") as client:
            session = await client.create_session(game_id="g", options=["a", "b"])
            await client.submit_choice(session.session_id, "p1", "a")

    Create it inside a running event loop, as any ``grpc.aio`` channel. Every
    call method takes keyword-only ``timeout`` (seconds for the whole call,
    retries included; None uses ``default_timeout``) and ``metadata`` (extra
    ``(key, value)`` pairs sent with the call). Failed calls raise a
    `SessiondError` subclass; calls that are safe to repeat are retried on
    UNAVAILABLE as the `RetryPolicy` says: those the proto marks idempotent by
    gRPC itself (the client gives the channels it makes the matching service
    config), those whose request makes them safe (a ``request_id``, an
    ``expected_state_version``) by the client. A call safe to repeat whose retries
    end while the server is unreachable (a restart) waits, within its timeout, for
    the channel to connect again and is retried then; the channels the client
    makes reconnect within the policy's backoff.

    Every call that changes something takes keyword-only ``request_id``: an
    idempotency key (AIP-155). When none is given the client generates one per
    call and sends the same one on every retry, so a retry of an attempt that
    committed (its reply lost) changes nothing and gets the first answer. Give
    your own to make your own repeats of a call safe too; use a new one for a
    new call (the same id with a different request is `InvalidArgument`).

    Args:
        target: The server, e.g. ``"127.0.0.1:50051"`` or ``"dns:///sessiond:50051"``.
        credentials: TLS credentials; None for a plaintext channel.
        token: Sent as ``authorization: Bearer <token>`` with every call.
        default_timeout: Seconds a call may take when it names no timeout;
            None for no limit. Watches have no default limit.
        retry: Retry policy; None for the default `RetryPolicy()`.
        options: gRPC channel options, e.g. ``[("grpc.max_receive_message_length", 8 << 20)]``.
            A ``grpc.service_config`` or reconnect backoff of your own replaces the client's.
    """

    def __init__(
        self,
        target: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
        default_timeout: float | None = 10.0,
        retry: RetryPolicy | None = None,
        options: ChannelOptions | None = None,
    ) -> None:
        retry = retry or RetryPolicy()
        options = _channel_options(options or (), retry)
        if credentials is None:
            channel = grpc.aio.insecure_channel(target, options=options)
        else:
            channel = grpc.aio.secure_channel(target, credentials, options=options)
        self._setup(channel, owns_channel=True, token=token, default_timeout=default_timeout, retry=retry)

    @classmethod
    def from_channel(
        cls,
        channel: grpc.aio.Channel,
        *,
        token: str | None = None,
        default_timeout: float | None = 10.0,
        retry: RetryPolicy | None = None,
    ) -> SessionClient:
        """Build a client on a channel the caller made (and closes: `close` leaves it open).

        The client retries every call that is safe to repeat itself: it cannot tell
        what service config the channel has, so leave retries out of it.

        Args:
            channel: A ``grpc.aio`` channel to the server.
            token: As in the constructor.
            default_timeout: As in the constructor.
            retry: As in the constructor.

        Returns:
            The client.
        """
        client = cls.__new__(cls)
        client._setup(channel, owns_channel=False, token=token, default_timeout=default_timeout, retry=retry)
        return client

    def _setup(
        self,
        channel: grpc.aio.Channel,
        *,
        owns_channel: bool,
        token: str | None,
        default_timeout: float | None,
        retry: RetryPolicy | None,
    ) -> None:
        self._channel = channel
        self._owns_channel = owns_channel
        # A channel the client made carries the service config (`_channel_options`):
        # gRPC itself retries the methods the proto marks safe to repeat.
        self._retries_in_channel = owns_channel
        stubs = {
            "sessiond.v1.SessionService": session_service_pb2_grpc.SessionServiceStub(channel),  # type: ignore[no-untyped-call]
            "sessiond.v1.PlayerService": player_service_pb2_grpc.PlayerServiceStub(channel),  # type: ignore[no-untyped-call]
        }
        self._rpcs: dict[str, Any] = {name: getattr(stubs[m.service], name) for name, m in METHODS.items()}
        self._auth: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self._default_timeout = default_timeout
        self._retry = retry or RetryPolicy()

    async def close(self) -> None:
        """Close the channel, if the client made it."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> SessionClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # Sessions

    async def create_session(
        self,
        *,
        session_id: str = "",
        game_id: str = "",
        channel_id: str = "",
        character_id: str = "",
        world_id: str = "",
        title: str = "",
        game_name: str = "",
        title_screen_url: str = "",
        state: State | None = None,
        options: Sequence[str] = (),
        window_seconds: float | None = None,
        early_close: bool | None = None,
        tie_break: pb.SessionSettings.TieBreak | str | None = None,
        tie_break_seed: int | None = None,
        idle_ttl_seconds: float | None = None,
        max_players: int | None = None,
        persistence: pb.SessionSettings.Persistence | str | None = None,
        presence_grace_seconds: float | None = None,
        early_close_scope: pb.SessionSettings.EarlyCloseScope | str | None = None,
        game_master_handback: bool | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Session:
        """Create a session. Settings left None take the server's defaults.

        Args:
            session_id: The id to give it; the server generates one when empty.
            game_id: The game it plays.
            channel_id: The chat channel or lobby it is bound to.
            character_id: The character of a single-player session.
            world_id: The world it takes place in.
            title: A human-readable title.
            game_name: The game's display name.
            title_screen_url: URL of the game's title screen.
            state: The initial JSON state (an empty object when None).
            options: The options of the first turn; empty for free text.
            window_seconds: Length of a choice window.
            early_close: Close a window once every non-dormant player chose.
            tie_break: ``pb.SessionSettings.FIRST_CHOSEN``, ``SEEDED_RANDOM`` or
                ``NARRATOR``, or its name.
            tie_break_seed: Seed of SEEDED_RANDOM draws.
            idle_ttl_seconds: Idle time after which the session expires.
            max_players: Roster limit.
            persistence: ``pb.SessionSettings.DURABLE`` (projected into the
                graph; redis+neo4j only) or ``EPHEMERAL``, or its name.
            presence_grace_seconds: How long a player stays AWAY after their
                last watch stream before they count as OFFLINE.
            early_close_scope: Whom early close waits for:
                ``pb.SessionSettings.NOT_DORMANT`` or ``ONLINE`` (players
                watching with their ``player_id``, see `watch`), or its name.
            game_master_handback: Hand the co-GM role back to the narrator
                once its holder is OFFLINE.
            request_id: Makes the call safe to repeat: a retry with the same
                id returns the session the first call created. One is
                generated when None, so the client's own retries are safe.
            timeout: See the class docstring.
            metadata: See the class docstring.

        Returns:
            The new session.

        Raises:
            AlreadyExists: ``session_id`` is taken.
            ResourceExhausted: The server holds as many sessions as it may.
            InvalidArgument: A bad id, setting or state.
        """
        settings = pb.SessionSettings(
            window_duration=seconds_to_timedelta(window_seconds),
            early_close=early_close,
            tie_break=tie_break,
            tie_break_seed=tie_break_seed,
            idle_ttl=seconds_to_timedelta(idle_ttl_seconds),
            max_players=max_players,
            persistence=persistence,
            presence_grace=seconds_to_timedelta(presence_grace_seconds),
            early_close_scope=early_close_scope,
            game_master_handback=game_master_handback,
        )
        session = pb.Session(
            game_id=game_id,
            channel_id=channel_id,
            character_id=character_id,
            world_id=world_id,
            title=title,
            game_name=game_name,
            title_screen_url=title_screen_url,
            session_state=None if state is None else to_struct(state),
            current_options=_option_list(options),
            settings=settings,
        )
        request = pb.CreateSessionRequest(session_id=session_id, session=session, request_id=request_id or "")
        return await self._call("CreateSession", request, pb.Session, timeout=timeout, metadata=metadata)

    async def get_session(
        self, session_id: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> pb.Session:
        """Return a session.

        Raises:
            NotFound: No such session.
        """
        request = pb.GetSessionRequest(session_id=session_id)
        return await self._call("GetSession", request, pb.Session, timeout=timeout, metadata=metadata)

    async def list_sessions(
        self,
        *,
        filter: str = "",
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.ListSessionsResponse:
        """Return one page of sessions, newest first.

        Args:
            filter: Equality terms joined by AND, e.g. ``'player_id="p1" AND state=ACTIVE'``.
            page_size: At most this many (0: the server's default of 50; capped at 500).
            page_token: ``next_page_token`` of the previous page.
            timeout: See the class docstring.
            metadata: See the class docstring.

        Returns:
            The page, with ``next_page_token`` (empty on the last page) and ``total_size``.

        Raises:
            InvalidArgument: A bad filter or page token.
        """
        request = pb.ListSessionsRequest(filter=filter, page_size=page_size, page_token=page_token)
        return await self._call("ListSessions", request, pb.ListSessionsResponse, timeout=timeout, metadata=metadata)

    def iter_sessions(
        self,
        *,
        filter: str = "",
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncIterator[pb.Session]:
        """Iterate over the sessions of every page (``async for``); arguments as in `list_sessions`.

        ``timeout`` applies to each page's call.
        """

        async def page(token: str) -> tuple[Sequence[pb.Session], str]:
            response = await self.list_sessions(
                filter=filter, page_size=page_size, page_token=token, timeout=timeout, metadata=metadata
            )
            return response.sessions, response.next_page_token

        return _walk(page)

    async def delete_session(
        self, session_id: str, *, etag: str = "", timeout: float | None = None, metadata: Metadata | None = None
    ) -> None:
        """Delete a session with its roster, history and events.

        Args:
            session_id: The session.
            etag: Only delete if the session's etag is still this.
            timeout: See the class docstring.
            metadata: See the class docstring.

        Raises:
            NotFound: No such session.
            Aborted: A stale etag.
        """
        request = pb.DeleteSessionRequest(session_id=session_id, etag=etag)
        # Retried, though DeleteSession has no request_id (its memo would be deleted with
        # it): NOT_FOUND after an attempt that may have run means that attempt deleted it.
        await self._call(
            "DeleteSession", request, empty_pb2.Empty, timeout=timeout, metadata=metadata, gone_is_done=True
        )

    async def pause_session(
        self,
        session_id: str,
        *,
        etag: str = "",
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Session:
        """Move a session from ACTIVE to PAUSED; ``etag`` makes it conditional.

        Raises:
            FailedPrecondition: The session is not ACTIVE.
            Aborted: A stale etag.
        """
        request = pb.PauseSessionRequest(request_id=request_id, session_id=session_id, etag=etag)
        return await self._call("PauseSession", request, pb.Session, timeout=timeout, metadata=metadata)

    async def resume_session(
        self,
        session_id: str,
        *,
        etag: str = "",
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Session:
        """Move a session from PAUSED to ACTIVE; ``etag`` makes it conditional.

        Raises:
            FailedPrecondition: The session is not PAUSED.
            Aborted: A stale etag.
        """
        request = pb.ResumeSessionRequest(request_id=request_id, session_id=session_id, etag=etag)
        return await self._call("ResumeSession", request, pb.Session, timeout=timeout, metadata=metadata)

    async def end_session(
        self,
        session_id: str,
        *,
        etag: str = "",
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Session:
        """End a session (final); an open window resolves first.

        Raises:
            FailedPrecondition: Already ENDED or EXPIRED.
            Aborted: A stale etag.
        """
        request = pb.EndSessionRequest(request_id=request_id, session_id=session_id, etag=etag)
        return await self._call("EndSession", request, pb.Session, timeout=timeout, metadata=metadata)

    # State

    async def update_session_state(
        self,
        session_id: str,
        patch: State,
        *,
        expected_state_version: int | None = None,
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Session:
        """Apply a JSON merge-patch (RFC 7396) to the session's state.

        Args:
            session_id: The session.
            patch: Members set to None are removed, mappings merge, anything else replaces.
            expected_state_version: Refuse unless ``state_version`` is still this.
            timeout: See the class docstring.
            metadata: See the class docstring.

        Returns:
            The session after the change.

        Raises:
            Aborted: ``expected_state_version`` differs.
            InvalidArgument: The result exceeds 64 KiB.
            FailedPrecondition: The session is ENDED or EXPIRED.
        """
        request = pb.UpdateSessionStateRequest(
            request_id=request_id,
            session_id=session_id,
            patch=to_struct(patch),
            expected_state_version=expected_state_version,
        )
        return await self._call("UpdateSessionState", request, pb.Session, timeout=timeout, metadata=metadata)

    async def reset_session_state(
        self,
        session_id: str,
        state: State | None = None,
        *,
        expected_state_version: int | None = None,
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Session:
        """Replace the session's state (with an empty object when ``state`` is None).

        Errors as in `update_session_state`.
        """
        request = pb.ResetSessionStateRequest(
            request_id=request_id,
            session_id=session_id,
            session_state=None if state is None else to_struct(state),
            expected_state_version=expected_state_version,
        )
        return await self._call("ResetSessionState", request, pb.Session, timeout=timeout, metadata=metadata)

    # Players

    async def join_session(
        self,
        session_id: str,
        player_id: str,
        *,
        display_name: str = "",
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Player:
        """Add a player to the roster, or refresh their display name and activity.

        Raises:
            FailedPrecondition: The session is ENDED or EXPIRED.
            ResourceExhausted: The roster is full.
        """
        request = pb.JoinSessionRequest(
            request_id=request_id, session_id=session_id, player_id=player_id, display_name=display_name
        )
        return await self._call("JoinSession", request, pb.Player, timeout=timeout, metadata=metadata)

    async def leave_session(
        self,
        session_id: str,
        player_id: str,
        *,
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        """Remove a player from the roster, withdrawing their choice in an open window.

        Raises:
            NotFound: The player is not on the roster.
        """
        request = pb.LeaveSessionRequest(request_id=request_id, session_id=session_id, player_id=player_id)
        await self._call("LeaveSession", request, empty_pb2.Empty, timeout=timeout, metadata=metadata)

    async def list_players(
        self,
        session_id: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        include_departed: bool = False,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.ListPlayersResponse:
        """Return one page of the roster in join order (``page_size`` 0: 100; capped at 1000);
        with ``include_departed``, then the players who left (privacy permitting)."""
        request = pb.ListPlayersRequest(
            session_id=session_id, page_size=page_size, page_token=page_token, include_departed=include_departed
        )
        return await self._call("ListPlayers", request, pb.ListPlayersResponse, timeout=timeout, metadata=metadata)

    def iter_players(
        self,
        session_id: str,
        *,
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncIterator[pb.Player]:
        """Iterate over the whole roster (``async for``); ``timeout`` applies to each page."""

        async def page(token: str) -> tuple[Sequence[pb.Player], str]:
            response = await self.list_players(
                session_id, page_size=page_size, page_token=token, timeout=timeout, metadata=metadata
            )
            return response.players, response.next_page_token

        return _walk(page)

    # Turns

    async def submit_choice(
        self,
        session_id: str,
        player_id: str,
        choice: str,
        *,
        turn_number: int | None = None,
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.SubmitChoiceResponse:
        """Record a player's choice for the current turn, joining them if needed.

        Args:
            session_id: The session.
            player_id: The player choosing.
            choice: One of the turn's options, if it has any.
            turn_number: The turn the choice is meant for: refused (`FailedPrecondition`,
                reason ``WRONG_TURN``) if the session is on another, so neither a late
                call nor a retry of one can land in the next turn.
            request_id: See the class docstring.
            timeout: See the class docstring.
            metadata: See the class docstring.

        Returns:
            The turn it counts for, the window's deadline and count, and the
            resolved turn if this choice closed the window.

        Raises:
            FailedPrecondition: The session is not ACTIVE, or not on ``turn_number``.
            InvalidArgument: Not one of the turn's options, empty, or over 256 characters.
            ResourceExhausted: The roster is full.
        """
        request = pb.SubmitChoiceRequest(
            request_id=request_id, session_id=session_id, player_id=player_id, choice=choice, turn_number=turn_number
        )
        return await self._call("SubmitChoice", request, pb.SubmitChoiceResponse, timeout=timeout, metadata=metadata)

    async def list_turns(
        self,
        session_id: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.ListTurnsResponse:
        """Return one page of resolved turns, newest first (``page_size`` 0: 20; capped at 100)."""
        request = pb.ListTurnsRequest(session_id=session_id, page_size=page_size, page_token=page_token)
        return await self._call("ListTurns", request, pb.ListTurnsResponse, timeout=timeout, metadata=metadata)

    def iter_turns(
        self,
        session_id: str,
        *,
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncIterator[pb.Turn]:
        """Iterate over all resolved turns, newest first (``async for``); ``timeout`` applies to each page."""

        async def page(token: str) -> tuple[Sequence[pb.Turn], str]:
            response = await self.list_turns(
                session_id, page_size=page_size, page_token=token, timeout=timeout, metadata=metadata
            )
            return response.turns, response.next_page_token

        return _walk(page)

    async def set_turn_summary(
        self,
        session_id: str,
        turn_number: int,
        summary: str,
        *,
        winner: str = "",
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Turn:
        """Attach a narrative summary to a resolved turn; for a NARRATOR tie, name the winner.

        Raises:
            NotFound: The turn is not in the history.
            InvalidArgument: ``winner`` is not one of the tied options.
            FailedPrecondition: ``winner`` given but the turn was not a NARRATOR tie.
        """
        request = pb.SetTurnSummaryRequest(
            request_id=request_id, session_id=session_id, turn_number=turn_number, summary=summary, winner=winner
        )
        return await self._call("SetTurnSummary", request, pb.Turn, timeout=timeout, metadata=metadata)

    async def set_turn_options(
        self,
        session_id: str,
        options: Sequence[str],
        *,
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Session:
        """Set the options of the current turn (empty for free text).

        Raises:
            FailedPrecondition: The turn's window is open, or the session is ENDED or EXPIRED.
        """
        request = pb.SetTurnOptionsRequest(request_id=request_id, session_id=session_id, options=_option_list(options))
        return await self._call("SetTurnOptions", request, pb.Session, timeout=timeout, metadata=metadata)

    # Placement: single-player switching, channel games, the co-GM role

    async def switch_character_world(
        self,
        player_id: str,
        character_id: str,
        world_id: str,
        *,
        template: pb.Session | None = None,
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.SwitchCharacterWorldResponse:
        """Make the player's session for (character, world) their one ACTIVE single-player session.

        Pauses their current one; resumes their session for the pair, or creates one
        from ``template`` (game, title, settings) with their profile's content settings.
        """
        request = pb.SwitchCharacterWorldRequest(
            request_id=request_id, player_id=player_id, character_id=character_id, world_id=world_id, template=template
        )
        return await self._call(
            "SwitchCharacterWorld",
            request,
            pb.SwitchCharacterWorldResponse,
            timeout=timeout,
            metadata=metadata,
        )

    async def swap_game(
        self,
        channel_id: str,
        session: pb.Session,
        *,
        session_id: str = "",
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.SwapGameResponse:
        """Boot a new game (``session``: game_id, game_name, title_screen_url, settings...)
        in a channel, saving (pausing) the one running there."""
        request = pb.SwapGameRequest(
            request_id=request_id, channel_id=channel_id, session=session, session_id=session_id
        )
        return await self._call("SwapGame", request, pb.SwapGameResponse, timeout=timeout, metadata=metadata)

    async def load_game(
        self, session_id: str, *, request_id: str = "", timeout: float | None = None, metadata: Metadata | None = None
    ) -> pb.SwapGameResponse:
        """Restore a saved game into its channel, pausing whatever runs there."""
        request = pb.LoadGameRequest(request_id=request_id, session_id=session_id)
        return await self._call("LoadGame", request, pb.SwapGameResponse, timeout=timeout, metadata=metadata)

    async def list_games(
        self,
        *,
        filter: str = "",
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.ListGamesResponse:
        """One page of the game index (e.g. ``filter='channel_id="lobby"'``)."""
        request = pb.ListGamesRequest(filter=filter, page_size=page_size, page_token=page_token)
        return await self._call("ListGames", request, pb.ListGamesResponse, timeout=timeout, metadata=metadata)

    async def set_game_master(
        self,
        session_id: str,
        player_id: str = "",
        *,
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.Session:
        """Hand the co-GM role to a rostered player; an empty ``player_id`` returns it to the narrator."""
        request = pb.SetGameMasterRequest(request_id=request_id, session_id=session_id, player_id=player_id)
        return await self._call("SetGameMaster", request, pb.Session, timeout=timeout, metadata=metadata)

    # Players (PlayerService)

    async def upsert_player_profile(
        self,
        profile: pb.PlayerProfile,
        *,
        update_mask: Sequence[str] = (),
        etag: str = "",
        request_id: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.PlayerProfile:
        """Create or update a profile; ``update_mask`` names the fields to change (all when empty)."""
        request = pb.UpsertPlayerProfileRequest(request_id=request_id, profile=profile, etag=etag)
        request.update_mask.paths.extend(update_mask)
        return await self._call("UpsertPlayerProfile", request, pb.PlayerProfile, timeout=timeout, metadata=metadata)

    async def get_player_profile(
        self, player_id: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> pb.PlayerProfile:
        """Return a player's profile (NotFound if they have none)."""
        request = pb.GetPlayerProfileRequest(player_id=player_id)
        return await self._call("GetPlayerProfile", request, pb.PlayerProfile, timeout=timeout, metadata=metadata)

    async def get_player_dashboard(
        self,
        player_id: str,
        *,
        recent_limit: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> pb.PlayerDashboard:
        """The player's sessions, characters, progress and recommendations; parts the
        server could not assemble within the deadline are named in ``incomplete_parts``."""
        request = pb.GetPlayerDashboardRequest(player_id=player_id, recent_limit=recent_limit)
        return await self._call("GetPlayerDashboard", request, pb.PlayerDashboard, timeout=timeout, metadata=metadata)

    # Events and service

    def event_ranges(self) -> AbstractContextManager[EventRanges]:
        """Collect the event ranges of the calls made inside ``with``, by session.

        For the calls whose result cannot carry their range (those returning a
        `pb.Session`, `pb.Player`, `pb.Turn` or None)::

            with client.event_ranges() as ranges:
                await client.end_session(session_id)
            async for event in client.watch(session_id, since=ranges):
                ...  # from the end's own events (its turn_resolved) on

        Returns:
            A context manager giving the `EventRanges` of the block.
        """
        return _ranges.recording()

    def watch(
        self,
        session_id: str,
        *,
        since: Since | None = None,
        after_event_id: int | None = None,
        exclude_ticks: bool = False,
        player_id: str = "",
        max_reconnects: int | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> SessionWatch:
        """Stream a session's events; see `SessionWatch` for ordering and resume.

        Args:
            session_id: The session.
            since: Start just before a call of yours: a response carrying
                ``first_event_id`` (`pb.SubmitChoiceResponse`,
                `pb.SwitchCharacterWorldResponse`, `pb.SwapGameResponse`), an
                `EventRange` or the `EventRanges` of `event_ranges`. Every event
                the call appended, and all after, is yielded, however soon it
                happened (e.g. the turn_resolved of an early close).
            after_event_id: Resume after this stored event; None (and no
                ``since``) starts with a snapshot, then only what comes next.
            exclude_ticks: Leave out the once-a-second countdown ticks.
            player_id: The rostered player this watch is for: they are ONLINE
                while it is open (reconnections included) and AWAY for the
                session's presence grace after it ends (see `pb.Player`).
            max_reconnects: Give up after this many reconnections in a row
                without an event (None: never give up; 0: never reconnect).
            timeout: Seconds for the whole watch, reconnections included
                (None: no limit); past it the iteration raises `DeadlineExceeded`.
            metadata: See the class docstring.

        Returns:
            An async iterator of `pb.SessionEvent`.
        """
        rpc: grpc.aio.UnaryStreamMultiCallable[pb.WatchSessionRequest, pb.SessionEvent] = self._rpcs["WatchSession"]
        if since is not None:
            if after_event_id is not None:
                raise TypeError("pass since or after_event_id, not both")
            after_event_id = _ranges.after_event_id_of(since, session_id)
        md = self._metadata(metadata)
        return SessionWatch(
            lambda request, remaining: rpc(request, timeout=remaining, metadata=md),
            session_id,
            after_event_id=after_event_id,
            exclude_ticks=exclude_ticks,
            player_id=player_id,
            max_reconnects=max_reconnects,
            policy=self._retry,
            timeout=timeout,
        )

    async def get_service_stats(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> pb.ServiceStats:
        """Return counts of what the server sees: sessions by state, players, windows, watchers."""
        request = pb.GetServiceStatsRequest()
        return await self._call("GetServiceStats", request, pb.ServiceStats, timeout=timeout, metadata=metadata)

    # Transport

    async def _call(
        self,
        method: str,
        request: message.Message,
        response_type: type[R],
        *,
        timeout: float | None,
        metadata: Metadata | None,
        gone_is_done: bool = False,
    ) -> R:
        """Make one unary call of ``request`` (built once: every attempt sends it as is),
        with typed errors. When a repeat is safe (`repeat_is_safe`) it is retried on
        UNAVAILABLE: by gRPC's own retry if the method is safe by itself and the client
        made the channel (see `_channel_options`), here otherwise.

        A request with a ``request_id`` field gets one (unless the caller gave it) before
        the first attempt, so every retry sends the same and the server answers a repeat
        of an attempt that committed with its first answer, changing nothing.
        ``gone_is_done``: retried too, and NOT_FOUND on a retry ends the call as a
        success (a delete, whose memo would go with what it deletes)."""
        if "request_id" in request.DESCRIPTOR.fields_by_name and not getattr(request, "request_id"):  # noqa: B009
            setattr(request, "request_id", uuid.uuid4().hex)  # noqa: B010
        spec = METHODS[method]
        rpc = self._rpcs[method]
        md = self._metadata(metadata)
        ranges = _ranges.recorder()
        retried_by_grpc = spec.safe_to_repeat and self._retries_in_channel

        async def attempt(remaining: float | None) -> R:
            call = rpc(request, timeout=remaining, metadata=md)
            response: R = await call
            if ranges is not None:
                _ranges.note(ranges, request, response, await call.initial_metadata())
            return response

        safe = repeat_is_safe(spec, request) or gone_is_done
        limit = self._default_timeout if timeout is None else timeout
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            try:
                return await call_with_retry(
                    attempt,
                    policy=self._retry,
                    idempotent=safe and not retried_by_grpc,
                    timeout=None if deadline is None else deadline - time.monotonic(),
                    settled=_gone_is_done(response_type) if gone_is_done else None,
                )
            except grpc.aio.AioRpcError as err:
                if not (safe and is_retryable(err) and await self._reconnected(deadline)):
                    raise error_from_rpc(err, method) from err

    async def _reconnected(self, deadline: float | None) -> bool:
        """Whether the channel, failing to connect (a server restarting), connected
        again before ``deadline``: the retries of a call can be spent within the
        channel's reconnect backoff, and a call made as the server comes back must
        not fail for that. False at once when the channel was not failing to connect
        (the server itself answered UNAVAILABLE) or the call has no deadline."""
        state = self._channel.get_state()
        if deadline is None or state is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            return False
        while state is not grpc.ChannelConnectivity.READY:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    await self._channel.wait_for_state_change(state)
            except TimeoutError:
                return False
            state = self._channel.get_state(try_to_connect=True)
        return True

    def _metadata(self, extra: Metadata | None) -> tuple[tuple[str, str], ...]:
        return (*self._auth, *(extra or ()))


def _gone_is_done(response_type: type[R]) -> Callable[[grpc.aio.AioRpcError], R | None]:
    def settled(err: grpc.aio.AioRpcError) -> R | None:
        return response_type() if err.code() is grpc.StatusCode.NOT_FOUND else None

    return settled


def _channel_options(options: ChannelOptions, policy: RetryPolicy) -> list[tuple[str, Any]]:
    """``options`` plus the service config of `service_config` for ``policy`` and a
    reconnect backoff within the policy's, each unless the caller set it.

    gRPC's own reconnect backoff starts at 1 s and grows to 120 s: after an outage, a
    call waiting for the channel (``wait_for_ready``) would wait that long after the
    server is back. Bounded by the policy's, the channel reconnects as soon as a retry
    would have been sent."""
    ours = {
        CHANNEL_OPTION: json.dumps(service_config(METHODS.values(), policy)),
        "grpc.initial_reconnect_backoff_ms": round(policy.initial_backoff * 1000),
        "grpc.max_reconnect_backoff_ms": round(policy.max_backoff * 1000),
    }
    given = {key for key, _ in options}
    return [*options, *((key, value) for key, value in ours.items() if key not in given)]


def _option_list(options: Sequence[str]) -> list[str]:
    # A str is a Sequence[str] too: "ab" would silently become ["a", "b"].
    if isinstance(options, str):
        raise TypeError("options must be a list of str, not a str")
    return list(options)


async def _walk(page: Callable[[str], Awaitable[tuple[Sequence[Item], str]]]) -> AsyncIterator[Item]:
    """Yield the items of every page, following next_page_token until it is empty."""
    token = ""
    while True:
        items, token = await page(token)
        for item in items:
            yield item
        if not token:
            return
