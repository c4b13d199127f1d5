"""The README's configuration table is generated from the one table of settings."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.config_table import table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_matches_the_settings() -> None:
    text = README.read_text()
    found = re.search(r"<!-- config-table:[^>]*-->\n(.*?)\n<!-- /config-table -->", text, re.S)
    assert found, "README.md lost its config-table markers"
    assert found.group(1).strip() == table(), "README is stale: python scripts/config_table.py"
