"""A plaintext gRPC listener that serves grpc.health.v1.Health and nothing else.

With TLS on the main port the kubelet's native gRPC probes cannot connect (they do not
speak TLS), so the probes go here. It shares the main server's HealthServicer, so it
reports exactly what the main port does, NOT_SERVING during a drain included.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from sessiond.ops.config_error import OpsConfigError

SETTING = "--health-listen (SESSIOND_HEALTH_LISTEN)"


class HealthListener:
    """A second ``grpc.aio`` server with only the health service, in plaintext.

    Args:
        health: The main server's health servicer (shared, not copied).
        address: HOST:PORT to listen on; port 0 picks a free port.
    """

    def __init__(self, health: health_aio.HealthServicer, address: str) -> None:
        self.address = address
        self.port = 0
        self._server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health, self._server)  # type: ignore[no-untyped-call]

    def bind(self) -> int:
        """Take the port without serving yet, so a bad address fails before anything starts.

        Returns:
            The port listened on.

        Raises:
            OpsConfigError: The address cannot be bound.
        """
        if not self.port:
            try:
                self.port = self._server.add_insecure_port(self.address)
            except RuntimeError as exc:
                raise OpsConfigError(f"cannot listen on {self.address} for health checks ({SETTING}): {exc}") from exc
        return self.port

    async def start(self) -> int:
        """Serve (binding first if `bind` was not called).

        Returns:
            The port listened on.

        Raises:
            OpsConfigError: The address cannot be bound.
        """
        self.bind()
        await self._server.start()
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Stop serving; health checks in flight get ``grace`` seconds."""
        await self._server.stop(grace)
