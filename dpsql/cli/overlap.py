"""`dpsql overlap`: transformations written more than once across products."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dpsql.cli.options import handle_errors, project_dir_option
from dpsql.cli.targeting import target_options


@click.command(short_help="Find transformations written more than once across products.")
@project_dir_option
@target_options
@click.option("--min-similarity", type=click.FloatRange(0.0, 1.0), default=0.8,
              show_default=True, help="Report only findings at least this similar.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json for CI jobs and bots.")
@click.option("--fail-on-overlap", is_flag=True, help="Exit 1 when anything is found (for CI).")
@handle_errors
def overlap(project_dir: Path, min_similarity: float, fmt: str, fail_on_overlap: bool) -> None:
    """Compare whole models, CTEs and subqueries, and single column expressions of every
    product after normalising their SQL and resolving every relation to its ultimate sources,
    and list what is written more than once, with a suggestion for each.

    Static: needs no warehouse, writes nothing. Exit status 0 (findings are advice), or 1 with
    --fail-on-overlap when anything is found.
    """
    from dpsql.overlap.find import as_json, as_text, find_overlap

    findings = find_overlap(project_dir, min_similarity)
    click.echo(as_json(findings) if fmt == "json" else as_text(findings))
    if fail_on_overlap and findings:
        sys.exit(1)
