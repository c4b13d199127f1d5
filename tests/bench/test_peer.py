"""The Colyseus peer of the benchmarks still runs: every client hears every result."""

from __future__ import annotations

from pathlib import Path

from tests.bench.colyseus import PeerSettings, available, measure_peer
from tests.redis_server import free_port


def test_the_colyseus_peer_resolves_every_room_at_every_client(tmp_path: Path) -> None:
    assert available() is None, "scripts/test installs Node's packages of the peer"
    settings = PeerSettings(rooms=4, per_room=3, procs=2, window_seconds=1.0, spread=0.2)
    figures = measure_peer(settings, free_port(), tmp_path)
    assert figures.errors == 0
    assert figures.lag_ms.count == figures.fanout_ms.count == 12
