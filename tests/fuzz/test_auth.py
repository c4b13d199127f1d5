"""Authentication comes before parsing: on a server with tokens, a caller without a
valid token is UNAUTHENTICATED (and one without the scope PERMISSION_DENIED) whatever
bytes it sends, garbage included."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessiond.ops.scopes import scope_of
from sessiond.ops.tokens import Scope
from sessiond.server import Service
from tests.fuzz import strategies, wire
from tests.fuzz.checks import describe, expected_refusal
from tests.fuzz.conftest import READER, fuzz_settings
from tests.fuzz.rpcs import RPCS, Rpc, call_raw
from tests.fuzz.world import EXISTING

STRANGERS = (
    (),
    (("authorization", "Bearer not-a-token-this-server-knows"),),
    (("authorization", f"Basic {READER}"),),
    (("authorization", "Bearer"),),
)

RPCS_BY_NAME = {rpc.name: rpc for rpc in RPCS}


def payloads(rpc: Rpc) -> st.SearchStrategy[bytes]:
    return st.one_of(wire.malformed(rpc.request), strategies.request_bytes(rpc.request, EXISTING))


@pytest.mark.parametrize("rpc", RPCS, ids=str)
@fuzz_settings(share=0.5)
@given(data=st.data())
async def test_a_caller_without_a_valid_token_is_unauthenticated_whatever_it_sends(
    auth_service: Service, rpc: Rpc, data: st.DataObject
) -> None:
    payload = data.draw(payloads(rpc), label="payload")
    metadata = data.draw(st.sampled_from(STRANGERS), label="metadata")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{auth_service.port}") as channel:
        outcome = await call_raw(channel, rpc, payload, metadata=metadata)
        assert outcome.code is expected_refusal(payload, grpc.StatusCode.UNAUTHENTICATED), (
            f"{rpc.path} with metadata {metadata} <- {describe(rpc, payload)}\nanswered {outcome}"
        )
        still = await call_raw(
            channel, RPCS_BY_NAME["GetServiceStats"], b"", metadata=(("authorization", f"Bearer {READER}"),)
        )
        assert still.ok, f"the server no longer answers: GetServiceStats -> {still}"


WRITES = [rpc for rpc in RPCS if scope_of(rpc.name) is not Scope.READ]


@pytest.mark.parametrize("rpc", WRITES, ids=str)
@fuzz_settings(share=0.5)
@given(data=st.data())
async def test_a_reader_calling_a_write_is_permission_denied_whatever_it_sends(
    auth_service: Service, rpc: Rpc, data: st.DataObject
) -> None:
    payload = data.draw(payloads(rpc), label="payload")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{auth_service.port}") as channel:
        outcome = await call_raw(channel, rpc, payload, metadata=(("authorization", f"Bearer {READER}"),))
    assert outcome.code is expected_refusal(payload, grpc.StatusCode.PERMISSION_DENIED), (
        f"{rpc.path} as a reader <- {describe(rpc, payload)}\nanswered {outcome}"
    )
