"""Errors that mean "the user's input is wrong": the CLI prints them on one line, exit 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input (a spec, a file, a flag). The message names the offending key or path."""

    exit_code = 2


class SpecError(UserError):
    """A study spec is invalid; the message starts with the key path."""


class DataError(UserError):
    """A dataset file is missing, corrupt or unreadable; the message says where we looked."""


class TableError(UserError):
    """A results table is malformed (missing columns, non-numeric cells, ragged instances)."""


class StudyLockedError(UserError):
    """Another driver holds the study."""
