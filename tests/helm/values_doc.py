"""The values table of helm/sessiond/README.md, made from values.yaml and values.schema.json.

    python -m tests.helm.values_doc          # print the table
    python -m tests.helm.values_doc --write  # rewrite it in README.md

The description of a key is the ``# --`` comment above it in values.yaml; its type
comes from the schema; its default is its value in values.yaml. Keys of
``settings`` (unset by default) come from the schema alone.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "sessiond"
VALUES = CHART / "values.yaml"
SCHEMA = CHART / "values.schema.json"
README = CHART / "README.md"
BEGIN = "<!-- values-table:begin (python -m tests.helm.values_doc --write) -->"
END = "<!-- values-table:end -->"

_COMMENT = re.compile(r"^(\s*)# -- ?(.*)$")
_CONTINUED = re.compile(r"^\s*# ?(.*)$")
_KEY = re.compile(r"^(\s*)([A-Za-z][A-Za-z0-9-]*):")


def key_comments(path: Path = VALUES) -> tuple[dict[str, str], list[str]]:
    """``({dotted key: its '# --' comment}, [dotted keys with none])``, keys in file order.

    Only keys of mappings are seen; list items are values, not keys.
    """
    comments: dict[str, str] = {}
    missing: list[str] = []
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in path.read_text().splitlines():
        if m := _COMMENT.match(line):
            pending = [m.group(2)]
            continue
        if pending is not None and (m := _CONTINUED.match(line)):
            pending.append(m.group(1))
            continue
        if (m := _KEY.match(line)) and not line.lstrip().startswith("- "):
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group(2)))
            key = ".".join(k for _, k in stack)
            if pending:
                comments[key] = " ".join(pending).strip()
            else:
                missing.append(key)
        pending = None
    return comments, missing


def _type(schema: dict[str, Any]) -> str:
    if "type" in schema:
        return str(schema["type"])
    if "anyOf" in schema:
        return " or ".join(sorted({str(s.get("type")) for s in schema["anyOf"]}))
    return "any"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(value: Any) -> str:
    return f"`{_cell(json.dumps(value))}`"


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node[part]
    return node


def rows() -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for each documented key."""
    comments, _ = key_comments()
    schema = json.loads(SCHEMA.read_text())
    values = yaml.safe_load(VALUES.read_text())
    out: list[tuple[str, str, str, str]] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, sub in node.get("properties", {}).items():
            key = f"{prefix}{name}"
            if key == "global":
                continue
            if key in comments:
                value = _lookup(values, key)
                leaf = "properties" not in sub or not isinstance(value, dict) or key == "settings"
                if leaf or sub.get("additionalProperties") is not False:
                    out.append((key, _type(sub), _default(value), comments[key]))
                else:
                    walk(sub, f"{key}.")
                if key == "settings":
                    walk(sub, f"{key}.")
            elif prefix == "settings.":
                default = f"unset (sessiond: {_default(sub.get('default'))})"
                out.append((key, _type(sub), default, sub.get("description", "")))

    walk(schema, "")
    return out


def table() -> str:
    lines = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    lines += [f"| `{k}` | {t} | {d} | {_cell(desc)} |" for k, t, d, desc in rows()]
    return "\n".join(lines)


def readme_with_table(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n{table()}\n{text[end:]}"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        README.write_text(readme_with_table(README.read_text()))
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
