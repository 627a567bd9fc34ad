"""`dpsql import dbt SRC DEST`: a dbt project into a workspace of proposed products."""

from __future__ import annotations

from pathlib import Path

import click

from dpsql.cli.options import handle_errors


def _domain_pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
                  ) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        pattern, sep, domain = value.partition("=")
        if not sep or not pattern.strip() or not domain.strip():
            raise click.BadParameter(f"`{value}` is not PATTERN=DOMAIN, e.g. 'marts/finance/*="
                                     "finance' or 'stg_stripe*=payments'", ctx, param)
        pairs.append((pattern.strip(), domain.strip()))
    return pairs


@click.group(name="import", short_help="Make a workspace from another tool's project.")
def import_group() -> None:
    """Make a dpsql workspace from another tool's project."""


@import_group.command(name="dbt", short_help="Import a dbt project, split into products.")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--split", "split", type=click.Choice(["auto", "folders", "groups"]),
              default="auto", show_default=True,
              help="auto: communities of the ref graph (keeps dbt groups whole, leans on "
                   "folders); folders: one product per top-level model folder; groups: one "
                   "per dbt group.")
@click.option("--domain-of", "domain_of", multiple=True, callback=_domain_pairs,
              metavar="PATTERN=DOMAIN",
              help="Give the products whose name, or a model's name or path, matches PATTERN "
                   "(shell-style: *, ?) this domain. Repeatable; the first match wins.")
@handle_errors
def dbt(src: Path, dest: Path, split: str, domain_of: list[tuple[str, str]]) -> None:
    """Read the dbt project in SRC (dbt_project.yml, models, sources, seeds, schema.yml files,
    macros, local packages, groups) and write a workspace into DEST, a new folder, that builds
    the same relations with the same rows. Models are split into products (--split); every
    ref the split cuts becomes an output port with a contract typed from the SQL, and an
    input of the product that reads it. The proposal, product by product and why, is printed
    and written to DEST/IMPORT.md.
    """
    from dpsql.adopt.run import import_dbt

    result = import_dbt(src, dest, split, domain_of)
    click.echo(result.report, nl=False)
