"""Bearer tokens and their scopes, from the JSON file mounted from a Secret.

The file::

    {"tokens": [{"name": "chatbot", "token": "...", "scopes": ["read", "write"]}]}

A name says who calls (it goes into logs); the token is the secret (it never does, and
it is not kept: only its SHA-256 digest is). Scopes are ``read``, ``write`` and ``admin``,
each implying the ones before it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sessiond.ops.config_error import OpsConfigError

SETTING = "--auth-tokens-file (SESSIOND_AUTH_TOKENS_FILE)"
MIN_TOKEN_LENGTH = 16
_ENTRY_KEYS = frozenset({"name", "token", "scopes"})


class Scope(enum.IntEnum):
    """What a caller may do; a higher scope implies every lower one."""

    READ = 1
    WRITE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The scope as written in the tokens file: ``read``, ``write`` or ``admin``."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """The scope named ``text`` (``read``, ``write`` or ``admin``), None for another name."""
        return next((scope for scope in cls if scope.label == text), None)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller.

    Attributes:
        name: Who it is, from the tokens file; safe to log.
        scopes: The scopes the file grants (before implication).
        digest: SHA-256 of its token; never logged or shown.
    """

    name: str
    scopes: frozenset[Scope]
    digest: bytes = field(repr=False)

    def allows(self, required: Scope) -> bool:
        """Whether the caller may do what ``required`` guards (admin implies write implies read)."""
        return max(self.scopes) >= required


class TokenRegistry:
    """The known tokens, looked up by digest.

    Args:
        callers: The callers; their digests must differ.
    """

    def __init__(self, callers: Sequence[Caller]) -> None:
        self._by_digest: Mapping[bytes, Caller] = {c.digest: c for c in callers}
        if len(self._by_digest) != len(callers):
            raise ValueError("two callers share a token")

    def __len__(self) -> int:
        return len(self._by_digest)

    @property
    def names(self) -> list[str]:
        """The callers' names, sorted."""
        return sorted(c.name for c in self._by_digest.values())

    def authenticate(self, token: str) -> Caller | None:
        """The caller whose token is ``token``, or None.

        The lookup is by SHA-256 digest, so timing reveals nothing about the token
        itself; the final comparison is constant-time as well.
        """
        digest = _digest(token)
        caller = self._by_digest.get(digest)
        if caller is None or not hmac.compare_digest(caller.digest, digest):
            return None
        return caller


def load_tokens(path: str) -> TokenRegistry:
    """Read and validate a tokens file.

    Args:
        path: The JSON file.

    Returns:
        Its tokens.

    Raises:
        OpsConfigError: The file is unreadable, readable by others (see
            ``check_private``) or invalid; the message says where and why, and never
            quotes a token.
    """
    try:
        with open(path, encoding="utf-8") as f:
            check_private(os.fstat(f.fileno()), path)
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OpsConfigError(f"{SETTING}: cannot read {path}: {reason}") from exc
    return parse_tokens(text, source=path)


def check_private(st: os.stat_result, path: str) -> None:
    """Refuse a tokens file that users other than this process's may read.

    Others' read bit is always refused. The group's read bit is refused when this
    process owns the file (it then only serves someone else); a file owned by another
    user, such as a Kubernetes Secret mounted ``0440`` with the pod's ``fsGroup``, is
    read through its group and may keep it.

    Raises:
        OpsConfigError: The file is readable by others, or by its group while owned by us.
    """
    mode = stat.S_IMODE(st.st_mode)
    if mode & stat.S_IROTH or (mode & stat.S_IRGRP and st.st_uid == os.geteuid()):
        raise OpsConfigError(
            f"{SETTING}: {path} is readable by {'others' if mode & stat.S_IROTH else 'its group'} "
            f"(mode {mode:04o}); it holds secrets: chmod 600 {path}"
        )


def parse_tokens(text: str, source: str = "tokens file") -> TokenRegistry:
    """Validate the text of a tokens file.

    Args:
        text: The JSON text.
        source: Where it came from, for error messages.

    Returns:
        Its tokens.

    Raises:
        OpsConfigError: Not JSON, not the expected shape, an empty name, a duplicate
            name or token, a short token, or an unknown or missing scope.
    """
    where = f"{SETTING}: {source}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OpsConfigError(f"{where}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict) or set(data) != {"tokens"} or not isinstance(data["tokens"], list):
        raise OpsConfigError(f'{where}: expected {{"tokens": [{{"name", "token", "scopes"}}, ...]}}')
    if not data["tokens"]:
        raise OpsConfigError(f"{where}: no tokens; every call would be refused")
    callers: list[Caller] = []
    first_by_name: dict[str, int] = {}
    first_by_digest: dict[bytes, int] = {}
    for index, entry in enumerate(data["tokens"]):
        caller = _caller(entry, f"{where}: tokens[{index}]")
        if caller.name in first_by_name:
            raise OpsConfigError(
                f"{where}: tokens[{first_by_name[caller.name]}] and tokens[{index}] are both named {caller.name!r}"
            )
        if caller.digest in first_by_digest:
            other = callers[first_by_digest[caller.digest]].name
            raise OpsConfigError(
                f"{where}: tokens[{first_by_digest[caller.digest]}] ({other!r}) and tokens[{index}] "
                f"({caller.name!r}) have the same token; give each caller its own"
            )
        first_by_name[caller.name] = first_by_digest[caller.digest] = index
        callers.append(caller)
    return TokenRegistry(callers)


def _caller(entry: Any, where: str) -> Caller:
    if not isinstance(entry, dict):
        raise OpsConfigError(f"{where}: expected an object with name, token and scopes")
    if unknown := set(entry) - _ENTRY_KEYS:
        raise OpsConfigError(f"{where}: unknown keys {sorted(unknown)}; expected name, token and scopes")
    name, token, scopes = entry.get("name"), entry.get("token"), entry.get("scopes")
    if not isinstance(name, str) or not name.strip():
        raise OpsConfigError(f"{where}: name must be a non-empty string")
    where = f"{where} ({name!r})"
    if name != name.strip() or not name.isprintable():
        raise OpsConfigError(f"{where}: name must be printable, without surrounding spaces")
    if not isinstance(token, str) or not token:
        raise OpsConfigError(f"{where}: token must be a non-empty string")
    # It travels as "authorization: Bearer <token>" metadata: printable ASCII, no spaces.
    if not all("!" <= ch <= "~" for ch in token):
        raise OpsConfigError(f"{where}: token must be printable ASCII without spaces")
    if len(token) < MIN_TOKEN_LENGTH:
        raise OpsConfigError(f"{where}: token is shorter than {MIN_TOKEN_LENGTH} characters; use a random one")
    if not isinstance(scopes, list) or not scopes:
        raise OpsConfigError(f"{where}: scopes must be a non-empty list of read, write, admin")
    granted: set[Scope] = set()
    for scope in scopes:
        parsed = Scope.parse(scope) if isinstance(scope, str) else None
        if parsed is None:
            raise OpsConfigError(f"{where}: unknown scope {scope!r}; scopes are read, write and admin")
        granted.add(parsed)
    return Caller(name, frozenset(granted), _digest(token))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
