"""Fixtures of the console tests: the e2e suite's in-process servers."""

from tests.e2e.conftest import start_server

__all__ = ["start_server"]
