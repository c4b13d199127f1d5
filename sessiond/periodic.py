"""Background loops: ``periodic`` runs one job on an interval, ``Loops`` runs a set of them
under one asyncio TaskGroup and cancels them together.

A pass that raises is logged and the loop carries on at its next tick: one failed pass
(a store down for a moment) never ends a loop. Cancellation is the only way out.
Imports nothing from sessiond, so every layer may use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger("sessiond")

Interval = float | Callable[[], float]
"""Seconds between passes, or a function giving them (read before each wait)."""


async def periodic(interval: Interval, fn: Callable[[], Awaitable[object]], name: str, *, first: bool = False) -> None:
    """Await ``fn`` every ``interval`` seconds (first at once if ``first``), until cancelled.

    The wait starts when a pass ends, so passes never overlap.
    """
    if not first:
        await asyncio.sleep(_seconds(interval))
    while True:
        try:
            await fn()
        except Exception as exc:  # logged; the next pass may succeed
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            log.warning("background pass failed", loop=name, error=reason)
        await asyncio.sleep(_seconds(interval))


def _seconds(interval: Interval) -> float:
    return interval() if callable(interval) else interval


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancel ``tasks`` and wait until each has ended. Their own CancelledError is
    expected and dropped; a cancellation of the caller while it waits is not (suppressing
    CancelledError around the wait would swallow it, and the caller would run on)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


class Loops:
    """Named background coroutines of one owner, run under one TaskGroup.

    ``start`` them once; ``stop`` cancels every one and waits until all have ended.
    A loop that ends with an unexpected error is logged (and, TaskGroup-style, ends
    its siblings: a bug stops the owner's background work loudly, not one loop quietly).
    """

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._task: asyncio.Task[None] | None = None
        self._loops: list[Coroutine[Any, Any, None]] = []

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, loops: dict[str, Coroutine[Any, Any, None]]) -> None:
        if self._task is not None:
            raise RuntimeError(f"{self._owner}: loops already started")
        self._loops = list(loops.values())
        self._task = asyncio.create_task(self._run(loops), name=self._owner)

    async def _run(self, loops: dict[str, Coroutine[Any, Any, None]]) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for name, loop in loops.items():
                    group.create_task(loop, name=name)
        except* Exception as failed:
            for exc in failed.exceptions:
                log.error("background loop ended", owner=self._owner, exc_info=exc)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        await cancel_and_wait(task)
        for loop in self._loops:
            loop.close()  # a loop stopped before it ever ran
        self._loops = []
