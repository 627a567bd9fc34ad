"""The options of every command that selects models (build, test, compile, ls), and the plan
they give: dbt's grammar (dpsql/build/plan.py), --exclude, and --state for `state:`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from dpsql.build.plan import Plan
    from dpsql.core.project import CompiledProject

F = TypeVar("F", bound=Callable[..., Any])


def selection_options(func: F) -> F:
    """-s/--select, -e/--exclude and --state (the short -x is --fail-fast, as in dbt)."""
    func = click.option("--state", "state", type=click.Path(file_okay=False, path_type=Path),
                        default=None, metavar="DIR",
                        help="A previous run's target/ folder, for `state:modified` (and "
                             "`result:` reads its run_results.json).")(func)
    func = click.option("-e", "--exclude", "exclude", multiple=True, metavar="SELECTOR",
                        help="Models to leave out, in the same syntax as --select.")(func)
    return click.option("-s", "--select", "select", multiple=True, metavar="SELECTOR",
                        help="Models to include, in dbt's syntax: a product, product.model, "
                             "wildcards (orders.stg_*), +x / x+ / 2+x / x+1 for ancestors / "
                             "descendants, @x, domain:, tag:, path:, config.materialized:, "
                             "result:, state:modified. Repeatable; space-separated selectors "
                             "are unioned, comma-joined ones intersected.")(func)


def fail_fast_option(func: F) -> F:
    return click.option("-x", "--fail-fast", "fail_fast", is_flag=True,
                        help="Stop at the first failure: nothing new starts, what runs is "
                             "stopped (rolled back), and the rest is reported as not run.")(func)


def plan(compiled: CompiledProject, select: tuple[str, ...], exclude: tuple[str, ...],
         state: Path | None) -> Plan:
    """The selected models; a selector that names nothing is a usage error (exit status 2)."""
    from dpsql.build.plan import SelectionError
    from dpsql.build.plan import select as select_models
    from dpsql.build.previous import Previous

    if state is not None and not state.is_dir():
        raise click.BadParameter(f"{state} is not a folder: give a previous run's target/ "
                                 "folder", param_hint="'--state'")
    previous = Previous.load(compiled.project.root / "target", state)
    try:
        return select_models(compiled, select, exclude, previous)
    except SelectionError as exc:
        raise click.BadParameter(str(exc), param_hint="'--select' / '--exclude'") from None
