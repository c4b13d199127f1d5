"""WatchSession as an async iterator that resumes by itself after a lost stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeAlias

import grpc

from sessiond_client import pb
from sessiond_client._call_errors import error_from_rpc
from sessiond_client._retry import RetryPolicy, is_retryable

StreamCall: TypeAlias = grpc.aio.UnaryStreamCall[pb.WatchSessionRequest, pb.SessionEvent]
OpenStream: TypeAlias = Callable[[pb.WatchSessionRequest, float | None], StreamCall]
"""Starts one WatchSession call: (request, timeout in seconds or None) -> call."""

METHOD = "WatchSession"


class SessionWatch:
    """The events of one session, as returned by `SessionClient.watch`.

    Iterate it with ``async for``. When the stream is lost with UNAVAILABLE (a
    dropped connection, a server shutting down, a watcher that fell behind), or
    CANCELLED by the server's side (a server stopping before it said UNAVAILABLE), it
    reconnects after a backoff delay, resuming after the last stored event it
    yielded, so no stored event is missed or yielded twice. Countdown ticks
    (``event_id`` 0) missed while disconnected are not replayed.

    Without ``after_event_id`` the first event is a snapshot of the session
    (``event.snapshot``); its ``last_event_id`` becomes the resume point and no
    second snapshot is ever yielded. The call starts at the first iteration, so
    changes made before it show in the snapshot, not as events; to get every
    event after a known point, pass ``after_event_id`` (e.g. the
    ``last_event_id`` of a session a call returned).

    The iteration ends when the server ends the stream with OK or after
    `aclose`. Any other error ends it with the matching `SessiondError`
    subclass (e.g. `NotFound`, `OutOfRange`), as does UNAVAILABLE once
    ``max_reconnects`` is used up or the next delay would pass the timeout.

    Breaking out of the loop drops the iterator, which cancels the call; use
    ``async with client.watch(...) as events:`` (or `aclose`) to cancel it at
    a known point even while a reference is kept.

    Attributes:
        session_id: The session watched.
        last_event_id: Id of the last stored event yielded (or the snapshot's
            ``last_event_id``); None before either. Persist it and pass it as
            ``after_event_id`` to resume in a later watch.
        reconnects: Reconnections made so far.
    """

    def __init__(
        self,
        open_stream: OpenStream,
        session_id: str,
        *,
        after_event_id: int | None,
        exclude_ticks: bool,
        player_id: str = "",
        max_reconnects: int | None,
        policy: RetryPolicy,
        timeout: float | None,
    ) -> None:
        if max_reconnects is not None and max_reconnects < 0:
            raise ValueError(f"max_reconnects must be None or at least 0, not {max_reconnects}")
        self.session_id = session_id
        self.last_event_id = after_event_id
        self.reconnects = 0
        self._open_stream = open_stream
        self._exclude_ticks = exclude_ticks
        self._player_id = player_id
        self._max_reconnects = max_reconnects
        self._policy = policy
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._call: StreamCall | None = None
        self._failures = 0
        self._snapshot_seen = False
        self._closed = False

    def __aiter__(self) -> SessionWatch:
        return self

    async def __anext__(self) -> pb.SessionEvent:
        try:
            while not self._closed:
                try:
                    event = await self._read()
                except grpc.aio.AioRpcError as err:
                    self._call = None
                    await self._before_reconnect(err)
                    continue
                if event is None:
                    break
                self._failures = 0
                if self._accept(event):
                    return event
        except BaseException:
            self._close()
            raise
        self._close()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Cancel the stream; the iteration ends. Safe to call more than once."""
        self._close()

    def __del__(self) -> None:
        # Breaking out of ``async for`` drops the iterator without telling it;
        # grpc keeps a live call referenced, so only this cancels it.
        call = getattr(self, "_call", None)  # None too if __init__ raised
        if call is not None and not call.done():
            call.cancel()

    async def __aenter__(self) -> SessionWatch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    async def _read(self) -> pb.SessionEvent | None:
        if self._call is None:
            request = pb.WatchSessionRequest(
                session_id=self.session_id,
                after_event_id=self.last_event_id,
                exclude_ticks=self._exclude_ticks,
                player_id=self._player_id,
            )
            self._call = self._open_stream(request, self._remaining())
        message = await self._call.read()
        return message if isinstance(message, pb.SessionEvent) else None

    def _accept(self, event: pb.SessionEvent) -> bool:
        """Track the resume point; False for an event that must not be yielded again."""
        if event.event_id > 0:
            # A replay may overlap what an earlier stream already delivered.
            if self.last_event_id is not None and event.event_id <= self.last_event_id:
                return False
            self.last_event_id = event.event_id
            return True
        if event.HasField("snapshot"):
            if self._snapshot_seen:
                return False
            self._snapshot_seen = True
            self.last_event_id = max(self.last_event_id or 0, event.snapshot.last_event_id)
        return True

    async def _before_reconnect(self, err: grpc.aio.AioRpcError) -> None:
        """Wait before reconnecting, or raise the typed error if the watch cannot go on."""
        self._failures += 1
        out_of_tries = self._max_reconnects is not None and self._failures > self._max_reconnects
        # CANCELLED that this watch did not cause: a server going away cut the stream
        # before its UNAVAILABLE went out. Resuming a read is always safe.
        resumable = is_retryable(err) or err.code() == grpc.StatusCode.CANCELLED
        if not resumable or out_of_tries:
            raise error_from_rpc(err, METHOD) from err
        delay = self._policy.backoff(self._failures)
        remaining = self._remaining()
        if remaining is not None and delay >= remaining:
            raise error_from_rpc(err, METHOD) from err
        await asyncio.sleep(delay)
        self.reconnects += 1

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _close(self) -> None:
        self._closed = True
        if self._call is not None:
            self._call.cancel()
            self._call = None
