"""Cancelling a task that waits on Redis must cancel it, on Python 3.11 too.

redis-py bounds each send with ``asyncio.wait_for``. On Python 3.11 ``wait_for`` loses a
cancellation that arrives as the awaited send completes (CPython gh-86296, fixed in 3.12,
where ``wait_for`` is built on ``asyncio.timeout``): the cancelled task carries on as if
nothing happened. Measured with redis-py 8 (whose connections always have a socket
timeout): about one cancellation in four of a task looping over Redis calls was lost. In
sessiond a lost cancellation left a watch stream open after its client went away (its
player ONLINE until the replica stopped) and a background loop running after ``stop``
(the shutdown then never ended).

``install`` gives redis-py's connection module a ``wait_for`` built on ``asyncio.timeout``
(same result, same TimeoutError); nothing else in redis-py or in the process changes.
sessiond's own code bounds waits with ``asyncio.timeout``, never ``wait_for``.
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(awaitable: Awaitable[T], timeout: float | None) -> T:  # noqa: ASYNC109 - wait_for's own signature
    """``asyncio.wait_for`` as Python 3.12 has it: a cancellation is never lost."""
    async with asyncio.timeout(timeout):
        return await awaitable


def install() -> None:
    """Make redis-py's asyncio connections use ``wait_for`` above (Python 3.11 only)."""
    if sys.version_info >= (3, 12):
        return
    from redis.asyncio import connection

    if getattr(vars(connection)["asyncio"], "wait_for", None) is wait_for:
        return
    patched = types.ModuleType("asyncio", "asyncio, with a wait_for that keeps cancellations")
    patched.__dict__.update({k: v for k, v in vars(asyncio).items() if not k.startswith("__")})
    patched.wait_for = wait_for  # type: ignore[attr-defined]
    setattr(connection, "asyncio", patched)  # noqa: B010 - the module's global, not a declared attribute
