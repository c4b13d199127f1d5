"""The gRPC service config that retries the methods the proto marks safe to repeat.

gRPC's own retry (gRFC A6) decides by method alone, so the config names the unary
methods marked NO_SIDE_EFFECTS or IDEMPOTENT; calls that only their request makes safe
(a request_id, an expected_state_version) are left to the caller. WatchSession is left
out: a watcher resumes with after_event_id, which a config cannot say.
``clients/service_config.json`` is this config for the default `RetryPolicy`
(written by scripts/gen_proto.py, for callers in any language to load as is).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sessiond_client._methods import Method
from sessiond_client._retry import RETRYABLE_CODES, RetryPolicy

CHANNEL_OPTION = "grpc.service_config"
"""The channel option (channel argument) that carries a service config as JSON text."""

MAX_ATTEMPTS = 5
"""gRPC caps a retryPolicy's maxAttempts at 5."""

MIN_BACKOFF = 0.01
"""Shorter backoffs are raised to this: with a backoff of about a millisecond, grpcio
1.85's retry sometimes never sends the retry and the call waits for its deadline
(grpc/grpc#41036)."""


def service_config(methods: Iterable[Method], policy: RetryPolicy) -> dict[str, Any]:
    """The service config retrying ``methods`` that are safe to repeat, as ``policy`` says.

    Returns:
        The config as a JSON-ready dict: one methodConfig with a retryPolicy, or none
        when the policy allows a single attempt (gRPC requires maxAttempts >= 2).
    """
    retried = sorted((m.service, m.name) for m in methods if m.safe_to_repeat and not m.server_streaming)
    names = [{"service": service, "method": name} for service, name in retried]
    if policy.max_attempts < 2 or not names:
        return {"methodConfig": []}
    retry_policy = {
        "maxAttempts": min(policy.max_attempts, MAX_ATTEMPTS),
        "initialBackoff": _duration(max(policy.initial_backoff, MIN_BACKOFF)),
        "maxBackoff": _duration(max(policy.max_backoff, MIN_BACKOFF)),
        "backoffMultiplier": policy.multiplier,
        "retryableStatusCodes": sorted(code.name for code in RETRYABLE_CODES),
    }
    return {"methodConfig": [{"name": names, "retryPolicy": retry_policy}]}


def _duration(seconds: float) -> str:
    """A google.protobuf.Duration in its JSON form, e.g. ``"0.1s"`` (never exponent notation)."""
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
