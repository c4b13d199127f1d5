"""The fenced blocks of the project's READMEs, each under the marker that names it.

Every fenced block of README.md and clients/python/README.md stands right under an HTML
comment ``<!-- example NAME: ... -->``; tests/e2e/test_readme.py runs each one by NAME
(or the marker says ``text``: a listing, not something to run). A block without a
marker fails the suite, so an example added to a README is an example tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLIENT_README = ROOT / "clients" / "python" / "README.md"

_BLOCK = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$",
    re.S | re.M,
)
_MARKER = re.compile(r"<!-- example (?P<name>[\w-]+)(?::[^>]*)? -->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: the name its marker gives it (None: unmarked), language, body."""

    name: str | None
    lang: str
    body: str
    line: int


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order, with its indent removed."""
    text = path.read_text()
    found = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        indent = match["indent"]
        body = "".join(line.removeprefix(indent) for line in match["body"].splitlines(keepends=True))
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(marker["name"] if marker else None, match["lang"], body, line))
    return found


def block(path: Path, name: str) -> Block:
    """The one block of ``path`` named ``name``."""
    named = [b for b in blocks(path) if b.name == name]
    assert len(named) == 1, f"{path.name} has {len(named)} blocks named {name!r}, expected 1"
    return named[0]


def commands(body: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments and blanks dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
