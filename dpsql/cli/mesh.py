"""Commands about how products change over time: `dpsql diff`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dpsql.cli.options import handle_errors, project_dir_option
from dpsql.cli.targeting import target_options

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from dpsql.core.errors import Diagnostic


def base_option(help_text: str) -> Callable[[F], F]:
    return click.option("--base", "base", default=None, metavar="REV|PATH", help=help_text)


@click.command(short_help="What a change does to every consumer, and the bump it needs.")
@project_dir_option
@target_options
@base_option("A git revision (default HEAD) or a path to another copy of the workspace.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="json for bots, markdown for a pull-request comment.")
@handle_errors
def diff(project_dir: Path, base: str | None, fmt: str) -> None:
    """Compare the workspace with a base, port by port and column by column, and show which
    consumers each change breaks or affects and the version bump each product needs.

    Static: needs no warehouse, writes nothing. Exit status 1 when a declared version bump is
    too small.
    """
    from dpsql.change.report import as_json, as_markdown, as_text
    from dpsql.change.run import diff as run_diff

    result = run_diff(project_dir, base)
    render = {"json": as_json, "markdown": as_markdown, "text": as_text}[fmt]
    click.echo(render(result))
    if not result.ok:
        sys.exit(1)


def base_diagnostics(project_dir: Path, base: str) -> list[Diagnostic]:
    """`dpsql check --base`: a bump too small as DP704, a consumer broken by a change as DP705
    (a warning), a bad base as DP701-DP703."""
    from dpsql.change.report import bump_problem
    from dpsql.change.run import diff as run_diff
    from dpsql.core.errors import DpsqlError, Location, error, warning

    try:
        result = run_diff(project_dir, base)
    except DpsqlError as exc:  # a bad base: reported with check's other findings
        return list(exc.diagnostics)
    out: list[Diagnostic] = []
    for product in result.products:
        if not product.ok:
            where = product.location or Location(result.root / "dpsql.yml")
            out.append(error("DP704", bump_problem(product), where,
                             f"declare version {product.make} for {product.product}"))
    for change in result.changes:
        for consumer in change.consumers:
            if consumer["impact"] == "breaking":
                out.append(warning(
                    "DP705", f"{change.kind} of {change.where()} breaks {consumer['product']} "
                    f"(reads {', '.join(consumer['reads']) or 'the port'}, depth "
                    f"{consumer['depth']})", None,
                    "keep the old column or port until its consumers have moved, or agree the "
                    "change with them"))
    return out
