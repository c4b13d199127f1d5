"""Page tokens and ListSessions filters: pure parsing, InvalidInput on anything malformed."""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib

from sessiond.core.errors import InvalidInput

FILTER_TERM = re.compile(r'\s*([a-z_]+)\s*=\s*(?:"([^"]*)"|([A-Za-z0-9._:-]+))\s*')


def page_size(requested: int, default: int, maximum: int) -> int:
    if requested < 0:
        raise InvalidInput("page_size", f"must not be negative, got {requested}")
    return min(requested or default, maximum)


def encode_token(offset: int, scope: str) -> str:
    """An opaque token for the page starting at ``offset``, valid only for ``scope``
    (the request's filter and parent), so it cannot be replayed against another list."""
    raw = json.dumps({"o": offset, "s": zlib.crc32(scope.encode())}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, scope: str) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset, token_scope = int(data["o"]), int(data["s"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("page_token", "is not a token this server issued") from exc
    if token_scope != zlib.crc32(scope.encode()) or offset < 0:
        raise InvalidInput("page_token", "belongs to a different list or filter; start again without it")
    return offset


def parse_filter(text: str, fields: frozenset[str]) -> dict[str, str]:
    """Parse ``a="x" AND b=y`` into {"a": "x", "b": "y"}."""
    terms: dict[str, str] = {}
    if not text.strip():
        return terms
    for part in re.split(r"\s+AND\s+", text.strip()):
        m = FILTER_TERM.fullmatch(part)
        if m is None:
            raise InvalidInput("filter", f"cannot parse {part!r}; expected field=value joined by AND")
        name, value = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
        if name not in fields:
            raise InvalidInput("filter", f"unknown field {name!r}; use one of {sorted(fields)}")
        if name in terms:
            raise InvalidInput("filter", f"field {name!r} appears twice")
        terms[name] = value
    return terms
