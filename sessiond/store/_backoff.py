"""The one backoff formula of the stores: exponential, capped, jittered."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, first: float, cap: float, jitter: float = 1.0) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry):
    ``first * 2**attempt``, at most ``cap``, times a random factor in ``[1 - jitter, 1]``
    so that racing callers do not retry in step."""
    grown: float = first * 2.0 ** min(attempt, 60)
    return min(cap, grown) * random.uniform(1.0 - jitter, 1.0)
