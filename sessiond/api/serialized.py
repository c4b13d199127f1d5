"""Messages serialized once and answered many times as bytes.

The interceptor's serializers pass bytes through (see interceptor._passing_bytes), so a
servicer may answer with what it serialized before: an event for all its watchers, a
session for every GetSession of the same revision. Each key holds one version; a lookup
with another version builds and replaces it. At most ``size`` keys, the oldest dropped first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from google.protobuf import message


class SerializedCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[Hashable, tuple[Hashable, bytes]] = {}

    def get(self, key: Hashable, version: Hashable, build: Callable[[], message.Message]) -> bytes:
        """The bytes of ``build()`` for ``key`` at ``version``, built only when not kept."""
        found = self._entries.get(key)
        if found is not None and found[0] == version:
            return found[1]
        data = build().SerializeToString()
        self._entries.pop(key, None)  # re-inserted last: the newest is dropped last
        self._entries[key] = (version, data)
        if len(self._entries) > self._size:
            del self._entries[next(iter(self._entries))]
        return data
