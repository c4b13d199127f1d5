"""Operations features end to end, on real grpc.aio servers on loopback reached
through the Python client: Prometheus metrics, TLS and mutual TLS, the plaintext
health-only listener, and bearer tokens with scopes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from prometheus_client.parser import text_string_to_metric_families
from sessiond_client import (
    NotFound,
    PermissionDenied,
    RetryPolicy,
    SessionClient,
    SessiondError,
    Unauthenticated,
    Unavailable,
    pb,
)

from sessiond.ops import OpsConfigError, server_credentials
from sessiond.server import Service
from tests.e2e import certs
from tests.e2e.conftest import Recorder, StartServer
from tests.support import grpcurl

SERVICE = "/sessiond.v1.SessionService/"
NO_RETRY = RetryPolicy(max_attempts=1)
TOTAL = "sessiond_rpc_requests_total"
Samples: TypeAlias = dict[tuple[str, frozenset[tuple[str, str]]], float]


def client(port: int, **kwargs: Any) -> SessionClient:
    return SessionClient(f"127.0.0.1:{port}", default_timeout=5, retry=NO_RETRY, **kwargs)


# --- metrics ------------------------------------------------------------------------------


async def fetch(port: int, path: str = "/metrics") -> tuple[int, str]:
    def get() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    return await asyncio.to_thread(get)


async def scrape(service: Service) -> Samples:
    """Every sample of the server's /metrics, by (name, labels)."""
    assert service.metrics_listener is not None
    status, text = await fetch(service.metrics_listener.port)
    assert status == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape_until(service: Service, ready: Callable[[Samples], bool], timeout: float = 5.0) -> Samples:
    """Scrape until ``ready`` holds (for what the server records after a call returns)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ready(samples := await scrape(service)):
        assert asyncio.get_running_loop().time() < deadline, "the metrics never showed it"
        await asyncio.sleep(0.05)
    return samples


async def raw_call(port: int, method: str, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.StatusCode:
    """The status of calling ``method`` with an empty request, bypassing the client's stubs."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            await channel.unary_unary(method)(b"", timeout=5, metadata=metadata)
        except grpc.aio.AioRpcError as err:
            return err.code()
    return grpc.StatusCode.OK


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_count_calls_by_method_and_code_and_time_them(start_server: StartServer) -> None:
    service = await start_server(metrics_listen="127.0.0.1:0")
    async with client(service.port) as c:
        await c.create_session(session_id="m1", options=["a", "b"])
        await c.get_session("m1")
        await c.get_session("m1")
        with pytest.raises(NotFound):
            await c.get_session("nope")
    samples = await scrape(service)
    total = "sessiond_rpc_requests_total"
    assert value(samples, total, method=f"{SERVICE}CreateSession", code="OK") == 1
    assert value(samples, total, method=f"{SERVICE}GetSession", code="OK") == 2
    assert value(samples, total, method=f"{SERVICE}GetSession", code="NOT_FOUND") == 1
    histogram = "sessiond_rpc_duration_seconds"
    assert value(samples, f"{histogram}_count", method=f"{SERVICE}GetSession") == 3
    assert value(samples, f"{histogram}_bucket", method=f"{SERVICE}GetSession", le="+Inf") == 3
    assert value(samples, f"{histogram}_bucket", method=f"{SERVICE}GetSession", le="0.001") is not None
    assert (value(samples, f"{histogram}_sum", method=f"{SERVICE}GetSession") or 0) > 0  # the calls were timed
    # The hooks for the window closer and the outbox projector.
    assert value(samples, "sessiond_window_close_lag_seconds_count") == 0
    assert value(samples, "sessiond_outbox_lag_seconds") == 0
    service.metrics.observe_close_lag(0.02)
    service.metrics.set_outbox_lag(1.5)
    samples = await scrape(service)
    assert value(samples, "sessiond_window_close_lag_seconds_count") == 1
    assert value(samples, "sessiond_window_close_lag_seconds_bucket", le="0.025") == 1
    assert value(samples, "sessiond_outbox_lag_seconds") == 1.5
    assert value(samples, "process_open_fds") is not None


async def test_metrics_gauges_show_sessions_by_state_windows_and_watchers(start_server: StartServer) -> None:
    service = await start_server(metrics_listen="127.0.0.1:0")
    # The refresher's first pass runs right after start: every state is there, at 0.
    samples = await scrape_until(service, lambda found: value(found, "sessiond_watchers") is not None)
    for state in ("ACTIVE", "PAUSED", "ENDED", "EXPIRED"):
        assert value(samples, "sessiond_sessions", state=state) == 0
    assert value(samples, "sessiond_watchers") == 0
    async with client(service.port) as c:
        for sid in ("g1", "g2", "g3"):
            await c.create_session(session_id=sid, options=["a", "b"], window_seconds=600.0, early_close=False)
        await c.pause_session("g2")
        await c.end_session("g3")
        await c.submit_choice("g1", "p1", "a")
        watch = Recorder(c.watch("g1"))
        await watch.wait_for(lambda _e: True)  # subscribed: the snapshot arrived
        service.metrics.update(await service.manager.stats())  # what the 5 s refresher does
        samples = await scrape(service)
        await watch.stop()
    assert value(samples, "sessiond_sessions", state="ACTIVE") == 1
    assert value(samples, "sessiond_sessions", state="PAUSED") == 1
    assert value(samples, "sessiond_sessions", state="ENDED") == 1
    assert value(samples, "sessiond_open_windows") == 1
    assert value(samples, "sessiond_watchers") == 1
    # The watch is counted when it ends (the client cancelled it).
    watch_total = {"method": f"{SERVICE}WatchSession", "code": "CANCELLED"}
    samples = await scrape_until(service, lambda found: bool(value(found, TOTAL, **watch_total)))
    assert value(samples, TOTAL, **watch_total) == 1
    assert value(samples, "sessiond_rpc_duration_seconds_count", method=f"{SERVICE}WatchSession") is None


async def test_each_server_has_its_own_registry(start_server: StartServer) -> None:
    first = await start_server(metrics_listen="127.0.0.1:0")
    second = await start_server(metrics_listen="127.0.0.1:0")
    async with client(first.port) as c:
        await c.create_session(session_id="only-on-first")
    create = {"method": f"{SERVICE}CreateSession", "code": "OK"}
    assert value(await scrape(first), "sessiond_rpc_requests_total", **create) == 1
    assert value(await scrape(second), "sessiond_rpc_requests_total", **create) is None


async def test_the_metrics_listener_serves_only_its_path(start_server: StartServer) -> None:
    service = await start_server(metrics_listen="127.0.0.1:0")
    assert service.metrics_listener is not None
    status, text = await fetch(service.metrics_listener.port, "/")
    assert status == 404 and "/metrics" in text
    assert await raw_call(service.port, "/sessiond.v1.SessionService/NoSuchMethod") == grpc.StatusCode.UNIMPLEMENTED
    assert await raw_call(service.port, "/made.up/Name") == grpc.StatusCode.UNIMPLEMENTED
    # A made-up method name is counted under one label: callers cannot grow the series.
    samples = await scrape(service)
    assert value(samples, "sessiond_rpc_requests_total", method="unknown", code="UNIMPLEMENTED") == 2


async def test_an_empty_metrics_listen_turns_the_listener_off(start_server: StartServer) -> None:
    service = await start_server(metrics_listen="")
    assert service.metrics_listener is None


async def test_busy_side_ports_stop_the_start(start_server: StartServer) -> None:
    first = await start_server(metrics_listen="127.0.0.1:0")
    assert first.metrics_listener is not None
    taken = f"127.0.0.1:{first.metrics_listener.port}"
    with pytest.raises(SystemExit, match=r"cannot listen on 127\.0\.0\.1:\d+ for metrics"):
        await start_server(metrics_listen=taken)
    with pytest.raises(SystemExit, match=r"cannot listen on 127\.0\.0\.1:\d+ for health checks"):
        await start_server(health_listen=taken)


# --- TLS ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: certs.Authority
    server: certs.KeyPair
    client: certs.KeyPair
    rogue_client: certs.KeyPair  # signed by a CA the server does not trust


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = certs.authority(directory)
    rogue_ca = certs.authority(directory / "rogue", "rogue CA")
    return Pki(
        ca,
        ca.issue(directory, "server", server=True),
        ca.issue(directory, "client", server=False),
        rogue_ca.issue(directory / "rogue", "client", server=False),
    )


def tls_overrides(pki: Pki, *, mutual: bool = False, **more: Any) -> dict[str, Any]:
    return {
        "tls_cert": str(pki.server.cert_path),
        "tls_key": str(pki.server.key_path),
        "tls_client_ca": str(pki.ca.cert_path) if mutual else "",
        **more,
    }


def tls_client(port: int, pki: Pki, identity: certs.KeyPair | None = None) -> SessionClient:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.cert_pem,
        private_key=identity.key_pem if identity else None,
        certificate_chain=identity.cert_pem if identity else None,
    )
    return client(port, credentials=credentials)


async def health_status(
    port: int, service: str = "", credentials: grpc.ChannelCredentials | None = None, *, watch: bool = False
) -> int:
    """The status by Check, or with ``watch`` the first one a Watch streams."""
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.secure_channel(target, credentials) if credentials else grpc.aio.insecure_channel(target)
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        if not watch:
            return int((await stub.Check(request, timeout=5)).status)
        call = stub.Watch(request, timeout=5)
        async for reply in call:
            call.cancel()
            return int(reply.status)
    raise AssertionError("the Watch ended without a status")


async def test_tls_serves_clients_that_trust_the_ca_and_refuses_plaintext(start_server: StartServer, pki: Pki) -> None:
    service = await start_server(**tls_overrides(pki))
    async with tls_client(service.port, pki) as c:
        created = await c.create_session(session_id="tls")
        assert (await c.get_session("tls")).session_id == created.session_id
    async with client(service.port) as plain:
        with pytest.raises(Unavailable) as raised:
            await plain.get_session("tls")
    assert raised.value.status == grpc.StatusCode.UNAVAILABLE
    # A client that does not trust the server's CA refuses the server.
    rogue_trust = grpc.ssl_channel_credentials(root_certificates=pki.rogue_client.cert_pem)
    async with client(service.port, credentials=rogue_trust) as distrustful:
        with pytest.raises(Unavailable):
            await distrustful.get_session("tls")


async def test_mutual_tls_requires_a_client_certificate_from_the_client_ca(start_server: StartServer, pki: Pki) -> None:
    service = await start_server(**tls_overrides(pki, mutual=True))
    async with tls_client(service.port, pki, pki.client) as c:
        await c.create_session(session_id="mtls")
    async with tls_client(service.port, pki) as anonymous:
        with pytest.raises(Unavailable):
            await anonymous.get_session("mtls")
    async with tls_client(service.port, pki, pki.rogue_client) as rogue:
        with pytest.raises(Unavailable):
            await rogue.get_session("mtls")


async def test_the_health_listener_answers_in_plaintext_and_serves_nothing_else(
    start_server: StartServer, pki: Pki
) -> None:
    service = await start_server(**tls_overrides(pki, mutual=True, health_listen="127.0.0.1:0"))
    assert service.health_listener is not None
    health_port = service.health_listener.port
    assert health_port not in (0, service.port)
    serving = health_pb2.HealthCheckResponse.SERVING
    assert await health_status(health_port) == serving
    assert await health_status(health_port, "sessiond.v1.SessionService") == serving
    # The same servicer as the main port's, which speaks TLS only.
    mtls = grpc.ssl_channel_credentials(pki.ca.cert_pem, pki.client.key_pem, pki.client.cert_pem)
    assert await health_status(service.port, "sessiond.v1.SessionService", mtls) == serving
    async with client(health_port) as c:
        with pytest.raises(SessiondError) as raised:
            await c.get_session("anything")
    assert raised.value.status == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as reflection:
        await asyncio.to_thread(services_by_reflection, health_port)
    assert isinstance(reflection.value, grpc.Call) and reflection.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize("with_auth", [False, True], ids=["no-auth", "auth"])
@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mtls"])
async def test_health_watch_works_over_tls_and_on_the_plaintext_health_listener(
    start_server: StartServer, pki: Pki, tokens_file: str, with_auth: bool, mutual: bool
) -> None:
    auth = {"auth_tokens_file": tokens_file} if with_auth else {}
    service = await start_server(**tls_overrides(pki, mutual=mutual, health_listen="127.0.0.1:0", **auth))
    assert service.health_listener is not None
    identity = pki.client if mutual else None
    tls = grpc.ssl_channel_credentials(
        pki.ca.cert_pem, identity.key_pem if identity else None, identity.cert_pem if identity else None
    )
    serving = health_pb2.HealthCheckResponse.SERVING
    for name in ("", "sessiond.v1.SessionService"):
        # Health needs no token, on either port.
        assert await health_status(service.port, name, tls, watch=True) == serving
        assert await health_status(service.health_listener.port, name, watch=True) == serving


async def test_the_health_listener_reports_the_drain(start_server: StartServer) -> None:
    service = await start_server(health_listen="127.0.0.1:0")
    assert service.health_listener is not None
    await service.health.enter_graceful_shutdown()
    assert await health_status(service.health_listener.port) == health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"tls_cert": "server.crt"}, r"SESSIOND_TLS_CERT\) is set but --tls-key"),
        ({"tls_key": "server.key"}, r"SESSIOND_TLS_KEY\) is set but --tls-cert"),
        ({"tls_client_ca": "ca"}, r"mutual TLS\) needs --tls-cert"),
        ({"tls_cert": "missing.crt", "tls_key": "server.key"}, r"cannot read .*missing\.crt: No such file"),
        ({"tls_cert": "server.key", "tls_key": "server.key"}, r"server\.key holds no PEM certificate"),
        ({"tls_cert": "server.crt", "tls_key": "server.crt"}, r"server\.crt holds no PEM private key"),
        ({"tls_cert": "server.crt", "tls_key": "rogue/client.key"}, r"do not go together: key values mismatch"),
        ({"tls_cert": "server.crt", "tls_key": "server.key", "tls_client_ca": "server.key"}, r"holds no PEM CA"),
    ],
)
async def test_tls_misconfiguration_stops_the_start_with_a_clear_error(
    start_server: StartServer, pki: Pki, files: dict[str, str], message: str
) -> None:
    directory = pki.server.cert_path.parent
    paths = {k: str(pki.ca.cert_path if v == "ca" else directory / v) for k, v in files.items()}
    with pytest.raises(OpsConfigError, match=message):
        server_credentials(paths.get("tls_cert", ""), paths.get("tls_key", ""), paths.get("tls_client_ca", ""))
    with pytest.raises(SystemExit, match=message):
        await start_server(**paths)


# --- authentication -----------------------------------------------------------------------

READER = "reader-token-0123456789abcdef"
WRITER = "writer-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef0"


@pytest.fixture
def tokens_file(tmp_path: Path) -> str:
    path = tmp_path / "tokens.json"
    path.write_text(
        json.dumps(
            {
                "tokens": [
                    {"name": "dashboard", "token": READER, "scopes": ["read"]},
                    {"name": "chatbot", "token": WRITER, "scopes": ["read", "write"]},
                    {"name": "operator", "token": ADMIN, "scopes": ["admin"]},
                ]
            }
        )
    )
    path.chmod(0o600)
    return str(path)


@pytest.fixture
async def auth_server(start_server: StartServer, tokens_file: str) -> Service:
    return await start_server(auth_tokens_file=tokens_file, metrics_listen="127.0.0.1:0")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """structlog writing JSON lines into a buffer for the test, then back as it was."""
    saved = structlog.get_config()
    buffer = io.StringIO()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=buffer),
        cache_logger_on_first_use=False,
    )
    yield buffer
    structlog.configure(**saved)


def log_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


def services_by_reflection(port: int) -> list[str]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return list(ProtoReflectionDescriptorDatabase(channel).get_services())


async def test_a_known_token_works_and_a_missing_or_unknown_one_is_unauthenticated(auth_server: Service) -> None:
    async with client(auth_server.port, token=WRITER) as c:
        await c.create_session(session_id="a1")
    async with client(auth_server.port, token=READER) as c:
        assert (await c.get_session("a1")).session_id == "a1"
    for token in (None, "not-a-known-token-at-all", READER + "x"):
        async with client(auth_server.port, token=token) as c:
            with pytest.raises(Unauthenticated) as raised:
                await c.get_session("a1")
        assert raised.value.status == grpc.StatusCode.UNAUTHENTICATED
        assert ("missing bearer token" if token is None else "unknown bearer token") in raised.value.message
    async with client(auth_server.port) as c:
        with pytest.raises(Unauthenticated, match="malformed authorization"):
            await c.get_session("a1", metadata=[("authorization", f"Basic {WRITER}")])


async def test_scopes_decide_what_a_caller_may_do(auth_server: Service) -> None:
    async with client(auth_server.port, token=WRITER) as writer:
        await writer.create_session(session_id="s1", options=["a", "b"])
        await writer.submit_choice("s1", "p1", "a")
        with pytest.raises(PermissionDenied) as denied_delete:
            await writer.delete_session("s1")
    assert "'admin' scope" in denied_delete.value.message
    async with client(auth_server.port, token=READER) as reader:
        assert len((await reader.list_sessions()).sessions) >= 1
        await reader.get_service_stats()
        with pytest.raises(PermissionDenied) as denied_choice:
            await reader.submit_choice("s1", "p2", "b")
        with pytest.raises(PermissionDenied):
            await reader.create_session(session_id="s2")
        with pytest.raises(NotFound):  # through auth: a read of PlayerService
            await reader.get_player_profile("nobody")
        with pytest.raises(PermissionDenied, match="'write' scope"):
            await reader.upsert_player_profile(pb.PlayerProfile(player_id="p1", display_name="P"))
    assert denied_choice.value.status == grpc.StatusCode.PERMISSION_DENIED
    assert "'write' scope" in denied_choice.value.message and "SubmitChoice" in denied_choice.value.message
    async with client(auth_server.port, token=ADMIN) as admin:
        await admin.submit_choice("s1", "p3", "b")  # admin implies write
        await admin.delete_session("s1")
        with pytest.raises(NotFound):
            await admin.get_session("s1")


async def test_a_watch_needs_a_read_token(auth_server: Service) -> None:
    async with client(auth_server.port, token=WRITER) as writer:
        await writer.create_session(session_id="w1")
    async with client(auth_server.port) as anonymous:
        with pytest.raises(Unauthenticated):
            async for _ in anonymous.watch("w1"):
                pass
    async with client(auth_server.port, token=READER) as reader:
        first = await anext(aiter(reader.watch("w1")))
    assert first.HasField("snapshot")


async def test_health_and_reflection_need_no_token(auth_server: Service) -> None:
    assert await health_status(auth_server.port) == health_pb2.HealthCheckResponse.SERVING
    assert await health_status(auth_server.port, "sessiond.v1.SessionService") == health_pb2.HealthCheckResponse.SERVING
    services = await asyncio.to_thread(services_by_reflection, auth_server.port)
    assert "sessiond.v1.SessionService" in services


async def test_refused_calls_are_counted(auth_server: Service) -> None:
    async with client(auth_server.port) as anonymous:
        with pytest.raises(Unauthenticated):
            await anonymous.get_session("x")
    async with client(auth_server.port, token=READER) as reader:
        with pytest.raises(PermissionDenied):
            await reader.create_session(session_id="x")
    samples = await scrape(auth_server)
    total = "sessiond_rpc_requests_total"
    assert value(samples, total, method=f"{SERVICE}GetSession", code="UNAUTHENTICATED") == 1
    assert value(samples, total, method=f"{SERVICE}CreateSession", code="PERMISSION_DENIED") == 1


async def test_logs_name_the_caller_and_never_the_token(auth_server: Service, json_logs: io.StringIO) -> None:
    async with client(auth_server.port, token=WRITER) as writer:
        await writer.create_session(session_id="l1")
        async for _ in writer.watch("l1"):
            break
    async with client(auth_server.port, token=READER) as reader:
        with pytest.raises(PermissionDenied):
            await reader.delete_session("l1")
    unknown = "unknown-token-that-must-not-be-logged"
    async with client(auth_server.port, token=unknown) as stranger:
        with pytest.raises(Unauthenticated):
            await stranger.get_session("l1")

    def calls() -> set[tuple[str, str | None]]:
        rpc_lines = [line for line in log_lines(json_logs) if line["event"] == "rpc"]
        return {(line["method"].rpartition("/")[2], line.get("caller")) for line in rpc_lines}

    # The watch's line is written once the server sees the client cancel it.
    for _ in range(100):
        if any(rpc == "WatchSession" for rpc, _ in calls()):
            break
        await asyncio.sleep(0.05)
    rpc = calls()
    lines = log_lines(json_logs)
    assert ("CreateSession", "chatbot") in rpc
    assert ("WatchSession", "chatbot") in rpc
    refused = [line for line in lines if line["event"] == "rpc refused"]
    assert {(r["status"], r["caller"]) for r in refused} == {
        ("PERMISSION_DENIED", "dashboard"),
        ("UNAUTHENTICATED", None),
    }
    text = json_logs.getvalue()
    for secret in (WRITER, READER, unknown):
        assert secret not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"cannot read .*tokens\.json: No such file"),
        ('{"tokens": [{"name": "", "token": "0123456789abcdef", "scopes": ["read"]}]}', r"name must be a non-empty"),
        ('{"tokens": [{"name": "x", "token": "0123456789abcdef", "scopes": ["root"]}]}', r"unknown scope 'root'"),
    ],
)
async def test_an_invalid_tokens_file_stops_the_start(
    start_server: StartServer, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "tokens.json"
    if content is not None:
        path.write_text(content)
        path.chmod(0o600)
    with pytest.raises(SystemExit, match=message):
        await start_server(auth_tokens_file=str(path))


async def test_a_tokens_file_others_may_read_stops_the_start(start_server: StartServer, tokens_file: str) -> None:
    os.chmod(tokens_file, 0o644)  # what umask 022 gives
    with pytest.raises(SystemExit, match=r"tokens\.json is readable by others \(mode 0644\).*chmod 600"):
        await start_server(auth_tokens_file=tokens_file)


async def test_without_a_tokens_file_auth_is_off_and_says_so(start_server: StartServer, json_logs: io.StringIO) -> None:
    service = await start_server()
    async with client(service.port) as c:
        await c.create_session(session_id="open")
    warnings = [line for line in log_lines(json_logs) if line["level"] == "warning"]
    assert any("authentication is off" in line["event"] for line in warnings)


async def test_the_readme_grpcurl_command_for_a_secured_server_works(
    start_server: StartServer, pki: Pki, tokens_file: str
) -> None:
    """The README's grpcurl line: mutual TLS, a client certificate and a bearer token."""
    service = await start_server(**tls_overrides(pki, mutual=True, auth_tokens_file=tokens_file))
    base = [grpcurl(), "-cacert", str(pki.ca.cert_path), "-cert", str(pki.client.cert_path)]
    base += ["-key", str(pki.client.key_path), "-servername", "localhost"]
    target = [f"127.0.0.1:{service.port}", "sessiond.v1.SessionService/GetServiceStats"]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *extra, *target], capture_output=True, text=True, timeout=30)

    allowed = await asyncio.to_thread(run, "-H", f"authorization: Bearer {READER}")
    assert allowed.returncode == 0 and '"store": "memory"' in allowed.stdout, allowed.stderr
    refused = await asyncio.to_thread(run)
    assert refused.returncode != 0 and "Unauthenticated" in refused.stderr


@pytest.mark.parametrize("package", ["grpc.reflection.v1", "grpc.reflection.v1alpha"])
async def test_reflection_answers_under_v1_and_v1alpha(server: Service, package: str) -> None:
    """grpcurl and grpc-go ask v1 first, older tools v1alpha: both list and describe."""
    from grpc_reflection.v1alpha import reflection_pb2 as rpb

    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        info = channel.stream_stream(
            f"/{package}.ServerReflection/ServerReflectionInfo",
            request_serializer=rpb.ServerReflectionRequest.SerializeToString,
            response_deserializer=rpb.ServerReflectionResponse.FromString,
        )
        requests = [
            rpb.ServerReflectionRequest(list_services=""),
            rpb.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
        ]
        listed, described = [r async for r in info(iter(requests))]
    names = {s.name for s in listed.list_services_response.service}
    assert {"sessiond.v1.SessionService", "grpc.reflection.v1.ServerReflection"} <= names
    assert described.file_descriptor_response.file_descriptor_proto, described.error_response


async def test_grpcurl_describes_reflection_v1_through_reflection(server: Service) -> None:
    argv = [grpcurl(), "-plaintext", f"127.0.0.1:{server.port}", "describe", "grpc.reflection.v1.ServerReflection"]
    done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "ServerReflectionInfo" in done.stdout
