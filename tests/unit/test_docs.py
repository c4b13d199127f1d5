"""The README's configuration table is generated from the one table of settings."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.config_table import table
from sessiond.api.status_codes import CALL_REFUSALS, ERRORS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_matches_the_settings() -> None:
    text = README.read_text()
    found = re.search(r"<!-- config-table:[^>]*-->\n(.*?)\n<!-- /config-table -->", text, re.S)
    assert found, "README.md lost its config-table markers"
    assert found.group(1).strip() == table(), "README is stale: python scripts/config_table.py"


def test_readme_lists_every_error_reason_with_its_status() -> None:
    found = re.search(r"<!-- error-reasons:[^>]*-->\n(.*?)\n\n", README.read_text(), re.S)
    assert found, "README.md lost its error-reasons table"
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([A-Z_]+) \|", found.group(1), re.M)
    documented = {(reason, code.name) for code, reason in ERRORS.values()}
    documented |= {(reason, code.name) for reason, code in CALL_REFUSALS.items()}
    assert sorted(rows) == sorted(documented)
