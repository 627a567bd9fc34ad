"""The command line: thin commands, console output, progress, scaffolding."""

from dpsql.cli.commands import main

__all__ = ["main"]
