"""Every error the SDK raises, under one root.

Each class also inherits the builtin that matches its meaning, so callers can catch either
``CareLedgerError`` (everything of ours) or the builtin (``PermissionError``, ``LookupError``,
``ValueError``...). Messages say what happened and what to do next.
"""

from __future__ import annotations


class CareLedgerError(Exception):
    """Root of every error raised by CareLedger."""


# --- configuration and input -------------------------------------------------------------


class InvalidInput(CareLedgerError, ValueError):
    """An argument is malformed (wrong length, wrong type, out of range)."""


# --- crypto -------------------------------------------------------------------------------
# (crypto and key errors are appended below by the crypto module's author)


# --- storage ------------------------------------------------------------------------------
# (storage errors are appended below by the storage module's author)
