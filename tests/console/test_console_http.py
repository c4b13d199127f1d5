"""The console's HTTP endpoints without a browser: the API's refusals as JSON with the
right HTTP status, nothing changed by a refused call, HTTPS with the gRPC port's
certificate, and the live feed served from the WatchHub."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
from sessiond_client import SessionClient

from sessiond.server import Service
from tests.e2e.conftest import StartServer
from tests.e2e.test_ops import Pki, pki, tls_overrides  # noqa: F401 (fixture)

SESSIONS = "/api/sessiond.v1.SessionService/"


def call(
    service: Service, path: str, body: bytes | None = None, *, context: ssl.SSLContext | None = None
) -> tuple[int, Any]:
    assert service.console_listener is not None
    request = urllib.request.Request(
        service.console_listener.url.rstrip("/") + path, data=body, method="POST" if body is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            raw = response.read()
            return int(response.status), json.loads(raw) if raw.startswith(b"{") else raw
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
async def console(start_server: StartServer) -> Service:
    return await start_server(console_listen="127.0.0.1:0")


LONG_TITLE = b'{"session": {"title": "' + b"x" * 300 + b'"}}'
REFUSED = [
    ("CreateSession", LONG_TITLE, 400, "INVALID_ARGUMENT", "title: is 300 characters"),
    ("CreateSession", b'{"session_id": "c1"}', 409, "ALREADY_EXISTS", "session 'c1' already exists"),
    ("GetSession", b'{"session_id": "nope"}', 404, "NOT_FOUND", "session 'nope' does not exist"),
    ("GetSession", b"not json", 400, "INVALID_ARGUMENT", "the body is not a sessiond.v1.GetSessionRequest in JSON"),
    ("GetSession", b'{"no_such_field": 1}', 400, "INVALID_ARGUMENT", "has no field named"),
    ("GetSession", b"\xff\xfe", 400, "INVALID_ARGUMENT", "the body is not a sessiond.v1.GetSessionRequest"),
    ("GetSession", b"[" * 100_000, 400, "INVALID_ARGUMENT", "the body is not a sessiond.v1.GetSessionRequest"),
    ("ListSessions", b'{"page_token": "garbage"}', 400, "INVALID_ARGUMENT", "page_token"),
    ("ResumeSession", b'{"session_id": "c1"}', 400, "FAILED_PRECONDITION", "ACTIVE"),
    ("UpdateSessionState", b'{"session_id": "c1", "patch": {"a": 1}, "expected_state_version": 7}', 409, "ABORTED", ""),
    ("WatchSession", b'{"session_id": "c1"}', 404, "UNIMPLEMENTED", "streams; the console watches at /api/watch"),
    ("NoSuchMethod", b"{}", 404, "UNIMPLEMENTED", "is not a method of this server"),
]


@pytest.mark.parametrize(("method", "body", "status", "code", "says"), REFUSED, ids=[f"{r[0]}:{r[3]}" for r in REFUSED])
async def test_a_refused_call_answers_the_api_status_and_changes_nothing(
    console: Service, method: str, body: bytes, status: int, code: str, says: str
) -> None:
    async with SessionClient(f"127.0.0.1:{console.port}") as c:
        await c.create_session(session_id="c1", state={"a": 0})
        before = await c.get_session("c1")
        got_status, answer = await asyncio.to_thread(call, console, SESSIONS + method, body)
        assert (got_status, answer["code"]) == (status, code), answer
        assert says in answer["message"]
        assert await c.get_session("c1") == before
        assert (await c.list_sessions()).total_size == 1


async def test_the_console_answers_json_calls_and_the_live_feed(console: Service) -> None:
    status, created = await asyncio.to_thread(
        call, console, SESSIONS + "CreateSession", b'{"session_id": "c2", "session": {"title": "Cave"}}'
    )
    assert status == 200 and created["session_id"] == "c2" and created["state"] == "ACTIVE"

    def first_events() -> list[dict[str, Any]]:
        assert console.console_listener is not None
        url = console.console_listener.url + "api/watch/c2?after_event_id=0"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            line = response.readline()
            return [json.loads(line.removeprefix(b"data: "))]

    async with SessionClient(f"127.0.0.1:{console.port}") as c:
        await c.join_session("c2", "ann")
        events = await asyncio.to_thread(first_events)
    assert events[0]["event_id"] == "1" and events[0]["player_joined"]["player_id"] == "ann"
    status, answer = await asyncio.to_thread(call, console, "/api/watch/c2?after_event_id=x")
    assert (status, answer["code"]) == (400, "INVALID_ARGUMENT")


async def test_under_tls_the_console_serves_https_with_the_same_certificate(
    start_server: StartServer,
    pki: Pki,  # noqa: F811
) -> None:
    service = await start_server(**tls_overrides(pki, console_listen="127.0.0.1:0"))
    assert service.console_listener is not None and service.console_listener.url.startswith("https://")
    trusting = ssl.create_default_context(cadata=pki.ca.cert_pem.decode())
    status, answer = await asyncio.to_thread(call, service, "/api/whoami", context=trusting)
    assert status == 200 and answer["auth"] is False
    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(call, service, "/api/whoami", context=ssl.create_default_context())


async def test_a_busy_console_port_stops_the_start(start_server: StartServer, console: Service) -> None:
    assert console.console_listener is not None
    with pytest.raises(SystemExit, match=r"for the console \(--console-listen"):
        await start_server(console_listen=f"127.0.0.1:{console.console_listener.port}")
