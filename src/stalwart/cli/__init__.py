"""The ``stalwart`` command: argument parsing and wiring, nothing else.

Each subcommand lives in its own module exposing ``register(subparsers)``; a handler
returns the exit status. Bad input raises :class:`~stalwart.errors.UserError`, printed
here as one line (``stalwart: error: ...``) with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from stalwart import __version__
from stalwart.errors import UserError

COMMAND_MODULES = ("stalwart.cli.study", "stalwart.cli.replay", "stalwart.cli.eval")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stalwart",
        description="Robust model selection: find the configuration whose quality holds "
        "across instances, with far fewer trainings than an exhaustive search.",
    )
    parser.add_argument("--version", action="version", version=f"stalwart {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command not installed in this build
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"stalwart: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("stalwart: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
