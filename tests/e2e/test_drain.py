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


GRACE = 10  # seconds; a drain with nothing slow in flight ends long before


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    env = {"SESSIOND_SHUTDOWN_GRACE": str(GRACE)}
    d = Daemon(free_port(), tmp_path / "snapshot.json", tmp_path / "sessiond.log", env=env)
    d.start()
    yield d
    d.stop()


async def test_a_burst_of_calls_across_sigterm_ends_ok_or_unavailable_and_ok_writes_survive(daemon: Daemon) -> None:
    """BURST callers create sessions back to back; SIGTERM comes once some have been
    created, and each caller goes on until its call is refused. So calls are in flight
    when the signal arrives and others are sent after it."""
    results: list[tuple[str, grpc.StatusCode]] = []
    created = asyncio.Event()
    assert daemon.proc is not None
    async with grpc.aio.insecure_channel(daemon.target) as channel:
        await channel.channel_ready()
        create = channel.unary_unary(CREATE, request_serializer=None, response_deserializer=None)

        async def caller(n: int) -> None:
            for k in range(1000):
                session_id = f"burst-{n}-{k}"
                body = spb.CreateSessionRequest(session_id=session_id).SerializeToString()
                try:
                    await create(body, timeout=15)
                except grpc.aio.AioRpcError as err:
                    results.append((session_id, err.code()))
                    return
                results.append((session_id, grpc.StatusCode.OK))
                if len(results) >= BURST:
                    created.set()

        callers = [asyncio.create_task(caller(n)) for n in range(BURST)]
        await created.wait()
        daemon.proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*callers)
    # Unary calls in flight get the grace; the rest is the last snapshot of a few hundred sessions.
    assert await asyncio.to_thread(daemon.proc.wait, GRACE) == 0

    codes = {code for _, code in results}
    assert codes <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, sorted(c.name for c in codes)
    written = {session_id for session_id, code in results if code == grpc.StatusCode.OK}
    refused = {session_id for session_id, code in results if code == grpc.StatusCode.UNAVAILABLE}
    assert len(refused) == BURST  # every caller ended on a refusal, after the signal
    assert len(written) >= BURST  # and created sessions before it

    daemon.start()
    async with SessionClient(daemon.target, retry=RetryPolicy(max_attempts=1)) as c:
        kept: set[str] = set()
        token = ""
        while True:
            page = await c.list_sessions(page_size=1000, page_token=token)
            kept |= {s.session_id for s in page.sessions}
            if not (token := page.next_page_token):
                break
    assert written <= kept, sorted(written - kept)  # every acknowledged create survived
    assert not refused & kept, sorted(refused & kept)  # no refused create ran


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
        from sessiond_client._call_errors import error_info
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
