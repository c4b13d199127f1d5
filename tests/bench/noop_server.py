"""The baseline: sessiond.v1.SessionService's measured methods answering canned responses
(WatchSession: a canned snapshot, then an idle stream).

The fair upper bound of "Python grpc.aio on this machine": one process, the same server
construction as sessiond (``grpc.aio.server()`` with default options, uvloop when sessiond
would use it) but no interceptor, no store, no logging. The answers are built once and are
the size of sessiond's (see workload), so serialising them costs what sessiond's do.

    python -m tests.bench.noop_server --listen 127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import grpc
from sessiond_client import pb
from sessiond_client._proto.sessiond.v1 import session_service_pb2_grpc as spb_grpc

from tests.bench.workload import canned_player, canned_receipt, canned_session


class NoopSessionService(spb_grpc.SessionServiceServicer):
    def __init__(self) -> None:
        self._session = canned_session()
        self._receipt = canned_receipt()
        self._player = canned_player()
        self._snapshot = pb.SessionEvent(session_id=self._session.session_id, snapshot=self._session)

    async def GetSession(self, request: Any, context: Any) -> Any:
        return self._session

    async def SubmitChoice(self, request: Any, context: Any) -> Any:
        return self._receipt

    async def UpdateSessionState(self, request: Any, context: Any) -> Any:
        return self._session

    async def JoinSession(self, request: Any, context: Any) -> Any:
        return self._player

    async def CreateSession(self, request: Any, context: Any) -> Any:
        return self._session

    async def WatchSession(self, request: Any, context: Any) -> Any:
        """A snapshot, then nothing until the caller goes: an idle stream, as a watch is."""
        yield self._snapshot
        await asyncio.Event().wait()


async def serve(listen: str) -> None:
    server = grpc.aio.server()
    spb_grpc.add_SessionServiceServicer_to_server(NoopSessionService(), server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(listen)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.noop_server", description=__doc__)
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    args = parser.parse_args()
    try:  # the same event loop choice as sessiond's __main__
        import uvloop
    except ImportError:
        asyncio.run(serve(args.listen))
    else:
        uvloop.run(serve(args.listen))


if __name__ == "__main__":
    main()
