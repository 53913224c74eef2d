"""The consoles the commands print through.

rich's :class:`~rich.console.Console` exits 1 by itself when stdout's reader goes away
(``stalwart results DIR | head``); here that is a ``BrokenPipeError`` like any other
write, which :func:`stalwart.cli.main` ends quietly with the Unix status for SIGPIPE, so
"output cut short" is never mistaken for "no valid result" (exit 1).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console


class _Console(Console):
    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def make_console(**kwargs: Any) -> Console:
    """A rich console (same arguments) whose closed pipe raises ``BrokenPipeError``."""
    return _Console(**kwargs)
