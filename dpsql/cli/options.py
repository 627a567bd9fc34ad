"""What the commands share: their common options, and the one error handler that turns a
problem into diagnostics and an exit status (never a traceback)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
INTERRUPTED = 130  # the exit status after Ctrl-C (128 + SIGINT), as shells use


def project_dir_option(func: F) -> F:
    return click.option(
        "-p", "--project-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
        show_default=True, help="The workspace folder (the one holding dpsql.yml).",
    )(func)


def handle_errors(func: F) -> F:
    """Turn a DpsqlError into its diagnostics on stderr and exit status 1, never a traceback;
    Ctrl-C into exit status 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from dpsql.cli.console import Console
        from dpsql.core.errors import DpsqlError

        try:
            return func(*args, **kwargs)
        except DpsqlError as exc:
            console = Console(Path.cwd())
            console.diagnostics(exc.diagnostics)
            console.problem_summary(exc.diagnostics)
            sys.exit(1)
        except KeyboardInterrupt:  # Ctrl-C before anything was written to the warehouse
            Console(Path.cwd()).interrupted()
            sys.exit(INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def threads_option(func: F) -> F:
    return click.option("-t", "--threads", type=click.IntRange(min=1), default=None,
                        metavar="N", help="Models to run at once (default: `threads:` in "
                        "dpsql.yml, else 4).")(func)
