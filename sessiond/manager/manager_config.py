"""Settings of the manager, built once by the runtime from flags and environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from sessiond.core.lifecycle import Defaults
from sessiond.core.limits import Limits
from sessiond.core.tiers import TierRules


@dataclass(frozen=True, slots=True)
class ManagerConfig:
    limits: Limits = field(default_factory=Limits)
    tiers: TierRules = field(default_factory=TierRules)
    defaults: Defaults = field(default_factory=Defaults)
    max_sessions: int = 10_000
    # Safety-net sweep of the deadline index; timers give the precision.
    sweep_interval: float = 1.0
    janitor_interval: float = 30.0
    # How long an EXPIRED or idle ENDED session stays readable before it is freed.
    expired_retention: float = 3600.0
    # Events a watcher may lag behind before it is dropped (and resumes).
    watch_queue_size: int = 1000
    tick_interval: float = 1.0
    # Resolved turns a hot store keeps per session (ListTurns says how far back it reaches).
    history_turns: int = 50
    # How long a replica's presence leases outlive its last renewal (renewed every third).
    presence_lease: float = 10.0
