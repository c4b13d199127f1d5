"""A scripted, in-process fake of SessionService (not sessiond), for the client's own tests."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import message, message_factory

from sessiond_client import RetryPolicy, pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2

SERVICE = session_service_pb2.DESCRIPTOR.services_by_name["SessionService"]
FAST = RetryPolicy(initial_backoff=0.001, max_backoff=0.004)
HANG = "hang"
"""In a watch script: keep the stream open until the client cancels it."""

Handler = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[message.Message]]


@dataclass
class Received:
    method: str
    request: Any
    metadata: dict[str, str]


@dataclass
class FakeService:
    """Answers each unary RPC with ``replies[method](request)`` (default: an empty
    response), after aborting with the codes queued in ``failures[method]``.
    Each WatchSession call plays the next script of ``streams``: events are sent,
    a StatusCode ends the stream with it, HANG waits; the end of a script ends it OK."""

    target: str = ""
    calls: list[Received] = field(default_factory=list)
    failures: dict[str, list[grpc.StatusCode]] = field(default_factory=lambda: defaultdict(list))
    replies: dict[str, Callable[[Any], message.Message]] = field(default_factory=dict)
    streams: list[list[pb.SessionEvent | grpc.StatusCode | str]] = field(default_factory=list)
    watch_cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def requests(self, method: str) -> list[Any]:
        return [c.request for c in self.calls if c.method == method]

    def __getattr__(self, method: str) -> Handler:
        if method not in SERVICE.methods_by_name:
            raise AttributeError(method)
        output = message_factory.GetMessageClass(SERVICE.methods_by_name[method].output_type)

        async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> message.Message:
            self._record(method, request, context)
            if self.failures[method]:
                await context.abort(self.failures[method].pop(0), f"{method} failed")
            reply = self.replies.get(method)
            return reply(request) if reply else output()

        return handle

    async def WatchSession(
        self, request: pb.WatchSessionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SessionEvent]:
        self._record("WatchSession", request, context)
        script = self.streams.pop(0) if self.streams else [HANG]
        for item in script:
            if isinstance(item, grpc.StatusCode):
                await context.abort(item, "stream cut")
            elif item == HANG:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.watch_cancelled.set()
                    raise
            else:
                assert isinstance(item, pb.SessionEvent)
                yield item

    def _record(self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        self.calls.append(Received(method, request, metadata))
