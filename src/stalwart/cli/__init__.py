"""The ``stalwart`` command: argument parsing and wiring, nothing else.

Each subcommand lives in its own module exposing ``register(subparsers)``; a handler
returns the exit status. Bad input raises :class:`~stalwart.errors.UserError`, printed
here as one line (``stalwart: error: ...``) with exit status 2, never a traceback. So are
argparse's own usage errors (a missing argument, an unknown flag): every parser is a
:class:`OneLineParser`. Output cut short by a closed pipe (``stalwart results DIR | head``)
ends quietly, as other Unix tools do.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from stalwart import __version__
from stalwart.errors import UserError

COMMAND_MODULES = (
    "stalwart.cli.study",
    "stalwart.cli.replay",
    "stalwart.cli.eval",
    "stalwart.cli.pretrain",
    "stalwart.cli.analyze",
    "stalwart.cli.report",
)

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool cut off by `head`
"""Output cut short: what Python's documentation recommends, and what rich (the text
commands' printer) exits with on a closed pipe, so every command ends the same way."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, ``stalwart: error: ...``, exit 2.

    argparse prints the whole usage block first; a user (and a script) needs the problem
    and where to look. Subparsers inherit the class through ``add_subparsers``, so the
    subcommands other modules register get it too.
    """

    def error(self, message: str) -> NoReturn:
        self._fail(message, self.prog.removeprefix("stalwart").strip())

    def _fail(self, message: str, command: str | None) -> NoReturn:
        hint = f"stalwart {command} --help" if command else "stalwart --help"
        self.exit(2, f"stalwart: error: {message} (see {hint})\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        # Leftover arguments are found by the top parser; the hint names the subcommand
        # whose flags the user got wrong.
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self._fail(f"unrecognized arguments: {' '.join(extras)}", getattr(parsed, "command", None))
        return parsed


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="stalwart",
        description="Robust model selection: find the configuration whose quality holds "
        "across instances, with far fewer trainings than an exhaustive search.",
    )
    parser.add_argument("--version", action="version", version=f"stalwart {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
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


def _quiet_broken_pipe() -> int:
    """Stdout's reader went away: send what is left to /dev/null, so that the flush at exit
    raises no second error, and stop."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a descriptor (a test's StringIO)
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"stalwart: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        print("stalwart: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
