"""The operator console's HTTP listener: static pages, JSON calls, live events.

- ``GET /`` and ``/static/...``: the single-page console, shipped in the package.
- ``GET /api/whoami``: whether authentication is on and who the token is.
- ``POST /api/<service>/<Method>``: a unary RPC with its request as JSON (see `Bridge`).
- ``GET /api/watch/<session_id>``: WatchSession as server-sent events, fed by the same
  WatchHub as the gRPC streams (no store reader per viewer).

The API endpoints take the same bearer tokens and scopes as the gRPC API
(``Authorization: Bearer <token>``). Every refusal is JSON ``{"code", "message"}`` with
the gRPC status name and the HTTP status grpc-gateway uses for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from importlib import resources
from typing import Any

import grpc
import structlog
from aiohttp import web
from sessiond_client._proto.sessiond.v1 import session_service_pb2 as spb

from sessiond.console.bridge import Bridge, CallFailed
from sessiond.ops.auth import Authorizer
from sessiond.ops.config_error import OpsConfigError
from sessiond.ops.metrics_http import split_host_port

log = structlog.get_logger("sessiond.console")

SETTING = "--console-listen (SESSIOND_CONSOLE_LISTEN)"
WATCH_METHOD = "/sessiond.v1.SessionService/WatchSession"
KEEPALIVE_SECONDS = 15.0
MAX_BODY_BYTES = 256 * 1024
STATIC = resources.files("sessiond.console") / "static"

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNIMPLEMENTED: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
}


def _refusal(code: grpc.StatusCode, message: str) -> web.Response:
    return web.json_response({"code": code.name, "message": message}, status=HTTP_STATUS.get(code, 500))


class Console:
    """The console app over ``bridge``, guarded by ``auth`` (None: authentication off)."""

    def __init__(self, bridge: Bridge, auth: Authorizer | None, store_name: str) -> None:
        self._bridge = bridge
        self._auth = auth
        self._store = store_name
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app.add_routes(
            [
                web.get("/", self._index),
                web.get("/api/whoami", self._whoami),
                web.post("/api/{service}/{method}", self._call),
                web.get("/api/watch/{session_id}", self._watch),
                web.static("/static", str(STATIC)),
            ]
        )

    def _caller(self, request: web.Request, method: str) -> str:
        """The caller's name ("" when anonymous or auth is off); raises CallFailed if refused."""
        if self._auth is None:
            return ""
        header = request.headers.get("Authorization")
        verdict = self._auth.authorize(method, (("authorization", header),) if header is not None else ())
        if verdict is None or isinstance(verdict, str):
            return verdict or ""
        log.warning("console call refused", method=method, status=verdict.code.name, reason=verdict.message)
        raise CallFailed(verdict.code, verdict.message)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=(STATIC / "index.html").read_bytes(), content_type="text/html", charset="utf-8")

    async def _whoami(self, request: web.Request) -> web.Response:
        try:
            caller = self._caller(request, "/sessiond.v1.SessionService/GetServiceStats")
        except CallFailed as exc:
            return _refusal(exc.code, exc.message)
        return web.json_response({"auth": self._auth is not None, "caller": caller, "store": self._store})

    async def _call(self, request: web.Request) -> web.Response:
        method = f"/{request.match_info['service']}/{request.match_info['method']}"
        try:
            if not self._bridge.knows(method):
                raise CallFailed(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not a method of this server")
            caller = self._caller(request, method)
            body = await request.read()
            answer = await self._bridge.call(method, body)
        except CallFailed as exc:
            return _refusal(exc.code, exc.message)
        except web.HTTPRequestEntityTooLarge:
            return _refusal(grpc.StatusCode.INVALID_ARGUMENT, f"the body is over {MAX_BODY_BYTES} bytes")
        log.info("console call", method=method, caller=caller or None)
        return web.json_response(answer)

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        try:
            self._caller(request, WATCH_METHOD)
            watch = spb.WatchSessionRequest(session_id=request.match_info["session_id"])
            after = request.query.get("after_event_id")
            if after is not None:
                if not after.isdigit():
                    raise CallFailed(grpc.StatusCode.INVALID_ARGUMENT, "after_event_id: must be a whole number")
                watch.after_event_id = int(after)
        except CallFailed as exc:
            return _refusal(exc.code, exc.message)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        items = self._bridge.stream(WATCH_METHOD, watch)
        try:
            async with contextlib.aclosing(items):
                await _relay(items, response)
        except CallFailed as exc:
            payload = json.dumps({"code": exc.code.name, "message": exc.message})
            await response.write(f"event: error\ndata: {payload}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the page went away
        return response


async def _relay(items: Any, response: web.StreamResponse) -> None:
    """Write each item as an SSE ``data:`` line; a comment line keeps idle proxies open."""
    pending = asyncio.ensure_future(anext(items))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                await response.write(b": keep-alive\n\n")
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            await response.write(f"data: {json.dumps(item, separators=(',', ':'))}\n\n".encode())
            pending = asyncio.ensure_future(anext(items))
    finally:
        pending.cancel()


class ConsoleListener:
    """Serves a `Console` on ``address`` (HTTPS when ``tls`` is given).

    Args:
        console: The app.
        address: HOST:PORT; port 0 picks a free port.
        tls: The gRPC port's TLS settings as an ssl context, or None for HTTP.
    """

    def __init__(self, console: Console, address: str, tls: ssl.SSLContext | None = None) -> None:
        self.host, self._port = split_host_port(address, SETTING)
        self.port = 0
        self._tls = tls
        self._runner = web.AppRunner(console.app, access_log=None, handle_signals=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}/"

    async def start(self) -> None:
        """Listen, or stop the start with a message naming the setting.

        Raises:
            OpsConfigError: The address cannot be bound.
        """
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port, ssl_context=self._tls)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            where = f"{self.host}:{self._port}"
            raise OpsConfigError(f"cannot listen on {where} for the console ({SETTING}): {exc}") from exc
        server = site._server  # aiohttp does not expose the bound port
        sockets = getattr(server, "sockets", None) or ()
        self.port = int(sockets[0].getsockname()[1]) if sockets else self._port

    async def stop(self) -> None:
        await self._runner.cleanup()
