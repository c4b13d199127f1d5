"""Operations features of the daemon: Prometheus metrics, TLS, a plaintext health
listener for probes, and bearer-token authentication. Each module has one job;
sessiond/server.py wires them."""

from sessiond.ops.auth import Authorizer, load_auth
from sessiond.ops.config_error import OpsConfigError
from sessiond.ops.health_listener import HealthListener
from sessiond.ops.metrics import GaugeFigures, ServerMetrics
from sessiond.ops.metrics_http import MetricsListener
from sessiond.ops.scopes import ScopeTable
from sessiond.ops.tls import server_credentials, server_ssl_context
from sessiond.ops.tokens import Caller, Scope, TokenRegistry, load_tokens, parse_tokens

__all__ = [
    "Authorizer",
    "Caller",
    "GaugeFigures",
    "HealthListener",
    "MetricsListener",
    "OpsConfigError",
    "Scope",
    "ScopeTable",
    "ServerMetrics",
    "TokenRegistry",
    "load_auth",
    "load_tokens",
    "parse_tokens",
    "server_credentials",
    "server_ssl_context",
]
