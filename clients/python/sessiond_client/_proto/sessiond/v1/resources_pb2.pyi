import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActivityTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVITY_TIER_UNSPECIFIED: _ClassVar[ActivityTier]
    ACTIVE: _ClassVar[ActivityTier]
    IDLE: _ClassVar[ActivityTier]
    DORMANT: _ClassVar[ActivityTier]
ACTIVITY_TIER_UNSPECIFIED: ActivityTier
ACTIVE: ActivityTier
IDLE: ActivityTier
DORMANT: ActivityTier

class Session(_message.Message):
    __slots__ = ("session_id", "game_id", "channel_id", "character_id", "world_id", "title", "game_name", "title_screen_url", "state", "session_state", "state_version", "turn_number", "current_options", "window", "settings", "player_count", "game_master_player_id", "owner_player_id", "content_settings", "create_time", "update_time", "last_activity_time", "expire_time", "etag", "last_event_id", "persistence")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Session.State]
        ACTIVE: _ClassVar[Session.State]
        PAUSED: _ClassVar[Session.State]
        ENDED: _ClassVar[Session.State]
        EXPIRED: _ClassVar[Session.State]
    STATE_UNSPECIFIED: Session.State
    ACTIVE: Session.State
    PAUSED: Session.State
    ENDED: Session.State
    EXPIRED: Session.State
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    GAME_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    GAME_NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_SCREEN_URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SESSION_STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CURRENT_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    PLAYER_COUNT_FIELD_NUMBER: _ClassVar[int]
    GAME_MASTER_PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSISTENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    game_id: str
    channel_id: str
    character_id: str
    world_id: str
    title: str
    game_name: str
    title_screen_url: str
    state: Session.State
    session_state: _struct_pb2.Struct
    state_version: int
    turn_number: int
    current_options: _containers.RepeatedScalarFieldContainer[str]
    window: ChoiceWindow
    settings: SessionSettings
    player_count: int
    game_master_player_id: str
    owner_player_id: str
    content_settings: ContentSettings
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    last_activity_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    etag: str
    last_event_id: int
    persistence: SessionPersistence
    def __init__(self, session_id: _Optional[str] = ..., game_id: _Optional[str] = ..., channel_id: _Optional[str] = ..., character_id: _Optional[str] = ..., world_id: _Optional[str] = ..., title: _Optional[str] = ..., game_name: _Optional[str] = ..., title_screen_url: _Optional[str] = ..., state: _Optional[_Union[Session.State, str]] = ..., session_state: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., state_version: _Optional[int] = ..., turn_number: _Optional[int] = ..., current_options: _Optional[_Iterable[str]] = ..., window: _Optional[_Union[ChoiceWindow, _Mapping]] = ..., settings: _Optional[_Union[SessionSettings, _Mapping]] = ..., player_count: _Optional[int] = ..., game_master_player_id: _Optional[str] = ..., owner_player_id: _Optional[str] = ..., content_settings: _Optional[_Union[ContentSettings, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_activity_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., last_event_id: _Optional[int] = ..., persistence: _Optional[_Union[SessionPersistence, _Mapping]] = ...) -> None: ...

class SessionPersistence(_message.Message):
    __slots__ = ("store", "kind", "graph")
    class GraphProgress(_message.Message):
        __slots__ = ("projected_event_id", "pending_facts")
        PROJECTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
        PENDING_FACTS_FIELD_NUMBER: _ClassVar[int]
        projected_event_id: int
        pending_facts: int
        def __init__(self, projected_event_id: _Optional[int] = ..., pending_facts: _Optional[int] = ...) -> None: ...
    STORE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    store: str
    kind: SessionSettings.Persistence
    graph: SessionPersistence.GraphProgress
    def __init__(self, store: _Optional[str] = ..., kind: _Optional[_Union[SessionSettings.Persistence, str]] = ..., graph: _Optional[_Union[SessionPersistence.GraphProgress, _Mapping]] = ...) -> None: ...

class SessionSettings(_message.Message):
    __slots__ = ("window_duration", "early_close", "tie_break", "tie_break_seed", "idle_ttl", "max_players", "persistence", "presence_grace", "early_close_scope", "game_master_handback")
    class TieBreak(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TIE_BREAK_UNSPECIFIED: _ClassVar[SessionSettings.TieBreak]
        FIRST_CHOSEN: _ClassVar[SessionSettings.TieBreak]
        SEEDED_RANDOM: _ClassVar[SessionSettings.TieBreak]
        NARRATOR: _ClassVar[SessionSettings.TieBreak]
    TIE_BREAK_UNSPECIFIED: SessionSettings.TieBreak
    FIRST_CHOSEN: SessionSettings.TieBreak
    SEEDED_RANDOM: SessionSettings.TieBreak
    NARRATOR: SessionSettings.TieBreak
    class Persistence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PERSISTENCE_UNSPECIFIED: _ClassVar[SessionSettings.Persistence]
        DURABLE: _ClassVar[SessionSettings.Persistence]
        EPHEMERAL: _ClassVar[SessionSettings.Persistence]
    PERSISTENCE_UNSPECIFIED: SessionSettings.Persistence
    DURABLE: SessionSettings.Persistence
    EPHEMERAL: SessionSettings.Persistence
    class EarlyCloseScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        EARLY_CLOSE_SCOPE_UNSPECIFIED: _ClassVar[SessionSettings.EarlyCloseScope]
        NOT_DORMANT: _ClassVar[SessionSettings.EarlyCloseScope]
        ONLINE: _ClassVar[SessionSettings.EarlyCloseScope]
    EARLY_CLOSE_SCOPE_UNSPECIFIED: SessionSettings.EarlyCloseScope
    NOT_DORMANT: SessionSettings.EarlyCloseScope
    ONLINE: SessionSettings.EarlyCloseScope
    WINDOW_DURATION_FIELD_NUMBER: _ClassVar[int]
    EARLY_CLOSE_FIELD_NUMBER: _ClassVar[int]
    TIE_BREAK_FIELD_NUMBER: _ClassVar[int]
    TIE_BREAK_SEED_FIELD_NUMBER: _ClassVar[int]
    IDLE_TTL_FIELD_NUMBER: _ClassVar[int]
    MAX_PLAYERS_FIELD_NUMBER: _ClassVar[int]
    PERSISTENCE_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_GRACE_FIELD_NUMBER: _ClassVar[int]
    EARLY_CLOSE_SCOPE_FIELD_NUMBER: _ClassVar[int]
    GAME_MASTER_HANDBACK_FIELD_NUMBER: _ClassVar[int]
    window_duration: _duration_pb2.Duration
    early_close: bool
    tie_break: SessionSettings.TieBreak
    tie_break_seed: int
    idle_ttl: _duration_pb2.Duration
    max_players: int
    persistence: SessionSettings.Persistence
    presence_grace: _duration_pb2.Duration
    early_close_scope: SessionSettings.EarlyCloseScope
    game_master_handback: bool
    def __init__(self, window_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., early_close: _Optional[bool] = ..., tie_break: _Optional[_Union[SessionSettings.TieBreak, str]] = ..., tie_break_seed: _Optional[int] = ..., idle_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_players: _Optional[int] = ..., persistence: _Optional[_Union[SessionSettings.Persistence, str]] = ..., presence_grace: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., early_close_scope: _Optional[_Union[SessionSettings.EarlyCloseScope, str]] = ..., game_master_handback: _Optional[bool] = ...) -> None: ...

class Player(_message.Message):
    __slots__ = ("player_id", "display_name", "tier", "consecutive_skips", "join_time", "last_action_time", "last_action_turn", "turns_played", "leave_time", "presence", "last_seen_time")
    class Presence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PRESENCE_UNSPECIFIED: _ClassVar[Player.Presence]
        ONLINE: _ClassVar[Player.Presence]
        AWAY: _ClassVar[Player.Presence]
        OFFLINE: _ClassVar[Player.Presence]
    PRESENCE_UNSPECIFIED: Player.Presence
    ONLINE: Player.Presence
    AWAY: Player.Presence
    OFFLINE: Player.Presence
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_SKIPS_FIELD_NUMBER: _ClassVar[int]
    JOIN_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTION_TURN_FIELD_NUMBER: _ClassVar[int]
    TURNS_PLAYED_FIELD_NUMBER: _ClassVar[int]
    LEAVE_TIME_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    display_name: str
    tier: ActivityTier
    consecutive_skips: int
    join_time: _timestamp_pb2.Timestamp
    last_action_time: _timestamp_pb2.Timestamp
    last_action_turn: int
    turns_played: int
    leave_time: _timestamp_pb2.Timestamp
    presence: Player.Presence
    last_seen_time: _timestamp_pb2.Timestamp
    def __init__(self, player_id: _Optional[str] = ..., display_name: _Optional[str] = ..., tier: _Optional[_Union[ActivityTier, str]] = ..., consecutive_skips: _Optional[int] = ..., join_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_action_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_action_turn: _Optional[int] = ..., turns_played: _Optional[int] = ..., leave_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., presence: _Optional[_Union[Player.Presence, str]] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ContentSettings(_message.Message):
    __slots__ = ("intensity", "pacing", "topics_to_avoid", "extensions")
    class Intensity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        INTENSITY_UNSPECIFIED: _ClassVar[ContentSettings.Intensity]
        LOW: _ClassVar[ContentSettings.Intensity]
        MEDIUM: _ClassVar[ContentSettings.Intensity]
        HIGH: _ClassVar[ContentSettings.Intensity]
    INTENSITY_UNSPECIFIED: ContentSettings.Intensity
    LOW: ContentSettings.Intensity
    MEDIUM: ContentSettings.Intensity
    HIGH: ContentSettings.Intensity
    class Pacing(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PACING_UNSPECIFIED: _ClassVar[ContentSettings.Pacing]
        RELAXED: _ClassVar[ContentSettings.Pacing]
        STEADY: _ClassVar[ContentSettings.Pacing]
        BRISK: _ClassVar[ContentSettings.Pacing]
    PACING_UNSPECIFIED: ContentSettings.Pacing
    RELAXED: ContentSettings.Pacing
    STEADY: ContentSettings.Pacing
    BRISK: ContentSettings.Pacing
    class ExtensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    PACING_FIELD_NUMBER: _ClassVar[int]
    TOPICS_TO_AVOID_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    intensity: ContentSettings.Intensity
    pacing: ContentSettings.Pacing
    topics_to_avoid: _containers.RepeatedScalarFieldContainer[str]
    extensions: _containers.ScalarMap[str, str]
    def __init__(self, intensity: _Optional[_Union[ContentSettings.Intensity, str]] = ..., pacing: _Optional[_Union[ContentSettings.Pacing, str]] = ..., topics_to_avoid: _Optional[_Iterable[str]] = ..., extensions: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PrivacySettings(_message.Message):
    __slots__ = ("hide_from_recommendations", "hide_from_departed_rosters")
    HIDE_FROM_RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    HIDE_FROM_DEPARTED_ROSTERS_FIELD_NUMBER: _ClassVar[int]
    hide_from_recommendations: bool
    hide_from_departed_rosters: bool
    def __init__(self, hide_from_recommendations: _Optional[bool] = ..., hide_from_departed_rosters: _Optional[bool] = ...) -> None: ...

class PlayerProfile(_message.Message):
    __slots__ = ("player_id", "display_name", "preferences", "privacy", "content_settings", "create_time", "update_time", "etag")
    class PreferencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    PRIVACY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    display_name: str
    preferences: _containers.ScalarMap[str, str]
    privacy: PrivacySettings
    content_settings: ContentSettings
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, player_id: _Optional[str] = ..., display_name: _Optional[str] = ..., preferences: _Optional[_Mapping[str, str]] = ..., privacy: _Optional[_Union[PrivacySettings, _Mapping]] = ..., content_settings: _Optional[_Union[ContentSettings, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class Game(_message.Message):
    __slots__ = ("session_id", "game_id", "game_name", "channel_id", "turn_number", "active", "title_screen_url", "state", "update_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    GAME_ID_FIELD_NUMBER: _ClassVar[int]
    GAME_NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    TITLE_SCREEN_URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    game_id: str
    game_name: str
    channel_id: str
    turn_number: int
    active: bool
    title_screen_url: str
    state: Session.State
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., game_id: _Optional[str] = ..., game_name: _Optional[str] = ..., channel_id: _Optional[str] = ..., turn_number: _Optional[int] = ..., active: _Optional[bool] = ..., title_screen_url: _Optional[str] = ..., state: _Optional[_Union[Session.State, str]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ChoiceWindow(_message.Message):
    __slots__ = ("turn_number", "open_time", "deadline", "choice_count", "opened_by")
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    CHOICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    OPENED_BY_FIELD_NUMBER: _ClassVar[int]
    turn_number: int
    open_time: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    choice_count: int
    opened_by: str
    def __init__(self, turn_number: _Optional[int] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., choice_count: _Optional[int] = ..., opened_by: _Optional[str] = ...) -> None: ...

class Choice(_message.Message):
    __slots__ = ("player_id", "choice", "choose_time")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    CHOOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    choice: str
    choose_time: _timestamp_pb2.Timestamp
    def __init__(self, player_id: _Optional[str] = ..., choice: _Optional[str] = ..., choose_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OptionTally(_message.Message):
    __slots__ = ("option", "votes")
    OPTION_FIELD_NUMBER: _ClassVar[int]
    VOTES_FIELD_NUMBER: _ClassVar[int]
    option: str
    votes: int
    def __init__(self, option: _Optional[str] = ..., votes: _Optional[int] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("session_id", "turn_number", "options", "choices", "tally", "winner", "tied", "tie_break", "tie_break_seed", "close_reason", "open_time", "resolve_time", "summary")
    class CloseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CLOSE_REASON_UNSPECIFIED: _ClassVar[Turn.CloseReason]
        DEADLINE: _ClassVar[Turn.CloseReason]
        ALL_CHOSEN: _ClassVar[Turn.CloseReason]
        SESSION_ENDED: _ClassVar[Turn.CloseReason]
    CLOSE_REASON_UNSPECIFIED: Turn.CloseReason
    DEADLINE: Turn.CloseReason
    ALL_CHOSEN: Turn.CloseReason
    SESSION_ENDED: Turn.CloseReason
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    TALLY_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    TIED_FIELD_NUMBER: _ClassVar[int]
    TIE_BREAK_FIELD_NUMBER: _ClassVar[int]
    TIE_BREAK_SEED_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_number: int
    options: _containers.RepeatedScalarFieldContainer[str]
    choices: _containers.RepeatedCompositeFieldContainer[Choice]
    tally: _containers.RepeatedCompositeFieldContainer[OptionTally]
    winner: str
    tied: bool
    tie_break: SessionSettings.TieBreak
    tie_break_seed: int
    close_reason: Turn.CloseReason
    open_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    summary: str
    def __init__(self, session_id: _Optional[str] = ..., turn_number: _Optional[int] = ..., options: _Optional[_Iterable[str]] = ..., choices: _Optional[_Iterable[_Union[Choice, _Mapping]]] = ..., tally: _Optional[_Iterable[_Union[OptionTally, _Mapping]]] = ..., winner: _Optional[str] = ..., tied: _Optional[bool] = ..., tie_break: _Optional[_Union[SessionSettings.TieBreak, str]] = ..., tie_break_seed: _Optional[int] = ..., close_reason: _Optional[_Union[Turn.CloseReason, str]] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., summary: _Optional[str] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("event_id", "session_id", "event_time", "snapshot", "window_opened", "choice_received", "countdown_tick", "turn_resolved", "player_joined", "player_left", "state_changed", "status_changed", "options_changed", "turn_updated", "game_master_changed", "presence_changed")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_OPENED_FIELD_NUMBER: _ClassVar[int]
    CHOICE_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    COUNTDOWN_TICK_FIELD_NUMBER: _ClassVar[int]
    TURN_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    PLAYER_JOINED_FIELD_NUMBER: _ClassVar[int]
    PLAYER_LEFT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    TURN_UPDATED_FIELD_NUMBER: _ClassVar[int]
    GAME_MASTER_CHANGED_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    session_id: str
    event_time: _timestamp_pb2.Timestamp
    snapshot: Session
    window_opened: WindowOpened
    choice_received: ChoiceReceived
    countdown_tick: CountdownTick
    turn_resolved: Turn
    player_joined: Player
    player_left: PlayerLeft
    state_changed: StateChanged
    status_changed: StatusChanged
    options_changed: OptionsChanged
    turn_updated: Turn
    game_master_changed: GameMasterChanged
    presence_changed: PresenceChanged
    def __init__(self, event_id: _Optional[int] = ..., session_id: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snapshot: _Optional[_Union[Session, _Mapping]] = ..., window_opened: _Optional[_Union[WindowOpened, _Mapping]] = ..., choice_received: _Optional[_Union[ChoiceReceived, _Mapping]] = ..., countdown_tick: _Optional[_Union[CountdownTick, _Mapping]] = ..., turn_resolved: _Optional[_Union[Turn, _Mapping]] = ..., player_joined: _Optional[_Union[Player, _Mapping]] = ..., player_left: _Optional[_Union[PlayerLeft, _Mapping]] = ..., state_changed: _Optional[_Union[StateChanged, _Mapping]] = ..., status_changed: _Optional[_Union[StatusChanged, _Mapping]] = ..., options_changed: _Optional[_Union[OptionsChanged, _Mapping]] = ..., turn_updated: _Optional[_Union[Turn, _Mapping]] = ..., game_master_changed: _Optional[_Union[GameMasterChanged, _Mapping]] = ..., presence_changed: _Optional[_Union[PresenceChanged, _Mapping]] = ...) -> None: ...

class PresenceChanged(_message.Message):
    __slots__ = ("player_id", "old_presence", "new_presence")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    NEW_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    old_presence: Player.Presence
    new_presence: Player.Presence
    def __init__(self, player_id: _Optional[str] = ..., old_presence: _Optional[_Union[Player.Presence, str]] = ..., new_presence: _Optional[_Union[Player.Presence, str]] = ...) -> None: ...

class GameMasterChanged(_message.Message):
    __slots__ = ("old_player_id", "new_player_id")
    OLD_PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    old_player_id: str
    new_player_id: str
    def __init__(self, old_player_id: _Optional[str] = ..., new_player_id: _Optional[str] = ...) -> None: ...

class WindowOpened(_message.Message):
    __slots__ = ("turn_number", "open_time", "deadline", "opened_by", "options")
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    OPENED_BY_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    turn_number: int
    open_time: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    opened_by: str
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, turn_number: _Optional[int] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., opened_by: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ...) -> None: ...

class ChoiceReceived(_message.Message):
    __slots__ = ("turn_number", "player_id", "choice_count", "replaced")
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    CHOICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    turn_number: int
    player_id: str
    choice_count: int
    replaced: bool
    def __init__(self, turn_number: _Optional[int] = ..., player_id: _Optional[str] = ..., choice_count: _Optional[int] = ..., replaced: _Optional[bool] = ...) -> None: ...

class CountdownTick(_message.Message):
    __slots__ = ("turn_number", "deadline", "time_remaining")
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    TIME_REMAINING_FIELD_NUMBER: _ClassVar[int]
    turn_number: int
    deadline: _timestamp_pb2.Timestamp
    time_remaining: _duration_pb2.Duration
    def __init__(self, turn_number: _Optional[int] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_remaining: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PlayerLeft(_message.Message):
    __slots__ = ("player_id",)
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    def __init__(self, player_id: _Optional[str] = ...) -> None: ...

class StateChanged(_message.Message):
    __slots__ = ("state_version", "patch", "reset")
    STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    state_version: int
    patch: _struct_pb2.Struct
    reset: bool
    def __init__(self, state_version: _Optional[int] = ..., patch: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reset: _Optional[bool] = ...) -> None: ...

class StatusChanged(_message.Message):
    __slots__ = ("old_state", "new_state")
    OLD_STATE_FIELD_NUMBER: _ClassVar[int]
    NEW_STATE_FIELD_NUMBER: _ClassVar[int]
    old_state: Session.State
    new_state: Session.State
    def __init__(self, old_state: _Optional[_Union[Session.State, str]] = ..., new_state: _Optional[_Union[Session.State, str]] = ...) -> None: ...

class OptionsChanged(_message.Message):
    __slots__ = ("turn_number", "options")
    TURN_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    turn_number: int
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, turn_number: _Optional[int] = ..., options: _Optional[_Iterable[str]] = ...) -> None: ...
