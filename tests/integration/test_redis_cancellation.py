"""Cancelling a task that waits on Redis ends it, whenever the cancellation lands: against
a real redis-server, through the clients the store builds (see store/redis/_cancellation.py:
on Python 3.11 redis-py lost about one cancellation in four of a task looping over calls)."""

from __future__ import annotations

import asyncio
import random

import pytest

from sessiond.store.redis._client import ConnectOptions, connect
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

TRIES = 300


async def test_every_cancellation_of_a_task_calling_redis_ends_it(redis_server: RedisServer) -> None:
    client, blocking = connect(redis_server.url, cluster=False, options=ConnectOptions())
    chance = random.Random(7)

    async def calls() -> None:
        while True:
            await client.time()

    lost = 0
    try:
        for _ in range(TRIES):
            task = asyncio.create_task(calls())
            for _ in range(chance.randint(1, 30)):  # land the cancellation anywhere in a call
                await asyncio.sleep(0)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=1.0)
            if not done:
                lost += 1
                while not task.done():
                    task.cancel()
                    await asyncio.wait([task], timeout=0.1)
                if lost == 3:
                    break
    finally:
        await client.aclose()
        await blocking.aclose()
    assert lost == 0, f"{lost} cancellations (counted up to 3) were lost: the task went on calling Redis"
