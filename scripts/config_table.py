"""Print the configuration table of the README from sessiond.config.OPTIONS.

tests/unit/test_docs.py checks that README.md contains exactly this output.
"""

from __future__ import annotations

from sessiond.config import OPTIONS


def table() -> str:
    rows = ["| flag | environment | default | allowed | meaning |", "| --- | --- | --- | --- | --- |"]
    for opt in OPTIONS:
        default = str(opt.default).lower() if isinstance(opt.default, bool) else str(opt.default)
        rows.append(f"| `{opt.flag}` | `{opt.env}` | `{default or '(empty)'}` | {opt.allowed} | {opt.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
