"""`--target NAME` and `--vars '{k: v}'`, the options every workspace command takes.

`target_options` adds both to a command and runs it with the choice in force (see
dpsql.load.targets.chosen), so that every workspace the command loads uses that target and
those vars; nothing else has to pass them on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def target_options(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, target_name: str | None = None, vars_text: str | None = None,
                **kwargs: Any) -> Any:
        from dpsql.load.targets import Choice, chosen, parse_vars

        try:
            variables = parse_vars(vars_text) if vars_text else {}
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--vars'") from None
        with chosen(Choice(target_name, variables)):
            return func(*args, **kwargs)

    wrapper = click.option(
        "--vars", "vars_text", metavar="YAML", default=None,
        help="Values for var() that override `vars:` in dpsql.yml, as YAML: "
             "--vars '{start_date: 2024-06-01}'.")(wrapper)
    wrapper = click.option(
        "--target", "target_name", metavar="NAME", default=None,
        help="The target of dpsql.yml to use (default: `target:`, else the first of "
             "`targets:`).")(wrapper)
    return wrapper  # type: ignore[return-value]


def stamp_context(project_dir: Path) -> tuple[Path | None, Any]:
    """The chosen target's folder of outputs and what the command line chose, as recorded in
    the compile stamp; (None, None) when dpsql.yml cannot be read (the compile says why)."""
    from dpsql.core.errors import DpsqlError
    from dpsql.load.config import load_workspace
    from dpsql.load.targets import current_choice

    try:
        config = load_workspace(project_dir)
    except DpsqlError:
        return None, None
    import json

    name = config.target.name if config.target else None
    return config.outputs, json.dumps([name, config.engine, dict(current_choice().vars)],
                                      sort_keys=True, default=str)
