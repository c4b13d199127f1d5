"""PlayerService servicer: parse the request, call one use case, map the result."""

from __future__ import annotations

from typing import Any

from sessiond_client._proto.sessiond.v1 import player_service_pb2 as ppb
from sessiond_client._proto.sessiond.v1 import player_service_pb2_grpc as ppb_grpc
from sessiond_client._proto.sessiond.v1 import resources_pb2 as pb

from sessiond.api import convert
from sessiond.core.models import Session
from sessiond.manager.players import Dashboard, PlayerManager


class PlayerServicer(ppb_grpc.PlayerServiceServicer):
    def __init__(self, players: PlayerManager, store: str) -> None:
        """``store``: the store's name, which every Session answered carries."""
        self._p = players
        self._store = store

    async def UpsertPlayerProfile(self, request: ppb.UpsertPlayerProfileRequest, context: Any) -> pb.PlayerProfile:
        mask = frozenset(request.update_mask.paths)
        incoming = convert.profile_from_pb(request.profile)
        profile = await self._p.upsert_profile(incoming, mask, request.etag, convert.request_tag(request))
        return convert.profile_to_pb(profile)

    async def GetPlayerProfile(self, request: ppb.GetPlayerProfileRequest, context: Any) -> pb.PlayerProfile:
        return convert.profile_to_pb(await self._p.get_profile(request.player_id))

    async def GetPlayerDashboard(self, request: ppb.GetPlayerDashboardRequest, context: Any) -> ppb.PlayerDashboard:
        board = await self._p.dashboard(request.player_id, request.recent_limit, context.time_remaining())
        return dashboard_to_pb(board, self._store)


def dashboard_to_pb(b: Dashboard, store: str) -> ppb.PlayerDashboard:
    out = ppb.PlayerDashboard(
        player_id=b.player_id,
        active_sessions=[convert.session_to_pb(s, store) for s in b.active],
        recent_sessions=[convert.session_to_pb(s, store) for s in b.recent],
        characters=[
            ppb.CharacterSummary(
                character_id=c.character_id,
                world_id=c.world_id,
                session_id=c.session_id,
                last_played_time=convert.ts(c.last_played),
            )
            for c in b.characters
        ],
        progress=ppb.ProgressHighlights(
            turns_played=b.turns_played, sessions_completed=b.sessions_completed
        ),
        resume_suggestions=[convert.session_to_pb(s, store) for s in b.resume],
        companions=[
            ppb.Companion(player_id=c.player_id, display_name=c.display_name, shared_sessions=c.shared_sessions)
            for c in b.companions
        ],
        incomplete_parts=b.incomplete,
        presences=[_presence_in(s, b.player_id) for s in b.active],
    )
    if b.last_played:
        out.progress.last_played_time.CopyFrom(convert.ts(b.last_played))
    if b.profile is not None:
        out.profile.CopyFrom(convert.profile_to_pb(b.profile))
    return out


def _presence_in(s: Session, player_id: str) -> ppb.SessionPresence:
    """The player's settled presence in ``s`` (a session of theirs, so on its roster)."""
    out = ppb.SessionPresence(session_id=s.session_id, presence=pb.Player.OFFLINE)
    player = s.roster.get(player_id)
    if player is not None:
        seen = convert.player_to_pb(player)
        out.presence = seen.presence
        if seen.HasField("last_seen_time"):
            out.last_seen_time.CopyFrom(seen.last_seen_time)
    return out
