"""CPU per call of the unary path's record work, the previous way and the current way, in
one process, interleaved rounds (min and max of each shown): steadier than req/s on a busy
machine, as each figure is the best of several rounds of thousands of calls.

    PYTHONPATH=.:clients/python python -m tests.bench.codec

- encode: a session record (4 players, 1 KiB of state, an open window) as stored in Redis:
  ``json.dumps(asdict(...))`` + deflate before, msgspec + deflate from a primed copy now;
- decode: the same record back to a Session (``json.loads`` before, msgspec now);
- answer: GetSession's answer: ``session_to_pb(...).SerializeToString()`` before, the
  serialized bytes of an unchanged revision now.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable

from sessiond.api import convert
from sessiond.api.serialized import SerializedCache
from sessiond.core import codec
from sessiond.core.lifecycle import Defaults, SessionSpec, new_session
from sessiond.core.limits import Limits
from sessiond.core.models import ChoiceEntry, PlayerEntry, Session, Window
from sessiond.store.redis import _packing as rc
from tests.bench.workload import PLAYERS, session_state

CALLS = 2000
ROUNDS = 7


def bench_session() -> Session:
    spec = SessionSpec(game_id="bench-game", title="Benchmark session", session_state=session_state())
    session = new_session("bench-00000", spec, 1_760_000_000.123456, Defaults(), Limits())
    for i, pid in enumerate(PLAYERS):
        session.roster[pid] = PlayerEntry(pid, f"Player {i}", 1_760_000_000.5, 1_760_000_001.25, 1, 0, 0)
    choices = {pid: ChoiceEntry(pid, "left", 1_760_000_000.5 + i, i + 1) for i, pid in enumerate(PLAYERS)}
    session.window = Window(1, 1_760_000_000.5, 1_760_003_600.5, "p0", choices, len(PLAYERS) + 1)
    return session


def previous_encode(session: Session) -> bytes:
    plain = json.dumps(codec.session_to_dict(session), separators=(",", ":"), ensure_ascii=False).encode()
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, rc.DICTIONARY_V1)
    return rc.FORMAT_V1 + deflate.compress(plain) + deflate.flush()


def previous_decode(stored: bytes, session: Session) -> Session:
    inflate = zlib.decompressobj(-15, rc.DICTIONARY_V1)
    plain = inflate.decompress(stored[1:]) + inflate.flush()
    return codec.session_from_dict(json.loads(plain), legacy=session.settings.persistence)


def cpu_us(work: Callable[[], object]) -> float:
    start = time.process_time()
    for _ in range(CALLS):
        work()
    return (time.process_time() - start) / CALLS * 1e6


def main() -> None:
    session = bench_session()
    stored = rc.encode_session(session)
    assert stored == previous_encode(session)
    cache = SerializedCache(10)
    version = (session.create_time, session.revision)
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "encode": (lambda: previous_encode(session), lambda: rc.encode_session(session)),
        "decode": (
            lambda: previous_decode(stored, session),
            lambda: rc.decode_session(stored, session.settings.persistence),
        ),
        "answer": (
            lambda: convert.session_to_pb(session, "redis").SerializeToString(),
            lambda: cache.get(session.session_id, version, lambda: convert.session_to_pb(session, "redis")),
        ),
    }
    print(f"CPU us per call, best (worst) of {ROUNDS} rounds of {CALLS:,}; load average {os.getloadavg()[0]:.2f}")
    print("| work | before | now | saved |")
    print("| --- | --- | --- | --- |")
    for name, (before, now) in cases.items():
        samples: dict[str, list[float]] = {"before": [], "now": []}
        for _ in range(ROUNDS):
            samples["before"].append(cpu_us(before))
            samples["now"].append(cpu_us(now))
        b, n = samples["before"], samples["now"]
        print(f"| {name} | {min(b):,.1f} ({max(b):,.1f}) | {min(n):,.1f} ({max(n):,.1f}) | {min(b) - min(n):,.1f} |")
    print(f"(record: {len(stored)} bytes stored; load average after {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
