"""Preparing sessions through sessiond's own API (the Python client), concurrently but bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

from sessiond_client import SessionClient

from tests.bench.workload import PLAYERS, session_state

T = TypeVar("T")
CONCURRENCY = 32
CALL_TIMEOUT = 30.0


async def for_each(items: Sequence[T], work: Callable[[T], Awaitable[object]], concurrency: int = CONCURRENCY) -> None:
    """``await work(item)`` for every item, at most ``concurrency`` at a time; the first failure raises."""
    queue = list(reversed(items))

    async def worker() -> None:
        while queue:
            await work(queue.pop())

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(items))):
            group.create_task(worker())


async def create_sessions(
    client: SessionClient,
    ids: Sequence[str],
    *,
    window_seconds: float,
    players: Literal["", "join", "choose"] = "",
) -> None:
    """Create ``ids`` (1 KiB of state, early close off, ``window_seconds`` windows). ``players``:
    "" none, "join" the four players join, "choose" each of them chooses once (which joins them
    and opens the window of turn 1)."""
    state = session_state()

    async def create(session_id: str) -> None:
        await client.create_session(
            session_id=session_id,
            game_id="bench-game",
            title="Benchmark session",
            state=state,
            window_seconds=window_seconds,
            early_close=False,
            timeout=CALL_TIMEOUT,
        )
        for i, player in enumerate(PLAYERS if players else ()):
            if players == "join":
                await client.join_session(session_id, player, display_name=f"Player {i}", timeout=CALL_TIMEOUT)
            else:
                await client.submit_choice(session_id, player, "left", timeout=CALL_TIMEOUT)

    await for_each(ids, create)
