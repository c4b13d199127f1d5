"""Command line: ``sessiond serve`` and ``sessiond migrate`` (also ``python -m sessiond``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from sessiond import config as config_mod
from sessiond import logs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sessiond", description="Live state of game sessions, over gRPC.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("serve", "run the gRPC service"),
        ("migrate", "create or update the Neo4j schema (constraints, indexes); safe to run again"),
    ):
        config_mod.add_arguments(commands.add_parser(name, help=help_text), os.environ)
    args = parser.parse_args(argv)

    try:
        config = config_mod.from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    logs.configure(config.log_format, config.log_level)
    # The memory store forks its snapshot writer; the child never calls grpc, so grpc's
    # fork handlers (which log on every fork while its threads are busy) are not wanted.
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    # grpc and the stores load only now, not for --help or a bad flag.
    from sessiond.bootstrap import migrate
    from sessiond.server import serve

    return _run(serve(config) if args.command == "serve" else migrate(config))


def _run(work: Coroutine[Any, Any, int | None]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work) or 0
    return uvloop.run(work) or 0


if __name__ == "__main__":
    sys.exit(main())
