import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sessiond_client._proto.sessiond.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SwitchCharacterWorldRequest(_message.Message):
    __slots__ = ("player_id", "character_id", "world_id", "template", "request_id")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    character_id: str
    world_id: str
    template: _resources_pb2.Session
    request_id: str
    def __init__(self, player_id: _Optional[str] = ..., character_id: _Optional[str] = ..., world_id: _Optional[str] = ..., template: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class SwitchCharacterWorldResponse(_message.Message):
    __slots__ = ("session", "paused", "created", "first_event_id", "last_event_id")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    FIRST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    session: _resources_pb2.Session
    paused: _resources_pb2.Session
    created: bool
    first_event_id: int
    last_event_id: int
    def __init__(self, session: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ..., paused: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ..., created: _Optional[bool] = ..., first_event_id: _Optional[int] = ..., last_event_id: _Optional[int] = ...) -> None: ...

class SwapGameRequest(_message.Message):
    __slots__ = ("channel_id", "session", "session_id", "request_id")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    session: _resources_pb2.Session
    session_id: str
    request_id: str
    def __init__(self, channel_id: _Optional[str] = ..., session: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ..., session_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SwapGameResponse(_message.Message):
    __slots__ = ("session", "saved", "first_event_id", "last_event_id")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SAVED_FIELD_NUMBER: _ClassVar[int]
    FIRST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    session: _resources_pb2.Session
    saved: _resources_pb2.Session
    first_event_id: int
    last_event_id: int
    def __init__(self, session: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ..., saved: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ..., first_event_id: _Optional[int] = ..., last_event_id: _Optional[int] = ...) -> None: ...

class ListGamesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListGamesResponse(_message.Message):
    __slots__ = ("games", "next_page_token", "total_size")
    GAMES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    games: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Game]
    next_page_token: str
    total_size: int
    def __init__(self, games: _Optional[_Iterable[_Union[_resources_pb2.Game, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class LoadGameRequest(_message.Message):
    __slots__ = ("session_id", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetGameMasterRequest(_message.Message):
    __slots__ = ("session_id", "player_id", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    player_id: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., player_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("session_id", "session", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session: _resources_pb2.Session
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., session: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token", "total_size")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Session]
    next_page_token: str
    total_size: int
    def __init__(self, sessions: _Optional[_Iterable[_Union[_resources_pb2.Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("session_id", "etag")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    etag: str
    def __init__(self, session_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class PauseSessionRequest(_message.Message):
    __slots__ = ("session_id", "etag", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    etag: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ResumeSessionRequest(_message.Message):
    __slots__ = ("session_id", "etag", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    etag: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class EndSessionRequest(_message.Message):
    __slots__ = ("session_id", "etag", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    etag: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateSessionStateRequest(_message.Message):
    __slots__ = ("session_id", "patch", "expected_state_version", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    patch: _struct_pb2.Struct
    expected_state_version: int
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., patch: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., expected_state_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ResetSessionStateRequest(_message.Message):
    __slots__ = ("session_id", "session_state", "expected_state_version", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_STATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session_state: _struct_pb2.Struct
    expected_state_version: int
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., session_state: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., expected_state_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class JoinSessionRequest(_message.Message):
    __slots__ = ("session_id", "player_id", "display_name", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    player_id: str
    display_name: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., player_id: _Optional[str] = ..., display_name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class LeaveSessionRequest(_message.Message):
    __slots__ = ("session_id", "player_id", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    player_id: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., player_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListPlayersRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token", "include_departed")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DEPARTED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    include_departed: bool
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_departed: _Optional[bool] = ...) -> None: ...

class ListPlayersResponse(_message.Message):
    __slots__ = ("players", "next_page_token")
    PLAYERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    players: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Player]
    next_page_token: str
    def __init__(self, players: _Optional[_Iterable[_Union[_resources_pb2.Player, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SubmitChoiceRequest(_message.Message):
    __slots__ = ("session_id", "player_id", "choice", "request_id", "turn_number")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    player_id: str
    choice: str
    request_id: str
    turn_number: int
    def __init__(self, session_id: _Optional[str] = ..., player_id: _Optional[str] = ..., choice: _Optional[str] = ..., request_id: _Optional[str] = ..., turn_number: _Optional[int] = ...) -> None: ...

class SubmitChoiceResponse(_message.Message):
    __slots__ = ("turn_number", "opened_window", "replaced", "deadline", "time_remaining", "choice_count", "resolved_turn", "first_event_id", "last_event_id")
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OPENED_WINDOW_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    TIME_REMAINING_FIELD_NUMBER: _ClassVar[int]
    CHOICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_TURN_FIELD_NUMBER: _ClassVar[int]
    FIRST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    turn_number: int
    opened_window: bool
    replaced: bool
    deadline: _timestamp_pb2.Timestamp
    time_remaining: _duration_pb2.Duration
    choice_count: int
    resolved_turn: _resources_pb2.Turn
    first_event_id: int
    last_event_id: int
    def __init__(self, turn_number: _Optional[int] = ..., opened_window: _Optional[bool] = ..., replaced: _Optional[bool] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_remaining: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., choice_count: _Optional[int] = ..., resolved_turn: _Optional[_Union[_resources_pb2.Turn, _Mapping]] = ..., first_event_id: _Optional[int] = ..., last_event_id: _Optional[int] = ...) -> None: ...

class WatchSessionRequest(_message.Message):
    __slots__ = ("session_id", "after_event_id", "exclude_ticks", "player_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_event_id: int
    exclude_ticks: bool
    player_id: str
    def __init__(self, session_id: _Optional[str] = ..., after_event_id: _Optional[int] = ..., exclude_ticks: _Optional[bool] = ..., player_id: _Optional[str] = ...) -> None: ...

class ListTurnsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTurnsResponse(_message.Message):
    __slots__ = ("turns", "next_page_token", "total_size", "oldest_turn_number")
    TURNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    OLDEST_TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    turns: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Turn]
    next_page_token: str
    total_size: int
    oldest_turn_number: int
    def __init__(self, turns: _Optional[_Iterable[_Union[_resources_pb2.Turn, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ..., oldest_turn_number: _Optional[int] = ...) -> None: ...

class SetTurnSummaryRequest(_message.Message):
    __slots__ = ("session_id", "turn_number", "summary", "winner", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_number: int
    summary: str
    winner: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., turn_number: _Optional[int] = ..., summary: _Optional[str] = ..., winner: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetTurnOptionsRequest(_message.Message):
    __slots__ = ("session_id", "options", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    options: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetServiceStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServiceStats(_message.Message):
    __slots__ = ("sessions_by_state", "player_count", "open_windows", "watchers", "store", "version", "start_time", "outbox_pending", "outbox_lag", "outbox_parked", "graph_unreachable", "sessions_by_persistence", "online_players")
    class StateCount(_message.Message):
        __slots__ = ("state", "count")
        STATE_FIELD_NUMBER: _ClassVar[int]
        COUNT_FIELD_NUMBER: _ClassVar[int]
        state: _resources_pb2.Session.State
        count: int
        def __init__(self, state: _Optional[_Union[_resources_pb2.Session.State, str]] = ..., count: _Optional[int] = ...) -> None: ...
    class PersistenceCount(_message.Message):
        __slots__ = ("persistence", "count")
        PERSISTENCE_FIELD_NUMBER: _ClassVar[int]
        COUNT_FIELD_NUMBER: _ClassVar[int]
        persistence: _resources_pb2.SessionSettings.Persistence
        count: int
        def __init__(self, persistence: _Optional[_Union[_resources_pb2.SessionSettings.Persistence, str]] = ..., count: _Optional[int] = ...) -> None: ...
    SESSIONS_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    PLAYER_COUNT_FIELD_NUMBER: _ClassVar[int]
    OPEN_WINDOWS_FIELD_NUMBER: _ClassVar[int]
    WATCHERS_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_PENDING_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_LAG_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_PARKED_FIELD_NUMBER: _ClassVar[int]
    GRAPH_UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_BY_PERSISTENCE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_PLAYERS_FIELD_NUMBER: _ClassVar[int]
    sessions_by_state: _containers.RepeatedCompositeFieldContainer[ServiceStats.StateCount]
    player_count: int
    open_windows: int
    watchers: int
    store: str
    version: str
    start_time: _timestamp_pb2.Timestamp
    outbox_pending: int
    outbox_lag: _duration_pb2.Duration
    outbox_parked: int
    graph_unreachable: _duration_pb2.Duration
    sessions_by_persistence: _containers.RepeatedCompositeFieldContainer[ServiceStats.PersistenceCount]
    online_players: int
    def __init__(self, sessions_by_state: _Optional[_Iterable[_Union[ServiceStats.StateCount, _Mapping]]] = ..., player_count: _Optional[int] = ..., open_windows: _Optional[int] = ..., watchers: _Optional[int] = ..., store: _Optional[str] = ..., version: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outbox_pending: _Optional[int] = ..., outbox_lag: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., outbox_parked: _Optional[int] = ..., graph_unreachable: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., sessions_by_persistence: _Optional[_Iterable[_Union[ServiceStats.PersistenceCount, _Mapping]]] = ..., online_players: _Optional[int] = ...) -> None: ...
