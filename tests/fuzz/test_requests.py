"""Every RPC of both services, fed requests built from the proto descriptors and raw
malformed bytes, on a fresh seeded server per example (memory store)."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies, wire
from tests.fuzz.checks import check_call, describe, expected_refusal, parses
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.rpcs import RPCS, Rpc
from tests.fuzz.world import EXISTING, seeded_world


def truncated(rpc: Rpc) -> st.SearchStrategy[bytes]:
    """A serialized request cut short somewhere."""
    return strategies.request_bytes(rpc.request, EXISTING).flatmap(
        lambda full: st.integers(0, max(0, len(full) - 1)).map(lambda cut: full[:cut])
    )


def broken(rpc: Rpc) -> st.SearchStrategy[bytes]:
    bad = wire.malformed(rpc.request)
    return st.one_of(bad, wire.prefixed(strategies.request_bytes(rpc.request, EXISTING), bad), truncated(rpc))


@pytest.mark.parametrize("rpc", RPCS, ids=str)
@fuzz_settings()
@given(data=st.data())
async def test_a_request_built_from_the_descriptor_is_answered_cleanly(rpc: Rpc, data: st.DataObject) -> None:
    request = data.draw(strategies.messages(rpc.request, EXISTING).map(strategies.Shown), label="request").message
    tail = data.draw(st.one_of(st.just(b""), wire.unknown_fields()), label="unknown fields")
    async with seeded_world() as world:
        await check_call(world, rpc, request.SerializeToString() + tail)


@pytest.mark.parametrize("rpc", RPCS, ids=str)
@fuzz_settings()
@given(data=st.data())
async def test_malformed_bytes_are_invalid_argument(rpc: Rpc, data: st.DataObject) -> None:
    payload = data.draw(broken(rpc), label="payload")
    async with seeded_world() as world:
        outcome = await check_call(world, rpc, payload)
    if not parses(rpc, payload):
        assert outcome.code is expected_refusal(payload, grpc.StatusCode.INVALID_ARGUMENT), (
            f"{rpc.path} <- {describe(rpc, payload)}\n"
            f"answered {outcome}; a request that does not parse is INVALID_ARGUMENT"
        )
