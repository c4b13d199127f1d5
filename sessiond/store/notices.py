"""Change notices: "these sessions' event logs grew", fanned out to every follower in
this process. A store feeds it (the memory store from its commits, Redis from one
pattern subscription per process); followers read what changed in batches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class _Listener:
    changed: set[str] = field(default_factory=set)
    resync: bool = True  # the first item says: read everything you follow
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class ChangeNotices:
    def __init__(self) -> None:
        self._listeners: list[_Listener] = []

    @property
    def listening(self) -> bool:
        return bool(self._listeners)

    def notify(self, session_ids: Iterable[str]) -> None:
        """Tell every listener these sessions changed."""
        for listener in self._listeners:
            listener.changed.update(session_ids)
            listener.wake.set()

    def notify_all(self) -> None:
        """Tell every listener that notices may have been missed (read everything)."""
        for listener in self._listeners:
            listener.resync = True
            listener.wake.set()

    async def listen(self) -> AsyncIterator[set[str] | None]:
        """Batches of changed session ids as they come; None first and after notify_all."""
        listener = _Listener()
        listener.wake.set()
        self._listeners.append(listener)
        try:
            while True:
                await listener.wake.wait()
                listener.wake.clear()
                if listener.resync:
                    listener.resync = False
                    listener.changed.clear()
                    yield None
                elif listener.changed:
                    changed, listener.changed = listener.changed, set()
                    yield changed
        finally:
            self._listeners.remove(listener)
