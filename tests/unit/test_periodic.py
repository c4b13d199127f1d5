"""Background loops: a failed pass does not end its loop; stop ends every loop of an owner."""

from __future__ import annotations

import asyncio

from sessiond.periodic import Loops, periodic


async def test_a_failed_pass_is_followed_by_the_next_and_stop_cancels_every_loop() -> None:
    passes: list[str] = []
    second_pass = asyncio.Event()
    other_started = asyncio.Event()
    other_cancelled = asyncio.Event()

    async def flaky() -> None:
        passes.append("pass")
        if len(passes) == 1:
            raise RuntimeError("the store is down for a moment")
        second_pass.set()

    async def other() -> None:
        other_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            other_cancelled.set()
            raise

    loops = Loops("test")
    loops.start({"flaky": periodic(0.0, flaky, "flaky"), "other": other()})
    await asyncio.wait_for(second_pass.wait(), 5)
    await asyncio.wait_for(other_started.wait(), 5)
    assert loops.running
    await loops.stop()
    assert other_cancelled.is_set() and not loops.running
    count = len(passes)
    await asyncio.sleep(0)
    assert len(passes) == count  # no pass after stop
