"""The ``careledger`` command line."""

from careledger.cli.main import main

__all__ = ["main"]
