"""JSON calls to the gRPC servicers, for the console: the same methods, rules and errors.

A console call names a unary method of SessionService or PlayerService and carries its
request message as proto3 JSON; the bridge parses it, runs the servicer method the gRPC
server runs, and returns the response as JSON (field names as in the proto). A domain
error comes back as the gRPC status name and message the API would answer, so the
console shows exactly what a gRPC caller would see.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format, message
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass

from sessiond.api.status_codes import status_of
from sessiond.core.errors import SessiondError

# Generous for a console page; the API's own deadlines are the caller's to choose.
CALL_SECONDS = 10.0


class CallFailed(Exception):
    """A console call refused or failed, with the status the gRPC API would answer."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class _Method:
    descriptor: MethodDescriptor
    request_type: type[message.Message]
    response_type: type[message.Message]
    servicer: Any

    def message(self, answer: message.Message | bytes) -> message.Message:
        """A servicer's answer as a message: it may answer with bytes it serialized once
        (an event for every watcher, a session for every read of its revision)."""
        return self.response_type.FromString(answer) if isinstance(answer, bytes) else answer


class _Context:
    """What the servicers ask of a call's context outside gRPC."""

    def time_remaining(self) -> float:
        return CALL_SECONDS

    async def send_initial_metadata(self, metadata: object) -> None:
        """Headers such as the event range have no use on a console page."""


def to_json(msg: message.Message) -> dict[str, Any]:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


class Bridge:
    """Calls the servicers' methods by full name (``/sessiond.v1.SessionService/GetSession``).

    Args:
        servicers: Each servicer with the service descriptor it implements.
    """

    def __init__(self, servicers: Mapping[ServiceDescriptor, Any]):
        self._methods: dict[str, _Method] = {}
        for service, servicer in servicers.items():
            for method in service.methods:
                types = GetMessageClass(method.input_type), GetMessageClass(method.output_type)
                self._methods[f"/{service.full_name}/{method.name}"] = _Method(method, *types, servicer)

    def knows(self, method: str) -> bool:
        return method in self._methods

    async def call(self, method: str, body: bytes) -> dict[str, Any]:
        """Run a unary method on a JSON request; the response as JSON.

        Raises:
            CallFailed: An unknown or streaming method, a body that is not the request
                message, or a refusal by the service.
        """
        found = self._unary(method)
        request = _parse(found.request_type, body)
        try:
            response = await getattr(found.servicer, found.descriptor.name)(request, _Context())
        except SessiondError as exc:
            raise CallFailed(status_of(exc), exc.message) from exc
        return to_json(found.message(response))

    async def stream(self, method: str, request: message.Message) -> AsyncGenerator[dict[str, Any], None]:
        """The messages of a server-streaming method, as JSON."""
        found = self._methods.get(method)
        if found is None or not found.descriptor.server_streaming:
            raise CallFailed(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not a streaming method of this server")
        items = getattr(found.servicer, found.descriptor.name)(request, _Context())
        try:
            async with contextlib.aclosing(items):  # closed with the page's stream, not when collected
                async for item in items:
                    yield to_json(found.message(item))
        except SessiondError as exc:
            raise CallFailed(status_of(exc), exc.message) from exc

    def _unary(self, method: str) -> _Method:
        found = self._methods.get(method)
        if found is None:
            raise CallFailed(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not a method of this server")
        if found.descriptor.server_streaming or found.descriptor.client_streaming:
            raise CallFailed(grpc.StatusCode.UNIMPLEMENTED, f"{method} streams; the console watches at /api/watch")
        return found


def _parse(request_type: type[message.Message], body: bytes) -> message.Message:
    request = request_type()
    try:
        json_format.Parse(body or b"{}", request)
    except Exception as exc:  # ParseError, bad UTF-8, nesting: all a malformed body
        name = request_type.DESCRIPTOR.full_name
        raise CallFailed(grpc.StatusCode.INVALID_ARGUMENT, f"the body is not a {name} in JSON: {exc}") from None
    return request
