"""The tokens file (parsing, validation, lookup) and the method -> scope table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sessiond.ops import OpsConfigError, Scope, ScopeTable, load_tokens, parse_tokens
from sessiond.ops.scopes import scope_of, sessiond_methods
from sessiond.ops.tokens import check_private

READER = "r3ad-only-t0ken-aaaaaaaaaaaa"
WRITER = "wr1te-t0ken-bbbbbbbbbbbbbbbb"
ADMIN = "adm1n-t0ken-cccccccccccccccc"


def tokens_json(*entries: dict[str, Any]) -> str:
    return json.dumps({"tokens": list(entries)})


def entry(name: str = "bot", token: str = WRITER, scopes: Any = ("write",), **extra: Any) -> dict[str, Any]:
    return {"name": name, "token": token, "scopes": list(scopes) if isinstance(scopes, tuple) else scopes, **extra}


GOOD = tokens_json(
    entry("reader", READER, ("read",)),
    entry("chatbot", WRITER, ("read", "write")),
    entry("ops", ADMIN, ("admin",)),
)


# --- parsing and lookup -------------------------------------------------------------------


def test_a_valid_file_maps_each_token_to_its_caller() -> None:
    tokens = parse_tokens(GOOD)
    assert len(tokens) == 3
    assert tokens.names == ["chatbot", "ops", "reader"]
    reader, writer, admin = (tokens.authenticate(t) for t in (READER, WRITER, ADMIN))
    assert reader is not None and reader.name == "reader" and reader.scopes == {Scope.READ}
    assert writer is not None and writer.name == "chatbot" and writer.scopes == {Scope.READ, Scope.WRITE}
    assert admin is not None and admin.name == "ops"


def test_unknown_and_near_miss_tokens_are_not_callers() -> None:
    tokens = parse_tokens(GOOD)
    for token in ("", "nope", READER[:-1], READER + "x", READER.upper(), f" {READER}"):
        assert tokens.authenticate(token) is None


def test_the_token_is_not_kept_nor_shown() -> None:
    caller = parse_tokens(GOOD).authenticate(ADMIN)
    assert caller is not None
    assert ADMIN not in repr(caller) and caller.digest.hex() not in repr(caller)
    assert ADMIN.encode() != caller.digest


@pytest.mark.parametrize(
    ("granted", "allowed"),
    [
        ({Scope.READ}, {Scope.READ}),
        ({Scope.WRITE}, {Scope.READ, Scope.WRITE}),
        ({Scope.ADMIN}, {Scope.READ, Scope.WRITE, Scope.ADMIN}),
        ({Scope.READ, Scope.ADMIN}, {Scope.READ, Scope.WRITE, Scope.ADMIN}),
    ],
)
def test_admin_implies_write_implies_read(granted: set[Scope], allowed: set[Scope]) -> None:
    text = tokens_json(entry("x", ADMIN, tuple(s.label for s in granted)))
    caller = parse_tokens(text).authenticate(ADMIN)
    assert caller is not None
    assert {s for s in Scope if caller.allows(s)} == allowed


def test_load_tokens_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(GOOD)
    path.chmod(0o600)
    assert load_tokens(str(path)).names == ["chatbot", "ops", "reader"]


@pytest.mark.parametrize(("mode", "who"), [(0o644, "others"), (0o604, "others"), (0o640, "its group")])
def test_a_tokens_file_others_may_read_is_refused(tmp_path: Path, mode: int, who: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(GOOD)
    path.chmod(mode)
    refused = rf"SESSIOND_AUTH_TOKENS_FILE.*readable by {who} \(mode 0{mode:o}\).*chmod 600"
    with pytest.raises(OpsConfigError, match=refused):
        load_tokens(str(path))


def test_a_group_readable_tokens_file_of_another_owner_is_read(tmp_path: Path) -> None:
    """A Kubernetes Secret: owned by root, mode 0440, read through the pod's fsGroup."""
    path = tmp_path / "tokens.json"
    path.write_text(GOOD)
    path.chmod(0o440)
    st = os.stat(path)
    check_private(os.stat_result((st.st_mode, *st[1:4], st.st_uid + 1, *st[5:])), str(path))


@pytest.mark.parametrize("make", ["missing", "directory", "binary"])
def test_an_unreadable_file_is_a_clear_error(tmp_path: Path, make: str) -> None:
    path = tmp_path / "tokens.json"
    if make == "directory":
        path.mkdir()
    elif make == "binary":
        path.write_bytes(b"\xff\xfe\x00")
        path.chmod(0o600)
    with pytest.raises(OpsConfigError, match=r"SESSIOND_AUTH_TOKENS_FILE.*cannot read .*tokens\.json"):
        load_tokens(str(path))


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", r"not JSON: .* line 1 column 2"),
        ("[]", r"expected \{\"tokens\""),
        ('{"tokens": {}}', r"expected \{\"tokens\""),
        ('{"tokens": [], "extra": 1}', r"expected \{\"tokens\""),
        ('{"tokens": []}', r"no tokens"),
        (tokens_json("bot"), r"tokens\[0\]: expected an object"),
        (tokens_json(entry(name="")), r"tokens\[0\]: name must be a non-empty string"),
        (tokens_json(entry(name="   ")), r"tokens\[0\]: name must be a non-empty string"),
        (tokens_json(entry(name=7)), r"tokens\[0\]: name must be a non-empty string"),
        (tokens_json(entry(name=" bot")), r"name must be printable, without surrounding spaces"),
        (tokens_json({"name": "bot", "scopes": ["read"]}), r"\('bot'\): token must be a non-empty string"),
        (tokens_json(entry(token="")), r"token must be a non-empty string"),
        (tokens_json(entry(token="has a space in it here")), r"printable ASCII without spaces"),
        (tokens_json(entry(token="short")), r"shorter than 16 characters"),
        (tokens_json(entry(scopes=())), r"scopes must be a non-empty list"),
        (tokens_json(entry(scopes="read")), r"scopes must be a non-empty list"),
        (tokens_json(entry(scopes=None)), r"scopes must be a non-empty list"),
        (tokens_json(entry(scopes=("read", "superuser"))), r"\('bot'\): unknown scope 'superuser'; scopes are read"),
        (tokens_json(entry(scopes=("READ",))), r"unknown scope 'READ'"),
        (tokens_json(entry(scopes=(1,))), r"unknown scope 1"),
        (tokens_json(entry(scope=["read"])), r"unknown keys \['scope'\]"),
        (tokens_json(entry("a", READER), entry("a", WRITER)), r"tokens\[0\] and tokens\[1\] are both named 'a'"),
        (
            tokens_json(entry("a", READER), entry("b", WRITER), entry("c", READER)),
            r"tokens\[0\] \('a'\) and tokens\[2\] \('c'\) have the same token",
        ),
    ],
)
def test_an_invalid_file_is_refused_with_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(OpsConfigError, match=message) as raised:
        parse_tokens(text, source="/etc/sessiond/auth/tokens.json")
    assert str(raised.value).startswith("--auth-tokens-file (SESSIOND_AUTH_TOKENS_FILE): /etc/sessiond/auth/tokens")


def test_errors_never_quote_a_token() -> None:
    secret = "s3cret-t0ken-that-must-not-leak"
    for text in (
        tokens_json(entry("a", secret), entry("b", secret)),
        tokens_json(entry("a", secret, ("root",))),
        tokens_json(entry("", secret)),
    ):
        with pytest.raises(OpsConfigError) as raised:
            parse_tokens(text)
        assert secret not in str(raised.value)


# --- the scope table ----------------------------------------------------------------------

SERVICE = "/sessiond.v1.SessionService/"


@pytest.mark.parametrize(
    ("rpc", "scope"),
    [
        ("GetSession", Scope.READ),
        ("ListSessions", Scope.READ),
        ("ListPlayers", Scope.READ),
        ("ListTurns", Scope.READ),
        ("WatchSession", Scope.READ),
        ("GetServiceStats", Scope.READ),
        ("GetPlayerProfile", Scope.READ),
        ("GetPlayerDashboard", Scope.READ),
        ("ListGames", Scope.READ),
        ("CreateSession", Scope.WRITE),
        ("PauseSession", Scope.WRITE),
        ("ResumeSession", Scope.WRITE),
        ("EndSession", Scope.WRITE),
        ("UpdateSessionState", Scope.WRITE),
        ("ResetSessionState", Scope.WRITE),
        ("JoinSession", Scope.WRITE),
        ("LeaveSession", Scope.WRITE),
        ("SubmitChoice", Scope.WRITE),
        ("SetTurnSummary", Scope.WRITE),
        ("SetTurnOptions", Scope.WRITE),
        ("DeleteSession", Scope.ADMIN),
        # Only whole words: a verb that merely starts like a read is a write.
        ("Getaway", Scope.WRITE),
        ("Listen", Scope.WRITE),
        ("WatchSessions", Scope.WRITE),
    ],
)
def test_scope_of_follows_the_naming_rules(rpc: str, scope: Scope) -> None:
    assert scope_of(rpc) == scope


def test_the_table_knows_every_method_of_the_protos() -> None:
    methods = sessiond_methods()
    assert f"{SERVICE}GetSession" in methods and f"{SERVICE}WatchSession" in methods
    table = ScopeTable()
    assert [m for m, _ in table.items()] == sorted(methods)
    assert table.required(f"{SERVICE}GetSession") == Scope.READ
    assert table.required(f"{SERVICE}SubmitChoice") == Scope.WRITE
    assert table.required(f"{SERVICE}DeleteSession") == Scope.ADMIN


@pytest.mark.parametrize(
    ("method", "scope"),
    [
        ("/sessiond.v1.PlayerService/GetPlayerProfile", Scope.READ),
        ("/sessiond.v1.PlayerService/GetPlayerDashboard", Scope.READ),
        ("/sessiond.v1.PlayerService/UpsertPlayerProfile", Scope.WRITE),
        (f"{SERVICE}ListGames", Scope.READ),
        (f"{SERVICE}SwapGame", Scope.WRITE),
        (f"{SERVICE}SetGameMaster", Scope.WRITE),
    ],
)
def test_every_service_of_the_package_is_in_the_table(method: str, scope: Scope) -> None:
    assert method in sessiond_methods()
    assert ScopeTable().required(method) == scope


@pytest.mark.parametrize(
    "method",
    [
        f"{SERVICE}GetSomethingNew",  # not in the protos the table was built from: fail closed
        "/sessiond.v1.NewService/ListThings",
        "/sessiond.v2.SessionService/GetSession",
        "/other.Service/Method",
        "/grpc.healthz/Check",
    ],
)
def test_unknown_methods_need_admin(method: str) -> None:
    assert ScopeTable([f"{SERVICE}GetSession"]).required(method) == Scope.ADMIN


@pytest.mark.parametrize(
    "method",
    [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ],
)
def test_health_and_reflection_are_public(method: str) -> None:
    assert ScopeTable().required(method) is None


def test_methods_outside_sessiond_v1_are_not_taken_into_the_table() -> None:
    table = ScopeTable(["/other.Service/GetThing"])
    assert table.items() == []
    assert table.required("/other.Service/GetThing") == Scope.ADMIN
