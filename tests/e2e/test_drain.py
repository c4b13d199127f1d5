"""Shutdown and slow readers, with the daemon in its own process: calls caught by SIGTERM
end OK or UNAVAILABLE (never CANCELLED) and every OK write survives the restart; a watcher
whose process is frozen stays counted and is then cut UNAVAILABLE."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sessiond_client import RetryPolicy, SessionClient
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb

from tests.e2e.daemon import Daemon, free_port, source_env

CREATE = "/sessiond.v1.SessionService/CreateSession"
BURST = 64


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(free_port(), tmp_path / "snapshot.json", tmp_path / "sessiond.log", env={"SESSIOND_SHUTDOWN_GRACE": "5"})
    d.start()
    yield d
    d.stop()


async def test_a_burst_of_calls_across_sigterm_ends_ok_or_unavailable_and_ok_writes_survive(daemon: Daemon) -> None:
    async with grpc.aio.insecure_channel(daemon.target) as channel:
        await channel.channel_ready()
        create = channel.unary_unary(CREATE, request_serializer=None, response_deserializer=None)

        async def one(i: int) -> tuple[str, grpc.StatusCode]:
            body = spb.CreateSessionRequest(session_id=f"burst-{i}").SerializeToString()
            try:
                await create(body, timeout=15)
            except grpc.aio.AioRpcError as err:
                return f"burst-{i}", err.code()
            return f"burst-{i}", grpc.StatusCode.OK

        calls = [asyncio.create_task(one(i)) for i in range(BURST)]
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)  # while the burst is on the wire
        results = await asyncio.gather(*calls)
    assert await asyncio.to_thread(daemon.proc.wait, 30) == 0
    codes = {code for _, code in results}
    assert codes <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, sorted(c.name for c in codes)
    written = {session_id for session_id, code in results if code == grpc.StatusCode.OK}

    daemon.start()
    async with SessionClient(daemon.target, retry=RetryPolicy(max_attempts=1)) as c:
        kept = {s.session_id for s in (await c.list_sessions(page_size=BURST * 2)).sessions}
    assert written <= kept, sorted(written - kept)


FROZEN_WATCHER = textwrap.dedent(
    """
    import sys, grpc
    from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb
    from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as stubs
    channel = grpc.insecure_channel(sys.argv[1])
    stream = stubs.SessionServiceStub(channel).WatchSession(
        spb.WatchSessionRequest(session_id="w1", exclude_ticks=True), timeout=120)
    next(stream)  # the snapshot
    print("watching", flush=True)
    sys.stdin.readline()  # frozen (SIGSTOP) before this returns; resumed after the cut
    try:
        for _ in stream:
            pass
        print("ended OK", flush=True)
    except grpc.RpcError as err:
        from sessiond_client._errors import error_info
        info = error_info(err)
        print(err.code().name, info.reason if info else "", flush=True)
    """
)


async def test_a_frozen_watcher_stays_counted_and_is_then_cut_unavailable(tmp_path: Path) -> None:
    d = Daemon(
        free_port(),
        None,
        tmp_path / "sessiond.log",
        env={"SESSIOND_WATCH_QUEUE_SIZE": "8", "SESSIOND_WATCH_WRITE_TIMEOUT": "5"},
    )
    d.start()
    watcher = subprocess.Popen(  # noqa: ASYNC220 (started once, before the loop has work)
        [sys.executable, "-c", FROZEN_WATCHER, d.target],
        env=source_env(os.environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        async with SessionClient(d.target, default_timeout=10) as c:
            await c.create_session(session_id="w1")
            assert watcher.stdout is not None and watcher.stdin is not None
            assert await asyncio.to_thread(watcher.stdout.readline) == "watching\n"
            watcher.send_signal(signal.SIGSTOP)
            # Far more than the flow-control window and the socket buffers hold: the
            # server's writes to the frozen client block, and its queue overflows.
            blob = "x" * 60_000
            for i in range(400):
                await c.update_session_state("w1", {"blob": f"{i}{blob}"})
            assert (await c.get_service_stats()).watchers == 1  # blocked, not forgotten
            # Cut by the write timeout (5 s), before grpc's keepalive would drop the
            # connection (its 20 s ping timeout: the only cut there was before).
            deadline = asyncio.get_running_loop().time() + 15
            while (await c.get_service_stats()).watchers:
                assert asyncio.get_running_loop().time() < deadline, "the blocked watcher was never cut"
                await asyncio.sleep(0.2)
        watcher.send_signal(signal.SIGCONT)
        watcher.stdin.write("\n")
        watcher.stdin.flush()
        assert (await asyncio.to_thread(watcher.stdout.readline)).split() == ["UNAVAILABLE", "WATCH_STALLED"]
    finally:
        watcher.kill()
        watcher.wait()
        d.stop()
