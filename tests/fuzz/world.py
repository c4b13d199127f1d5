"""A freshly seeded sessiond to fuzz, and a snapshot of everything a caller can observe.

Each example gets its own in-process server on a loopback port (a few milliseconds
with the memory store), seeded the same way, so an example that fails replays exactly
and one call's effects never leak into the next example.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import duration_pb2, text_format
from google.protobuf.message import Message
from sessiond_client._proto.sessiond.v1 import player_service_pb2 as ppb
from sessiond_client._proto.sessiond.v1 import player_service_pb2_grpc as ppb_grpc
from sessiond_client._proto.sessiond.v1 import resources_pb2 as pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as spb_grpc

from sessiond.server import Service
from tests.e2e.conftest import server_config

ACTIVE = "fz-active"  # ACTIVE in CHANNEL: one resolved turn, the next turn's window open for an hour
SAVED = "fz-saved"  # PAUSED in CHANNEL (a saved game)
PLAYERS = ("fz-p1", "fz-p2", "fz-gone")  # on ACTIVE's roster; the last one left
PROFILED = "fz-p1"  # has a profile and a single-player session
CHANNEL, GAME, CHARACTER, WORLD = "fz-channel", "fz-game", "fz-character", "fz-world"
OPTIONS = ("left", "right")
# What strategies draw "ids that exist" from.
EXISTING = (ACTIVE, SAVED, *PLAYERS, CHANNEL, GAME, CHARACTER, WORLD, *OPTIONS)

Snapshot = dict[str, str]


@dataclass
class World:
    """A running, seeded server and a channel to it."""

    service: Service
    channel: grpc.aio.Channel
    sessions: spb_grpc.SessionServiceStub
    players: ppb_grpc.PlayerServiceStub
    owned: str = ""  # PROFILED's single-player session, made by SwitchCharacterWorld

    @property
    def session_ids(self) -> tuple[str, ...]:
        return (ACTIVE, SAVED, self.owned)

    async def seed(self) -> None:
        s = self.sessions
        hour = duration_pb2.Duration(seconds=3600)
        settings = pb.SessionSettings(window_duration=hour)
        saved = pb.Session(game_id=GAME, channel_id=CHANNEL, title="saved", current_options=OPTIONS, settings=settings)
        await s.CreateSession(spb.CreateSessionRequest(session_id=SAVED, session=saved))
        await s.PauseSession(spb.PauseSessionRequest(session_id=SAVED))
        active = pb.Session(
            game_id=GAME, channel_id=CHANNEL, title="active", current_options=OPTIONS, settings=settings
        )
        active.session_state.update({"hp": 10, "inventory": ["rope"], "flags": {"met_king": True}})
        await s.CreateSession(spb.CreateSessionRequest(session_id=ACTIVE, session=active))
        for player in PLAYERS:
            await s.JoinSession(spb.JoinSessionRequest(session_id=ACTIVE, player_id=player, display_name=player))
        await s.LeaveSession(spb.LeaveSessionRequest(session_id=ACTIVE, player_id=PLAYERS[2]))
        for player in PLAYERS[:2]:  # everyone chose: turn 1 resolves at once
            await s.SubmitChoice(spb.SubmitChoiceRequest(session_id=ACTIVE, player_id=player, choice=OPTIONS[0]))
        await s.SubmitChoice(spb.SubmitChoiceRequest(session_id=ACTIVE, player_id=PLAYERS[0], choice=OPTIONS[1]))
        profile = pb.PlayerProfile(
            player_id=PROFILED,
            display_name="Player One",
            preferences={"lang": "en"},
            content_settings=pb.ContentSettings(intensity=pb.ContentSettings.LOW, topics_to_avoid=["spiders"]),
        )
        await self.players.UpsertPlayerProfile(ppb.UpsertPlayerProfileRequest(profile=profile))
        switched = await s.SwitchCharacterWorld(
            spb.SwitchCharacterWorldRequest(player_id=PROFILED, character_id=CHARACTER, world_id=WORLD)
        )
        self.owned = switched.session.session_id

    async def observe(self) -> Snapshot:
        """What a caller can see of the seeded world, by the API itself, as text per read.

        Raises:
            AssertionError: The server did not answer a read.
        """
        s, p = self.sessions, self.players
        reads: dict[str, Callable[[], Awaitable[Message]]] = {
            "GetServiceStats": lambda: s.GetServiceStats(spb.GetServiceStatsRequest()),
            "ListSessions": lambda: s.ListSessions(spb.ListSessionsRequest(page_size=500)),
            "ListGames": lambda: s.ListGames(spb.ListGamesRequest(page_size=500)),
        }
        for sid in self.session_ids:
            reads[f"GetSession {sid}"] = lambda sid=sid: s.GetSession(spb.GetSessionRequest(session_id=sid))
            reads[f"ListTurns {sid}"] = lambda sid=sid: s.ListTurns(spb.ListTurnsRequest(session_id=sid, page_size=100))
            reads[f"ListPlayers {sid}"] = lambda sid=sid: s.ListPlayers(
                spb.ListPlayersRequest(session_id=sid, page_size=1000, include_departed=True)
            )
        for player in PLAYERS:
            reads[f"GetPlayerProfile {player}"] = lambda pid=player: p.GetPlayerProfile(
                ppb.GetPlayerProfileRequest(player_id=pid)
            )
        snapshot: Snapshot = {}
        for label, read in reads.items():
            try:
                snapshot[label] = text_format.MessageToString(await read(), as_utf8=True)
            except grpc.aio.AioRpcError as err:
                if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise AssertionError(f"the server no longer answers: {label} -> {err.code().name}") from err
                snapshot[label] = f"{err.code().name}: {err.details()}"
        return snapshot


def changes(before: Snapshot, after: Snapshot) -> str:
    """A readable diff of two snapshots; empty when they are equal."""
    out: list[str] = []
    for label in before.keys() | after.keys():
        old, new = before.get(label, ""), after.get(label, "")
        if old != new:
            diff = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=1)
            out.append(f"{label}:\n" + "\n".join(diff))
    return "\n".join(sorted(out))


@contextlib.asynccontextmanager
async def seeded_world(**overrides: Any) -> AsyncIterator[World]:
    """A new server (config ``overrides`` as in tests/e2e), seeded, with a channel to it."""
    service = Service(server_config(**overrides))
    await service.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            world = World(service, channel, spb_grpc.SessionServiceStub(channel), ppb_grpc.PlayerServiceStub(channel))
            await world.seed()
            yield world
    finally:
        await service.stop(0)
