"""The /metrics HTTP listener: a registry in Prometheus text format, on a port of its own.

It runs prometheus_client's threaded WSGI server on a daemon thread, so a scrape never
waits for the event loop and a busy loop never delays a scrape.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from sessiond.ops.config_error import OpsConfigError

METRICS_PATH = "/metrics"
SETTING = "--metrics-listen (SESSIOND_METRICS_LISTEN)"
POLL_INTERVAL = 0.1


def split_host_port(address: str, setting: str = SETTING) -> tuple[str, int]:
    """Split a listen address such as ``0.0.0.0:9464``, ``[::]:9464`` or ``:9464``.

    Args:
        address: The address; port 0 picks a free port.
        setting: The setting it came from, for the error message.

    Returns:
        The host (``0.0.0.0`` when empty, IPv6 brackets removed) and the port.

    Raises:
        OpsConfigError: The address is not HOST:PORT.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise OpsConfigError(f"{setting} must be HOST:PORT, got {address!r}")
    return host.removeprefix("[").removesuffix("]") or "0.0.0.0", int(port)


class _QuietHandler(WSGIRequestHandler):
    """No access log line per scrape on stderr (the service logs JSON there)."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _only_metrics(app: WSGIApplication) -> WSGIApplication:
    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        if environ.get("PATH_INFO") != METRICS_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"not found; metrics are at {METRICS_PATH}\n".encode()]
        return app(environ, start_response)

    return serve


class MetricsListener:
    """Serves ``GET /metrics`` of ``registry`` at ``address`` (HOST:PORT); 404 elsewhere.

    Args:
        registry: The registry to expose.
        address: Where to listen; port 0 picks a free port (see `port`).

    Raises:
        OpsConfigError: ``address`` is not HOST:PORT.
    """

    def __init__(self, registry: CollectorRegistry, address: str) -> None:
        self._registry = registry
        self.address = address
        self._host, self._port = split_host_port(address)
        self._httpd: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one picked, for port 0); 0 before `start`."""
        return int(self._httpd.server_address[1]) if self._httpd is not None else 0

    def start(self) -> int:
        """Bind and serve on a daemon thread.

        Returns:
            The port listened on.

        Raises:
            OpsConfigError: The address cannot be bound (in use, not local, ...).
        """
        app = _only_metrics(make_wsgi_app(self._registry))

        class Server(ThreadingWSGIServer):
            """The WSGI server, for the address family of the host (IPv4 or IPv6)."""

        try:
            family, _, _, _, sockaddr = socket.getaddrinfo(
                self._host, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
            Server.address_family = family
            self._httpd = make_server(str(sockaddr[0]), self._port, app, Server, handler_class=_QuietHandler)
        except OSError as exc:
            raise OpsConfigError(f"cannot listen on {self.address} for metrics ({SETTING}): {exc}") from exc
        # stop() waits up to one poll interval; the default half second would slow every drain.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(POLL_INTERVAL,), name="metrics-http", daemon=True
        )
        self._thread.start()
        return self.port

    async def stop(self) -> None:
        """Stop serving and close the socket."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        # shutdown() blocks until serve_forever's next poll: off the event loop.
        await asyncio.to_thread(httpd.shutdown)
        httpd.server_close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
            self._thread = None
