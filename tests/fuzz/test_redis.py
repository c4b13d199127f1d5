"""The same oracle on the Redis store (a real redis-server), with fewer examples:
each example gets a fresh server and its own key prefix on the suite's Redis."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies
from tests.fuzz.checks import check_call
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.rpcs import RPCS, Rpc
from tests.fuzz.test_requests import broken
from tests.fuzz.world import EXISTING, seeded_world
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis
_prefixes = itertools.count()


@pytest.mark.parametrize("rpc", RPCS, ids=str)
@fuzz_settings(share=0.5)
@given(data=st.data())
async def test_any_request_is_answered_cleanly_on_redis(
    redis_server: RedisServer, rpc: Rpc, data: st.DataObject
) -> None:
    payload = data.draw(st.one_of(strategies.request_bytes(rpc.request, EXISTING), broken(rpc)), label="payload")
    prefix = f"fuzz{next(_prefixes)}"
    async with seeded_world(store="redis", redis_url=redis_server.url, redis_key_prefix=prefix) as world:
        await check_call(world, rpc, payload)
