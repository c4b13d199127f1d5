"""Retry policy: exponential backoff with jitter, on UNAVAILABLE only, within the call's deadline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

T = TypeVar("T")

# Only UNAVAILABLE says "the server did not get to it, or went away": any other
# code is the server's answer to the request and would be the same again.
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How calls are retried when the server is unavailable.

    The delay before retry ``n`` (1 for the first retry) is
    ``min(max_backoff, initial_backoff * multiplier ** (n - 1))``, shortened by
    a random fraction of up to ``jitter`` so that clients cut off together do
    not come back together. It never exceeds ``max_backoff``.

    Attributes:
        max_attempts: Attempts of a unary call in all, the first included; 1
            turns retries off. Watches reconnect under their own limit
            (``max_reconnects``) but use the same delays.
        initial_backoff: Seconds before the first retry.
        max_backoff: Upper bound of any delay, in seconds.
        multiplier: Growth of the delay from one retry to the next.
        jitter: Fraction (0 to 1) of the delay that is randomised.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if not 0 < self.initial_backoff <= self.max_backoff:
            raise ValueError("need 0 < initial_backoff <= max_backoff")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, not {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, not {self.jitter}")

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before a retry.

        Args:
            retry: Which retry this is, 1 for the first.
            rand: Source of uniform numbers in [0, 1).

        Returns:
            A delay in ``[(1 - jitter) * d, d]`` where ``d`` is the capped
            exponential delay.
        """
        try:
            delay = min(self.max_backoff, self.initial_backoff * self.multiplier ** max(retry - 1, 0))
        except OverflowError:
            delay = self.max_backoff
        return delay * (1.0 - self.jitter * rand())


def is_retryable(err: grpc.aio.AioRpcError) -> bool:
    """Whether a failed attempt may be tried again (if the call is safe to repeat)."""
    return err.code() in RETRYABLE_CODES


async def call_with_retry(
    attempt: Callable[[float | None], Awaitable[T]],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    timeout: float | None,
    settled: Callable[[grpc.aio.AioRpcError], T | None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the deadline is near.

    Args:
        attempt: Makes one attempt; takes the seconds left until the deadline
            (None for no deadline) to use as that attempt's timeout.
        policy: Delays and the number of attempts.
        idempotent: False makes exactly one attempt: the call is not safe to
            repeat, or gRPC's own retry repeats it (see `_service_config`).
        timeout: Seconds for all attempts and the waits between them together.
        settled: Given the error of a retry (not of the first attempt), the result
            to end with when that error means an earlier attempt already did the
            work (None: it does not).

    Returns:
        The result of the first successful attempt.

    Raises:
        grpc.aio.AioRpcError: The last attempt's error, when it is not
            retryable, attempts are used up, or the next wait would end past
            the deadline.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    attempts = policy.max_attempts if idempotent else 1
    retry = 0
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        try:
            return await attempt(remaining)
        except grpc.aio.AioRpcError as err:
            done = settled(err) if settled is not None and retry > 0 else None
            if done is not None:
                return done
            retry += 1
            if retry >= attempts or not is_retryable(err):
                raise
            delay = policy.backoff(retry)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise
        await asyncio.sleep(delay)
