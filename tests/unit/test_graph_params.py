"""What the projection writes into the graph for a fact, checked without a graph: the
graph's copy of a record decodes to the record committed (the parameters are built from
the fact's own dicts, not from the decoded records encoded again)."""

from __future__ import annotations

import json

from sessiond.core import codec, facts
from sessiond.core.models import ChoiceEntry, CloseReason, Persistence, TieBreak, Turn
from sessiond.store.neo4j._params import parse
from tests.support import T0, make_session


def as_read(fact: dict[str, object]) -> dict[str, object]:
    """A fact as the projector gets it: through JSON, as the outbox stores it."""
    decoded: dict[str, object] = json.loads(json.dumps(fact))
    return decoded


def test_the_snapshot_of_a_session_fact_decodes_to_the_session() -> None:
    session = make_session("s1", T0, options=("left", "right"), session_state={"hp": 7, "bag": ["torch"]}, game_id="g")
    params = parse(as_read(facts.session_fact(session))).params
    stored = codec.session_from_dict(json.loads(params["record"]), legacy=Persistence.DURABLE)
    assert stored == session


def test_the_properties_of_a_turn_fact_decode_to_the_turn() -> None:
    turn = Turn(
        "s1", 3, ["a", "b"], [ChoiceEntry("p1", "a", T0 + 1.5, 1), ChoiceEntry("p2", "b", T0 + 2, 2)],
        [("a", 1), ("b", 1)], "a", True, TieBreak.SEEDED_RANDOM, 7, CloseReason.ALL_CHOSEN, T0, T0 + 2, "done",
    )  # fmt: skip
    params = parse(as_read(facts.turn_fact(turn, 5))).params
    node = params["turn"]
    assert "winner" not in node and "summary" not in node  # they follow the ordering rules
    read = node | {"choices": json.loads(node["choices"]), "tally": json.loads(node["tally"])}
    assert codec.turn_from_dict(read | {"winner": params["winner"], "summary": params["summary"]}) == turn
