"""Activity tiers: how recently a player acted, in turns or in time."""

from __future__ import annotations

from dataclasses import dataclass

from sessiond.core.models import PlayerEntry, Tier


@dataclass(frozen=True, slots=True)
class TierRules:
    """A player is ACTIVE within ``active_turns`` turns or ``active_seconds``, IDLE within
    the ``idle_*`` bounds, DORMANT otherwise."""

    active_turns: int = 2
    active_seconds: float = 15 * 60
    idle_turns: int = 5
    idle_seconds: float = 60 * 60


def tier_of(player: PlayerEntry, turn_number: int, now: float, rules: TierRules) -> Tier:
    turns_ago = turn_number - player.last_action_turn
    seconds_ago = now - player.last_action_time
    if turns_ago <= rules.active_turns or seconds_ago <= rules.active_seconds:
        return Tier.ACTIVE
    if turns_ago <= rules.idle_turns or seconds_ago <= rules.idle_seconds:
        return Tier.IDLE
    return Tier.DORMANT
