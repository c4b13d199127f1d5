"""One watcher client process of the close-lag benchmark (close_lag starts several).

Opens its share of the WatchSession streams (watcher ``k`` of session ``i`` belongs to
process ``(i * per_session + k) % procs``) over a few HTTP/2 connections, at most ``--ramp``
starting at a time (a burst of over ~1000 stream starts leaves some of them hanging on a
grpc.aio server, a no-op one too). Then, for every turn_resolved event, it records
``receive time - deadline`` (the deadline from the turn's window_opened event; both times
are this machine's clock) and ``resolve_time - deadline`` (when the server committed the
close). Talks to its parent on stdin/stdout, one line each:

    -> READY <watchers>        every stream has delivered its snapshot
    -> DONE <turn>             every stream of this process has seen turn <turn> resolve
    -> FANNED                  every stream of this process has seen a state_changed
    <- STOP (or end of input)  stop watching
    -> RESULT <json>           the samples (seconds), streams opened, this process's CPU use

    python -m tests.bench.watchers --target HOST:PORT --prefix lag- --sessions 1000 \
        --per-session 5 --procs 4 --index 0 --window-seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from google.protobuf import timestamp_pb2
from sessiond_client import SessionClient, SessiondError, pb

from tests.bench.workload import session_ids

# Own connection per client (grpc shares one between channels with equal options otherwise).
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


@dataclass(slots=True)
class Samples:
    delivery: list[float] = field(default_factory=list)  # receive time - deadline
    resolve: list[float] = field(default_factory=list)  # resolve_time - deadline
    turns: list[int] = field(default_factory=list)  # the turn of each sample (= the round)
    fanout: list[float] = field(default_factory=list)  # receive time - event_time of state_changed
    opened: int = 0  # streams that delivered their snapshot
    errors: int = 0
    first_error: str = ""
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


class Process:
    def __init__(self, watchers: int, window_seconds: float) -> None:
        self.samples = Samples()
        self._watchers = watchers
        self._window_seconds = window_seconds
        self._ready = 0
        self._resolved: Counter[int] = Counter()
        self._changes = 0
        self.all_ready = asyncio.Event()

    @property
    def opened(self) -> int:
        return self._ready

    async def watch(
        self,
        client: SessionClient,
        session_id: str,
        ticks: bool,
        starting: asyncio.Semaphore,
        reconnect: bool = True,
        player_id: str = "",
    ) -> None:
        """Follow one session (for ``player_id``, if given); ``starting`` is held until the
        stream delivered its snapshot."""
        deadlines: dict[int, float] = {}
        await starting.acquire()
        started = False
        try:
            async for event in client.watch(
                session_id, exclude_ticks=not ticks, max_reconnects=None if reconnect else 0, player_id=player_id
            ):
                received = time.time()
                kind = event.WhichOneof("kind")
                if kind == "snapshot":
                    started = True
                    starting.release()
                    self._ready += 1
                    if self._ready == self._watchers:
                        self.all_ready.set()
                elif kind == "window_opened":
                    deadlines[event.window_opened.turn_number] = _seconds(event.window_opened.deadline)
                elif kind == "turn_resolved":
                    self._record(event.turn_resolved, deadlines, received)
                elif kind == "state_changed":
                    self.samples.fanout.append(received - _seconds(event.event_time))
                    self._changes += 1
                    if self._changes == self._watchers:
                        _say("FANNED")
        except SessiondError as exc:
            self.samples.errors += 1
            self.samples.first_error = self.samples.first_error or f"{session_id}: {exc}"
        finally:
            if not started:
                starting.release()

    def _record(self, turn: pb.Turn, deadlines: dict[int, float], received: float) -> None:
        deadline = deadlines.pop(turn.turn_number, None)
        if deadline is None:  # opened before the watch began: the window's length says when
            deadline = _seconds(turn.open_time) + self._window_seconds
        self.samples.delivery.append(received - deadline)
        self.samples.resolve.append(_seconds(turn.resolve_time) - deadline)
        self.samples.turns.append(turn.turn_number)
        self._resolved[turn.turn_number] += 1
        if self._resolved[turn.turn_number] == self._watchers:
            _say(f"DONE {turn.turn_number}")


def _seconds(stamp: timestamp_pb2.Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _stop_requested(max_seconds: float) -> None:
    """Until STOP or end of input on stdin, at most ``max_seconds``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max_seconds):
            while True:
                line = await reader.readline()
                if not line or line.strip() == b"STOP":
                    return


def player_of(k: int) -> str:
    """The player the ``k``-th stream of a session watches for (with --player-ids)."""
    return f"w{k}"


async def run(args: argparse.Namespace) -> None:
    mine = [
        (sid, player_of(k) if args.player_ids else "")
        for i, sid in enumerate(session_ids(args.prefix, args.sessions))
        for k in range(args.per_session)
        if (i * args.per_session + k) % args.procs == args.index
    ]
    process = Process(len(mine), args.window_seconds)
    clients = [SessionClient(args.target, options=CHANNEL_OPTIONS) for _ in range(args.channels)]
    starting = asyncio.Semaphore(args.ramp)
    tasks = [
        asyncio.create_task(
            process.watch(clients[n % len(clients)], sid, args.ticks, starting, args.reconnect, player_id)
        )
        for n, (sid, player_id) in enumerate(mine)
    ]
    stop = asyncio.create_task(_stop_requested(args.max_seconds))
    ready = asyncio.create_task(process.all_ready.wait())
    await asyncio.wait([ready, stop], return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        _say(f"READY {len(mine)}")
    started, cpu_start = time.monotonic(), _cpu_seconds()
    await stop
    process.samples.cpu_seconds = _cpu_seconds() - cpu_start
    process.samples.opened = process.opened
    process.samples.wall_seconds = time.monotonic() - started
    ready.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for client in clients:
        await client.close()
    _say("RESULT " + json.dumps(asdict(process.samples)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.watchers", description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--per-session", type=int, required=True)
    parser.add_argument("--procs", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--window-seconds", type=float, required=True)
    parser.add_argument("--channels", type=int, default=4, help="HTTP/2 connections of this process")
    parser.add_argument("--ramp", type=int, default=50, help="streams starting at once, at most")
    parser.add_argument("--ticks", action=argparse.BooleanOptionalAction, default=True, help="countdown ticks")
    reconnect_help = "let the client's watch reconnect after UNAVAILABLE (off: a failed stream stays failed)"
    parser.add_argument("--reconnect", action=argparse.BooleanOptionalAction, default=True, help=reconnect_help)
    ids_help = "stream k of each session watches for player w<k> (who must be on its roster)"
    parser.add_argument("--player-ids", action=argparse.BooleanOptionalAction, default=False, help=ids_help)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop by itself after this long")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args))
    else:
        uvloop.run(run(args))


if __name__ == "__main__":
    main()
