"""Records are stored as the JSON the previous encoder (json.dumps of codec's asdict dicts)
wrote, byte for byte, so older replicas read them; GetSession's serialized answers are
rebuilt whenever the session's revision moves."""

from __future__ import annotations

import json
from dataclasses import replace

from sessiond_client import pb

from sessiond.api.serialized import SerializedCache
from sessiond.core import codec
from sessiond.core.lifecycle import Defaults, SessionSpec, new_session
from sessiond.core.limits import Limits
from sessiond.core.models import ChoiceEntry, PlayerEntry, Session, Window
from sessiond.core.requests import RequestMemo
from sessiond.store.redis import _packing as rc


def a_session(state: dict[str, object] | None = None) -> Session:
    state = state or {"scene": "harbour é ✓", "hp": [1, 2.5, None, True], "deep": {"a": {"b": 0.1}}}
    spec = SessionSpec(game_id="g", title="T", session_state=state)
    session = new_session("s1", spec, 1760000000.123456, Defaults(), Limits())
    session.roster = {f"p{i}": PlayerEntry(f"p{i}", f"P {i}", 1760000000.5, 1760000001.25, 1, 0, 0) for i in range(4)}
    session.window = Window(1, 1760000000.5, 1760003600.5, "p0", {"p0": ChoiceEntry("p0", "left", 1760000000.5, 1)}, 2)
    session.requests = {"r1": RequestMemo("f" * 16, 1760000000.5, 3, 4, {"turn_number": 1, "opened": True})}
    return session


def test_a_session_record_is_the_json_the_previous_encoder_wrote() -> None:
    session = a_session()
    previous = json.dumps(codec.session_to_dict(session), separators=(",", ":"), ensure_ascii=False).encode()
    stored = rc.encode_session(session, compress=False)
    assert stored == previous
    assert rc.decode_session(rc.encode_session(session), session.settings.persistence) == session


def test_exponent_floats_are_written_shorter_and_read_back_the_same() -> None:
    session = a_session({"big": 1e300, "small": -2.5e-10})
    previous = json.dumps(codec.session_to_dict(session), separators=(",", ":"), ensure_ascii=False)
    stored = rc.encode_session(session, compress=False)
    assert b'"big":1e300' in stored and '"big":1e+300' in previous  # "1e+300" before: the same number
    assert json.loads(stored) == json.loads(previous)


def test_serialized_answers_are_rebuilt_when_the_version_moves() -> None:
    cache, built = SerializedCache(2), []

    def build(title: str) -> pb.Session:
        built.append(title)
        return pb.Session(title=title)

    assert cache.get("s1", 1, lambda: build("one")) == pb.Session(title="one").SerializeToString()
    assert cache.get("s1", 1, lambda: build("again")) == pb.Session(title="one").SerializeToString()
    assert cache.get("s1", 2, lambda: build("two")) == pb.Session(title="two").SerializeToString()
    assert built == ["one", "two"]
    cache.get("s2", 1, lambda: build("s2"))
    cache.get("s3", 1, lambda: build("s3"))  # over size: s1, the oldest, goes
    cache.get("s1", 2, lambda: build("two again"))
    assert built[-1] == "two again"


def test_a_session_changed_by_any_commit_has_another_version() -> None:
    session = a_session()
    assert replace(session, revision=session.revision + 1).revision != session.revision
