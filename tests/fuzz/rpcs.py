"""Every RPC of the sessiond.v1 protos, read from their descriptors, and one way to
call any of them with raw request bytes.

The table comes from the generated ``*_pb2`` modules, so an RPC added to a proto is
fuzzed without a change here.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import Descriptor

PACKAGE = "sessiond_client._proto.sessiond.v1"
# A stream that stays open past this is fine: it was accepted and is waiting for events.
STREAM_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class Rpc:
    """One method of a sessiond.v1 service."""

    service: str  # e.g. sessiond.v1.SessionService
    name: str  # e.g. GetSession
    request: Descriptor
    server_streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    def __str__(self) -> str:  # pytest ids
        return f"{self.service.rpartition('.')[2]}.{self.name}"


def all_rpcs() -> list[Rpc]:
    package = importlib.import_module(PACKAGE)
    found: list[Rpc] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{PACKAGE}.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found.append(Rpc(service.full_name, method.name, method.input_type, method.server_streaming))
    return found


RPCS = all_rpcs()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended: a status and its details (OK when answered)."""

    code: grpc.StatusCode
    details: str

    @property
    def ok(self) -> bool:
        return self.code is grpc.StatusCode.OK

    def __str__(self) -> str:
        return f"{self.code.name}: {self.details!r}"


async def call_raw(
    channel: grpc.aio.Channel,
    rpc: Rpc,
    payload: bytes,
    *,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 15.0,
) -> Outcome:
    """Send ``payload`` as the request of ``rpc`` untouched (no serializer) and wait for
    the answer; for a stream, its first message or its status, whichever comes first."""
    try:
        if not rpc.server_streaming:
            await channel.unary_unary(rpc.path)(payload, timeout=timeout, metadata=tuple(metadata))
            return Outcome(grpc.StatusCode.OK, "")
        stream = channel.unary_stream(rpc.path)(payload, timeout=timeout, metadata=tuple(metadata))
        try:
            await asyncio.wait_for(stream.read(), STREAM_WAIT)
        except TimeoutError:
            pass  # accepted, waiting for events
        finally:
            stream.cancel()
        code = await stream.code()
        if code is grpc.StatusCode.CANCELLED:  # we cancelled an accepted stream
            return Outcome(grpc.StatusCode.OK, "stream open")
        return Outcome(code, await stream.details() or "")
    except grpc.aio.AioRpcError as err:
        return Outcome(err.code(), err.details() or "")
