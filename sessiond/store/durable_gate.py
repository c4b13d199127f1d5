"""The Neo4j gate: graph calls that fail fast, and what this process knows of the graph's health.

Invariant: no call through the gate waits on Neo4j longer than ``call_timeout``. While the
graph is known to be down every call fails at once with GraphUnavailable (a message naming
Neo4j and how long it has been unreachable); a failed or slow call marks it down. A probe
pings the graph all along (every ``probe_interval`` while it is down, every
``watch_interval`` while it is up), so the state, and the time it has been unreachable,
are current even when no call needs the graph. ``follow`` reports each change (health).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from sessiond.periodic import Loops, periodic
from sessiond.store.neo4j import GraphUnavailable

log = structlog.get_logger(__name__)

R = TypeVar("R")
CALL_TIMEOUT = 0.75  # seconds a graph call may take before the graph counts as down
PROBE_INTERVAL = 1.0  # seconds between pings of a graph found down
WATCH_INTERVAL = 2.0  # seconds between pings of a graph that answers


class GraphGate:
    def __init__(
        self,
        ping: Callable[[], Awaitable[None]],
        *,
        call_timeout: float = CALL_TIMEOUT,
        probe_interval: float = PROBE_INTERVAL,
        watch_interval: float = WATCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ping = ping
        self._call_timeout = call_timeout
        self._probe_interval = probe_interval
        self._watch_interval = watch_interval
        self._clock = clock
        self._down_since: float | None = None
        self._changed = asyncio.Condition()
        self._probing = Loops("graph-gate")

    @property
    def up(self) -> bool:
        """False from the first failed graph call or ping until a ping answers again."""
        return self._down_since is None

    def unreachable_seconds(self) -> float:
        """How long the graph has been found unreachable; 0 while it answers."""
        return 0.0 if self._down_since is None else max(0.0, self._clock() - self._down_since)

    def start(self) -> None:
        """Begin probing the graph in the background (``close`` ends it)."""
        if not self._probing.running:
            self._probing.start({"graph-probe": periodic(self._probe_pause, self._probe, "graph probe")})

    async def close(self) -> None:
        await self._probing.stop()

    async def read(self, call: Callable[[], Awaitable[R]], doing: str) -> R:
        """A graph call the answer depends on. Raises GraphUnavailable at once while the graph
        is down, or when ``call`` fails or takes longer than the call timeout (which marks it
        down). ``doing`` names the call in the error ("restoring session 's1'")."""
        if self._down_since is not None:
            raise GraphUnavailable(
                f"Neo4j is unavailable (unreachable for {self.unreachable_seconds():.0f}s) "
                f"so {doing} is not possible now; retry later"
            )
        try:
            async with asyncio.timeout(self._call_timeout):
                return await call()
        except TimeoutError as exc:
            await self.mark_down(f"no answer within {self._call_timeout}s")
            raise GraphUnavailable(
                f"Neo4j did not answer within {self._call_timeout}s so {doing} is not possible now; retry later"
            ) from exc
        except GraphUnavailable as exc:
            await self.mark_down(exc.message)
            raise

    async def best_effort(self, call: Callable[[], Awaitable[R]], default: R, doing: str) -> R:
        """A graph call the answer can do without: ``default`` while the graph is down."""
        try:
            return await self.read(call, doing)
        except GraphUnavailable:
            return default

    async def mark_down(self, reason: str) -> None:
        """Note a failure seen elsewhere (the projector's): calls fail fast until a ping answers."""
        if self._down_since is not None:
            return
        self._down_since = self._clock()
        self.start()  # the probe is what brings it back up
        log.warning("neo4j unavailable: graph calls fail fast until it answers again", reason=reason)
        await self._announce()

    async def follow(self, report: Callable[[bool], Awaitable[None]]) -> None:
        """Call ``report(up)`` now and after every change, until cancelled."""
        while True:
            async with self._changed:
                up = self.up
            await report(up)
            async with self._changed:
                await self._changed.wait_for(lambda: self.up != up)  # noqa: B023 - evaluated right here

    async def _announce(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _probe_pause(self) -> float:
        return self._watch_interval if self.up else self._probe_interval

    async def _probe(self) -> None:
        try:
            async with asyncio.timeout(self._call_timeout + self._probe_interval):
                await self._ping()
        except (GraphUnavailable, TimeoutError) as exc:
            await self.mark_down(exc.message if isinstance(exc, GraphUnavailable) else "ping timed out")
            return
        if self._down_since is not None:
            log.info("neo4j reachable again", unreachable_seconds=round(self.unreachable_seconds(), 1))
            self._down_since = None
            await self._announce()
