"""Player profiles and the content settings sessions inherit from them: checks and updates."""

from __future__ import annotations

from dataclasses import replace

from sessiond.core.errors import InvalidInput, StaleEtag
from sessiond.core.limits import Limits, check_map, check_text
from sessiond.core.models import ContentSettings, PlayerProfile

INTENSITIES = frozenset({"", "LOW", "MEDIUM", "HIGH"})
PACINGS = frozenset({"", "RELAXED", "STEADY", "BRISK"})
PROFILE_FIELDS = frozenset({"display_name", "preferences", "privacy", "content_settings"})


def check_content(field: str, c: ContentSettings, limits: Limits) -> ContentSettings:
    if c.intensity not in INTENSITIES:
        raise InvalidInput(f"{field}.intensity", f"unknown value {c.intensity!r}")
    if c.pacing not in PACINGS:
        raise InvalidInput(f"{field}.pacing", f"unknown value {c.pacing!r}")
    topics = c.topics_to_avoid
    if len(topics) > limits.max_topics:
        raise InvalidInput(f"{field}.topics_to_avoid", f"{len(topics)} topics; the limit is {limits.max_topics}")
    for topic in c.topics_to_avoid:
        check_text(f"{field}.topics_to_avoid", topic, limits.max_topic_chars, required=True)
    check_map(f"{field}.extensions", c.extensions, limits)
    return c


def check_profile(p: PlayerProfile, limits: Limits) -> PlayerProfile:
    check_text("profile.display_name", p.display_name, limits.max_display_name_chars)
    check_map("profile.preferences", p.preferences, limits)
    check_content("profile.content_settings", p.content, limits)
    return p


def upsert(
    stored: PlayerProfile | None, incoming: PlayerProfile, mask: frozenset[str], etag: str
) -> PlayerProfile:
    """The profile after an upsert: ``incoming``'s fields named by ``mask`` (all when
    empty) over ``stored``. Bookkeeping (times, revision) is the store's."""
    unknown = mask - PROFILE_FIELDS
    if unknown:
        raise InvalidInput("update_mask", f"unknown paths {sorted(unknown)}; use {sorted(PROFILE_FIELDS)}")
    if etag and (stored is None or etag != stored.etag):
        current = stored.etag if stored else "no profile"
        raise StaleEtag(f"etag {etag!r} is stale: the profile of {incoming.player_id!r} is at {current!r}")
    base = stored if stored is not None else PlayerProfile(incoming.player_id)
    paths = mask or PROFILE_FIELDS
    updated = replace(base)
    if "display_name" in paths:
        updated.display_name = incoming.display_name
    if "preferences" in paths:
        updated.preferences = dict(incoming.preferences)
    if "privacy" in paths:
        updated.hide_from_recommendations = incoming.hide_from_recommendations
        updated.hide_from_departed_rosters = incoming.hide_from_departed_rosters
    if "content_settings" in paths:
        updated.content = replace(
            incoming.content,
            topics_to_avoid=list(incoming.content.topics_to_avoid),
            extensions=dict(incoming.content.extensions),
        )
    return updated
