"""Domain errors. The transport layer maps each class to one gRPC status."""

from __future__ import annotations


class SessiondError(Exception):
    """Root of every error sessiond raises on purpose; ``message`` is for the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(SessiondError):
    """A request field is malformed, out of range or too large."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class SessionNotFound(SessiondError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} does not exist")
        self.session_id = session_id


class PlayerNotFound(SessiondError):
    def __init__(self, session_id: str, player_id: str) -> None:
        super().__init__(f"player {player_id!r} is not on the roster of session {session_id!r}")
        self.session_id = session_id
        self.player_id = player_id


class ProfileNotFound(SessiondError):
    def __init__(self, player_id: str) -> None:
        super().__init__(f"player {player_id!r} has no profile")
        self.player_id = player_id


class TurnNotFound(SessiondError):
    def __init__(self, session_id: str, turn_number: int) -> None:
        super().__init__(f"turn {turn_number} of session {session_id!r} is not in its history")
        self.session_id = session_id
        self.turn_number = turn_number


class SessionExists(SessiondError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} already exists")
        self.session_id = session_id


class LimitReached(SessiondError):
    """A configured capacity (sessions, roster) is full."""


class TooManySessions(LimitReached):
    """The server holds its configured maximum of sessions."""


class RosterFull(LimitReached):
    """The session has its maximum of players."""


class WrongState(SessiondError):
    """The session's lifecycle state or window does not allow the call."""


class WrongLifecycleState(WrongState):
    """The session's lifecycle state (ACTIVE, PAUSED, ENDED, EXPIRED) does not allow the call."""


class WrongTurn(WrongState):
    """A choice meant for one turn arrived while the session is on another."""

    def __init__(self, session_id: str, wanted: int, current: int) -> None:
        super().__init__(
            f"the choice is for turn {wanted}, but session {session_id!r} is on turn {current}; "
            "nothing was recorded"
        )
        self.current_turn = current


class WindowOpen(WrongState):
    """The turn's choice window is open, which the call must wait for."""


class NotOnRoster(WrongState):
    """The player must join the session first."""


class RivalActive(WrongState):
    """Another ACTIVE session of the same channel or player stands in the way."""


class NotAGame(WrongState):
    """The session is not bound to a channel, so it is not a saved game."""


class RequestIdReused(InvalidInput):
    """A request id came back with a different request than the one it first named."""

    def __init__(self, request_id: str) -> None:
        super().__init__(
            "request_id",
            f"{request_id!r} was already used for a different request; use a new request_id for a new call",
        )
        self.request_id = request_id


class NotATie(WrongState):
    """A winner was named for a turn that is not an undecided NARRATOR tie."""


class VersionConflict(SessiondError):
    """An expected state version or etag is stale."""


class StaleEtag(VersionConflict):
    """The etag the caller sent is not the resource's current one."""


class StaleStateVersion(VersionConflict):
    """The expected_state_version the caller sent is not the session's current one."""


class EventsExpired(SessiondError):
    """A watcher asked to resume from events that are no longer retained."""

    def __init__(self, session_id: str, after_event_id: int, oldest_event_id: int) -> None:
        super().__init__(
            f"events of session {session_id!r} after id {after_event_id} are no longer retained "
            f"(oldest kept: {oldest_event_id}); get the session and watch without after_event_id"
        )
        self.oldest_event_id = oldest_event_id


class Unavailable(SessiondError):
    """A backend is unreachable or the server is draining; the call may be retried."""


class SessionUnreadable(Unavailable):
    """The session exists (its id is taken) but only in the durable store, which cannot be
    read now: UNAVAILABLE to a read, yet enough to refuse a create of the id."""

    def __init__(self, session_id: str, reason: str) -> None:
        super().__init__(f"session {session_id!r} is only in durable storage, which cannot be read now: {reason}")
        self.session_id = session_id
