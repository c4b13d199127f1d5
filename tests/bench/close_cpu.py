"""CPU per window close on Redis, in this process: one ``mutate`` per window (64 at a time,
as the per-window timers ran them before issue 11) against the window closer's batches
(``mutate_many``, 500 windows each). Process CPU time is what a busy machine distorts
least; wall time is printed too, for what it is worth.

    PYTHONPATH=.:clients/python python -m tests.bench.close_cpu --redis-url redis://127.0.0.1:6379/15

Writes sessions under fresh ids into that Redis (use a scratch database)."""

from __future__ import annotations

import argparse
import asyncio
import time

from sessiond.core.models import Window
from sessiond.core.window import close_if_due
from sessiond.manager.windows import BATCH
from sessiond.store.redis import RedisStore
from tests.support import make_session

SINGLE_CONCURRENCY = 64


async def due_windows(store: RedisStore, prefix: str, count: int) -> list[str]:
    now = await store.now()
    ids = [f"{prefix}{i:05}" for i in range(count)]
    for session_id in ids:
        session = make_session(session_id, now)
        session.window = Window(1, now - 2, now - 1, "p1")
        await store.create(session, "", 10**6)
    return ids


async def close_one_by_one(store: RedisStore, ids: list[str]) -> int:
    gate = asyncio.Semaphore(SINGLE_CONCURRENCY)

    async def close(session_id: str) -> bool:
        async with gate:
            _, turn = await store.mutate(session_id, close_if_due(1))
            return turn is not None

    return sum(await asyncio.gather(*(close(s) for s in ids)))


async def close_in_batches(store: RedisStore, ids: list[str]) -> int:
    closed = 0
    for start in range(0, len(ids), BATCH):
        outcomes = await store.mutate_many([(s, close_if_due(1)) for s in ids[start : start + BATCH]])
        closed += sum(1 for o in outcomes if isinstance(o, tuple) and o[1] is not None)
    return closed


async def main(url: str, windows: int, rounds: int) -> None:
    store = RedisStore.from_url(url)
    try:
        for _ in range(rounds):
            for name, close in (("one by one", close_one_by_one), ("batches", close_in_batches)):
                ids = await due_windows(store, f"cpu-{time.monotonic_ns()}-", windows)
                cpu, wall = time.process_time(), time.perf_counter()
                closed = await close(store, ids)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                per_close = 1000 * cpu / windows
                print(f"{name:10}: closed {closed}/{windows}, CPU {per_close:.3f} ms per close, wall {wall:.2f} s")
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--windows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.redis_url, args.windows, args.rounds))
