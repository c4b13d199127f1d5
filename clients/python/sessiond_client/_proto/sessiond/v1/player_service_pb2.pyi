import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sessiond_client._proto.sessiond.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpsertPlayerProfileRequest(_message.Message):
    __slots__ = ("profile", "update_mask", "etag", "request_id")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    profile: _resources_pb2.PlayerProfile
    update_mask: _field_mask_pb2.FieldMask
    etag: str
    request_id: str
    def __init__(self, profile: _Optional[_Union[_resources_pb2.PlayerProfile, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetPlayerProfileRequest(_message.Message):
    __slots__ = ("player_id",)
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    def __init__(self, player_id: _Optional[str] = ...) -> None: ...

class GetPlayerDashboardRequest(_message.Message):
    __slots__ = ("player_id", "recent_limit")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    RECENT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    recent_limit: int
    def __init__(self, player_id: _Optional[str] = ..., recent_limit: _Optional[int] = ...) -> None: ...

class CharacterSummary(_message.Message):
    __slots__ = ("character_id", "world_id", "session_id", "last_played_time")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_PLAYED_TIME_FIELD_NUMBER: _ClassVar[int]
    character_id: str
    world_id: str
    session_id: str
    last_played_time: _timestamp_pb2.Timestamp
    def __init__(self, character_id: _Optional[str] = ..., world_id: _Optional[str] = ..., session_id: _Optional[str] = ..., last_played_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProgressHighlights(_message.Message):
    __slots__ = ("turns_played", "sessions_completed", "last_played_time")
    TURNS_PLAYED_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    LAST_PLAYED_TIME_FIELD_NUMBER: _ClassVar[int]
    turns_played: int
    sessions_completed: int
    last_played_time: _timestamp_pb2.Timestamp
    def __init__(self, turns_played: _Optional[int] = ..., sessions_completed: _Optional[int] = ..., last_played_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Companion(_message.Message):
    __slots__ = ("player_id", "display_name", "shared_sessions")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SHARED_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    display_name: str
    shared_sessions: int
    def __init__(self, player_id: _Optional[str] = ..., display_name: _Optional[str] = ..., shared_sessions: _Optional[int] = ...) -> None: ...

class PlayerDashboard(_message.Message):
    __slots__ = ("player_id", "profile", "active_sessions", "recent_sessions", "characters", "progress", "resume_suggestions", "companions", "incomplete_parts", "presences")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    RECENT_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESUME_SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    COMPANIONS_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_PARTS_FIELD_NUMBER: _ClassVar[int]
    PRESENCES_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    profile: _resources_pb2.PlayerProfile
    active_sessions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Session]
    recent_sessions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Session]
    characters: _containers.RepeatedCompositeFieldContainer[CharacterSummary]
    progress: ProgressHighlights
    resume_suggestions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Session]
    companions: _containers.RepeatedCompositeFieldContainer[Companion]
    incomplete_parts: _containers.RepeatedScalarFieldContainer[str]
    presences: _containers.RepeatedCompositeFieldContainer[SessionPresence]
    def __init__(self, player_id: _Optional[str] = ..., profile: _Optional[_Union[_resources_pb2.PlayerProfile, _Mapping]] = ..., active_sessions: _Optional[_Iterable[_Union[_resources_pb2.Session, _Mapping]]] = ..., recent_sessions: _Optional[_Iterable[_Union[_resources_pb2.Session, _Mapping]]] = ..., characters: _Optional[_Iterable[_Union[CharacterSummary, _Mapping]]] = ..., progress: _Optional[_Union[ProgressHighlights, _Mapping]] = ..., resume_suggestions: _Optional[_Iterable[_Union[_resources_pb2.Session, _Mapping]]] = ..., companions: _Optional[_Iterable[_Union[Companion, _Mapping]]] = ..., incomplete_parts: _Optional[_Iterable[str]] = ..., presences: _Optional[_Iterable[_Union[SessionPresence, _Mapping]]] = ...) -> None: ...

class SessionPresence(_message.Message):
    __slots__ = ("session_id", "presence", "last_seen_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    presence: _resources_pb2.Player.Presence
    last_seen_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., presence: _Optional[_Union[_resources_pb2.Player.Presence, str]] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
