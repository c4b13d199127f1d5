"""Background loops: a failed pass does not end its loop; stop ends every loop of an owner."""

from __future__ import annotations

import asyncio

from sessiond.periodic import Loops, cancel_and_wait, periodic


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


async def test_cancel_and_wait_ends_the_tasks_and_drops_their_cancellation() -> None:
    tasks = [asyncio.create_task(asyncio.sleep(60)) for _ in range(3)]
    await cancel_and_wait(*tasks)
    assert all(task.cancelled() for task in tasks)


async def test_a_caller_cancelled_while_it_waits_for_a_task_to_end_is_cancelled() -> None:
    """Suppressing CancelledError around the wait would swallow the caller's own."""
    started, ending = asyncio.Event(), asyncio.Event()

    async def slow_to_end() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            ending.set()
            await asyncio.Event().wait()  # its clean-up takes a while

    child = asyncio.create_task(slow_to_end())
    await started.wait()
    caller = asyncio.create_task(cancel_and_wait(child))
    await ending.wait()  # the caller has cancelled it and waits for it to end
    caller.cancel()
    await asyncio.wait([caller, child])
    assert caller.cancelled()
