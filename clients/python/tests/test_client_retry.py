"""Backoff bounds, retry classification and deadline, error mapping: no server needed."""

from __future__ import annotations

import time

import grpc
import pytest

import sessiond_client as sc
from sessiond_client._call_errors import ERROR_OF, error_from_rpc
from sessiond_client._retry import RetryPolicy, call_with_retry, is_retryable

FAST = RetryPolicy(initial_backoff=0.001, max_backoff=0.004)


def rpc_error(code: grpc.StatusCode, details: str = "boom") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class Attempts:
    """An attempt function failing with the given codes, then returning "ok"."""

    def __init__(self, *codes: grpc.StatusCode) -> None:
        self.codes = list(codes)
        self.timeouts: list[float | None] = []

    async def __call__(self, timeout: float | None) -> str:
        self.timeouts.append(timeout)
        if self.codes:
            raise rpc_error(self.codes.pop(0))
        return "ok"


# Backoff


@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999999])
def test_backoff_grows_then_is_capped_and_jittered_downwards(rand: float) -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=2.0, multiplier=2.0, jitter=0.2)
    for retry in range(1, 50):
        plain = min(2.0, 0.1 * 2.0 ** (retry - 1))
        delay = policy.backoff(retry, rand=lambda: rand)
        assert 0.8 * plain - 1e-12 <= delay <= plain
        assert delay <= policy.max_backoff


def test_backoff_without_jitter_is_exact() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0, multiplier=3.0, jitter=0.0)
    assert [round(policy.backoff(n), 6) for n in range(1, 5)] == [0.1, 0.3, 0.9, 1.0]


def test_backoff_survives_huge_retry_numbers() -> None:
    assert RetryPolicy(multiplier=10.0, jitter=0.0).backoff(100_000) == 2.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_backoff": 0.0},
        {"initial_backoff": 3.0, "max_backoff": 2.0},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"jitter": -0.1},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# Classification


@pytest.mark.parametrize("code", list(grpc.StatusCode))
def test_only_unavailable_is_retryable(code: grpc.StatusCode) -> None:
    assert is_retryable(rpc_error(code)) is (code is grpc.StatusCode.UNAVAILABLE)


async def test_unavailable_is_retried_until_success() -> None:
    attempts = Attempts(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE)
    assert await call_with_retry(attempts, policy=FAST, idempotent=True, timeout=5.0) == "ok"
    assert len(attempts.timeouts) == 3


async def test_attempts_are_bounded_by_max_attempts() -> None:
    attempts = Attempts(*[grpc.StatusCode.UNAVAILABLE] * 10)
    with pytest.raises(grpc.aio.AioRpcError):
        await call_with_retry(attempts, policy=FAST, idempotent=True, timeout=5.0)
    assert len(attempts.timeouts) == FAST.max_attempts


async def test_calls_unsafe_to_repeat_are_tried_once() -> None:
    attempts = Attempts(grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(grpc.aio.AioRpcError):
        await call_with_retry(attempts, policy=FAST, idempotent=False, timeout=5.0)
    assert len(attempts.timeouts) == 1


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ABORTED, grpc.StatusCode.DEADLINE_EXCEEDED]
)
async def test_other_codes_are_not_retried(code: grpc.StatusCode) -> None:
    attempts = Attempts(code)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call_with_retry(attempts, policy=FAST, idempotent=True, timeout=5.0)
    assert caught.value.code() is code
    assert len(attempts.timeouts) == 1


async def test_no_retry_past_the_deadline() -> None:
    slow = RetryPolicy(initial_backoff=1.0, max_backoff=1.0, jitter=0.0)
    attempts = Attempts(grpc.StatusCode.UNAVAILABLE)
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError):
        await call_with_retry(attempts, policy=slow, idempotent=True, timeout=0.5)
    assert time.monotonic() - started < 0.5
    assert len(attempts.timeouts) == 1


async def test_each_attempt_gets_the_time_left() -> None:
    attempts = Attempts(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE)
    await call_with_retry(attempts, policy=FAST, idempotent=True, timeout=5.0)
    timeouts = [t for t in attempts.timeouts if t is not None]
    assert len(timeouts) == 3
    assert timeouts == sorted(timeouts, reverse=True)
    assert all(0 < t <= 5.0 for t in timeouts)


async def test_no_timeout_means_no_deadline() -> None:
    attempts = Attempts(grpc.StatusCode.UNAVAILABLE)
    await call_with_retry(attempts, policy=FAST, idempotent=True, timeout=None)
    assert attempts.timeouts == [None, None]


# Errors


@pytest.mark.parametrize(("code", "cls"), list(ERROR_OF.items()))
def test_each_status_has_its_error(code: grpc.StatusCode, cls: type[sc.SessiondError]) -> None:
    error = error_from_rpc(rpc_error(code, "session s1 not here"), "GetSession")
    assert type(error) is cls
    assert isinstance(error, sc.SessiondError)
    assert (error.status, error.message, error.method) == (code, "session s1 not here", "GetSession")
    assert str(error) == f"GetSession: {code.name}: session s1 not here"


def test_other_codes_give_the_root_error() -> None:
    error = error_from_rpc(rpc_error(grpc.StatusCode.INTERNAL, "bug"), "ListTurns")
    assert type(error) is sc.SessiondError
    assert error.status is grpc.StatusCode.INTERNAL


def test_error_table_covers_the_public_errors() -> None:
    public = {getattr(sc, n) for n in sc.__all__ if n[0].isupper()}
    public = {c for c in public if isinstance(c, type) and issubclass(c, sc.SessiondError)}
    assert set(ERROR_OF.values()) == public - {sc.SessiondError}
