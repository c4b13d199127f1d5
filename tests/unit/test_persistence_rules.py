"""The pure rules of persistence: which kind a new session gets, which facts it yields,
how far the graph has it, and how records older than the field read."""

from __future__ import annotations

import pytest

from sessiond.core import codec, facts
from sessiond.core.errors import InvalidInput
from sessiond.core.lifecycle import resolve_persistence
from sessiond.core.models import Persistence
from sessiond.store.redis import _packing as rc
from tests.support import T0, make_session

DURABLE, EPHEMERAL = Persistence.DURABLE, Persistence.EPHEMERAL


def test_unset_takes_the_store_default_and_durable_needs_a_graph() -> None:
    assert resolve_persistence(None, "redis+neo4j", graph=True) is DURABLE
    assert resolve_persistence(None, "redis", graph=False) is EPHEMERAL
    assert resolve_persistence(EPHEMERAL, "redis+neo4j", graph=True) is EPHEMERAL
    with pytest.raises(InvalidInput) as refused:
        resolve_persistence(DURABLE, "redis", graph=False)
    assert refused.value.field == "settings.persistence" and "store is redis" in refused.value.message


def test_an_ephemeral_session_yields_no_fact() -> None:
    durable = make_session("d", T0, persistence=DURABLE)
    ephemeral = make_session("e", T0, persistence=EPHEMERAL)
    assert [f["kind"] for f in facts.facts_of_create(durable)] == [facts.SESSION]
    assert [f["kind"] for f in facts.facts_of_delete(durable)] == [facts.SESSION_DELETED]
    assert facts.facts_of_create(ephemeral) == facts.facts_of_delete(ephemeral) == []
    assert facts.facts_of_commit(ephemeral, None, None, after_event_id=0) == []


def test_the_graph_has_a_session_as_of_the_event_before_its_oldest_pending_fact() -> None:
    s = make_session("d", T0, persistence=DURABLE)
    s.last_event_id = 9
    assert facts.projected_event_id(s, 0, None) == 9  # nothing pending: all of it
    assert facts.projected_event_id(s, 2, facts.session_fact(s, after_event_id=7)) == 7
    assert facts.projected_event_id(s, 1, {"kind": facts.TURN}) == 0  # says nothing: the safe answer
    assert facts.projected_event_id(s, 1, None) == 0  # did not decode


@pytest.mark.parametrize("legacy", list(Persistence))
def test_a_record_older_than_the_field_reads_as_the_stores_default(legacy: Persistence) -> None:
    old = codec.session_to_dict(make_session("s1", T0))
    del old["settings"]["persistence"]
    assert codec.session_from_dict(old, legacy=legacy).settings.persistence is legacy
    stored = rc.pack(rc.dumps(old))
    assert rc.decode_session(stored, legacy).settings.persistence is legacy
    # A record that has it keeps it, whatever the default.
    kept = codec.session_to_dict(make_session("s2", T0, persistence=EPHEMERAL))
    assert codec.session_from_dict(kept, legacy=DURABLE).settings.persistence is EPHEMERAL
