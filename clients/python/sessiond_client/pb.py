"""The sessiond.v1 protobuf messages, under one short name.

Usage::

    from sessiond_client import pb

    request = pb.SubmitChoiceRequest(session_id="s1", player_id="p1", choice="a")
    if session.state == pb.Session.ACTIVE and player.tier != pb.DORMANT: ...

The classes come from the generated modules in ``sessiond_client._proto``
(produced by ``scripts/gen_proto.py``; never edited by hand).
"""

from __future__ import annotations

from sessiond_client._proto.sessiond.v1.resources_pb2 import (
    ACTIVE,
    ACTIVITY_TIER_UNSPECIFIED,
    DORMANT,
    IDLE,
    ActivityTier,
    Choice,
    ChoiceReceived,
    ChoiceWindow,
    CountdownTick,
    OptionsChanged,
    OptionTally,
    Player,
    PlayerLeft,
    Session,
    SessionEvent,
    SessionSettings,
    StateChanged,
    StatusChanged,
    Turn,
    WindowOpened,
)
from sessiond_client._proto.sessiond.v1.session_service_pb2 import (
    CreateSessionRequest,
    DeleteSessionRequest,
    EndSessionRequest,
    GetServiceStatsRequest,
    GetSessionRequest,
    JoinSessionRequest,
    LeaveSessionRequest,
    ListPlayersRequest,
    ListPlayersResponse,
    ListSessionsRequest,
    ListSessionsResponse,
    ListTurnsRequest,
    ListTurnsResponse,
    PauseSessionRequest,
    ResetSessionStateRequest,
    ResumeSessionRequest,
    ServiceStats,
    SetTurnOptionsRequest,
    SetTurnSummaryRequest,
    SubmitChoiceRequest,
    SubmitChoiceResponse,
    UpdateSessionStateRequest,
    WatchSessionRequest,
)

__all__ = [
    # Resources
    "ActivityTier",
    "Choice",
    "ChoiceWindow",
    "OptionTally",
    "Player",
    "Session",
    "SessionSettings",
    "Turn",
    # Values of ActivityTier (top-level in the proto, so module-level here too)
    "ACTIVE",
    "ACTIVITY_TIER_UNSPECIFIED",
    "DORMANT",
    "IDLE",
    # Watch events and their payloads
    "ChoiceReceived",
    "CountdownTick",
    "OptionsChanged",
    "PlayerLeft",
    "SessionEvent",
    "StateChanged",
    "StatusChanged",
    "WindowOpened",
    # Requests and responses
    "CreateSessionRequest",
    "DeleteSessionRequest",
    "EndSessionRequest",
    "GetServiceStatsRequest",
    "GetSessionRequest",
    "JoinSessionRequest",
    "LeaveSessionRequest",
    "ListPlayersRequest",
    "ListPlayersResponse",
    "ListSessionsRequest",
    "ListSessionsResponse",
    "ListTurnsRequest",
    "ListTurnsResponse",
    "PauseSessionRequest",
    "ResetSessionStateRequest",
    "ResumeSessionRequest",
    "ServiceStats",
    "SetTurnOptionsRequest",
    "SetTurnSummaryRequest",
    "SubmitChoiceRequest",
    "SubmitChoiceResponse",
    "UpdateSessionStateRequest",
    "WatchSessionRequest",
]
