"""The error every command prints as one line (exit status 2) instead of a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Something a person can fix: a bad option, a missing file, no display."""
