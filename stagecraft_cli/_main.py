"""``stagecraft``: serve a stage, send it commands, watch its events, render it, run agents.

One module per command group (``_serve``, ``_stage``, ``_render``, ``_jobs``, ``_keys``); this one
assembles the parser and turns errors into a line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from protocols import ProtocolError, StagecraftError

from . import _jobs, _keys, _render, _serve, _stage

GROUPS = (_serve, _stage, _render, _jobs, _keys)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    try:
        return args.run(args)
    except ProtocolError as exc:
        where = f" ({exc.field})" if exc.field else ""
        print(f"error: {exc.code.value}{where}: {exc.message}", file=sys.stderr)
        return 2
    except StagecraftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stagecraft",
        description="Serve a stage, send it commands, watch its events, render it, run agents.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the server does")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(commands)
    return parser
