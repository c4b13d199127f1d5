"""Command line: ``sessiond serve`` (and ``python -m sessiond serve``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from sessiond import config as config_mod
from sessiond import logs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sessiond", description="Live state of game sessions, over gRPC.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the gRPC service")
    config_mod.add_arguments(serve_parser, os.environ)
    args = parser.parse_args(argv)

    try:
        config = config_mod.from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    logs.configure(config.log_format, config.log_level)
    if config.store == "redis+neo4j":
        print("sessiond: --store redis+neo4j is not available in this version yet; use memory or redis",
              file=sys.stderr)
        return 2
    from sessiond.server import serve  # grpc and the stores load only for serving

    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
