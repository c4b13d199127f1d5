"""The fuzzer's oracle: a call is answered with a clear status, the server keeps
answering, and a refused call changes nothing a caller can observe."""

from __future__ import annotations

import grpc
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass

from tests.fuzz.rpcs import Outcome, Rpc, call_raw
from tests.fuzz.strategies import one_line
from tests.fuzz.world import World, changes

NEVER = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)

# grpc's default receive limit: a larger message is refused by the transport before any
# handler runs (RESOURCE_EXHAUSTED), whoever sends it and whatever it holds.
TRANSPORT_LIMIT = 4 * 1024 * 1024


def expected_refusal(payload: bytes, refusal: grpc.StatusCode) -> grpc.StatusCode:
    """``refusal``, or RESOURCE_EXHAUSTED for a payload the transport refuses first."""
    return grpc.StatusCode.RESOURCE_EXHAUSTED if len(payload) > TRANSPORT_LIMIT else refusal


def parses(rpc: Rpc, payload: bytes) -> bool:
    """Whether protobuf's own decoder (the server's) accepts ``payload`` as the request."""
    try:
        GetMessageClass(rpc.request).FromString(payload)
    except (DecodeError, RecursionError):
        return False
    return True


def describe(rpc: Rpc, payload: bytes, limit: int = 1500) -> str:
    """The request for a failure message: as text if it parses, else as bytes; long runs
    of one character are shortened so a 1 MB title stays readable."""
    try:
        return one_line(GetMessageClass(rpc.request).FromString(payload), limit)
    except (DecodeError, RecursionError) as err:
        return f"{len(payload)} bytes that do not parse ({err}): {payload[:96].hex(' ')}"


async def check_call(world: World, rpc: Rpc, payload: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> Outcome:
    """Call ``rpc`` with ``payload`` on ``world`` and assert the oracle.

    Raises:
        AssertionError: UNKNOWN or INTERNAL, no answer, a server that stopped answering, or a
            refused call that changed what the reads of ``World.observe`` return.
    """
    before = await world.observe()
    outcome = await call_raw(world.channel, rpc, payload, metadata=metadata)

    def call() -> str:  # only for a failure: formatting a megabyte request takes seconds
        return f"{rpc.path} <- {describe(rpc, payload)}"

    assert outcome.code not in NEVER, f"{call()}\nanswered {outcome}"
    assert rpc.server_streaming or outcome.code is not grpc.StatusCode.DEADLINE_EXCEEDED, f"{call()}\nnever answered"
    after = await world.observe()
    if not outcome.ok:
        diff = changes(before, after)
        assert not diff, f"{call()}\nwas refused ({outcome}) yet changed:\n{diff}"
    return outcome
