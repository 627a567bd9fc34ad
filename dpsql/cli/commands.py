"""The `dpsql` command line: thin commands over the library, one error handler.

Exit status: 0 success, 1 a problem in the user's project, 2 a usage error.
Heavy modules (sqlglot, duckdb, jinja2) are imported inside commands, so `--help` is fast.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dpsql.cli import logs
from dpsql.cli.adopt import import_group
from dpsql.cli.compiling import compile_workspace as _compile
from dpsql.cli.compiling import summary as _summary
from dpsql.cli.mesh import base_option, diff
from dpsql.cli.options import INTERRUPTED, handle_errors, project_dir_option, threads_option
from dpsql.cli.overlap import overlap
from dpsql.cli.selecting import fail_fast_option, plan, selection_options
from dpsql.cli.targeting import stamp_context, target_options
from dpsql.core import __version__

if TYPE_CHECKING:
    pass

GC_YOUNG = 100_000  # new containers between two collections of the youngest generation


@click.group(name="dpsql", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dpsql")
@click.option("-v", "--verbose", is_flag=True, help="Log what dpsql does, step by step.")
@click.option("--log-format", type=click.Choice(logs.FORMATS), default="text", show_default=True,
              help="json: target/dpsql.log holds JSON lines, and build and test print their "
                   "events (START and END per model, TEST per test) as JSON lines.")
def main(verbose: bool, log_format: str) -> None:
    """dpsql compiles data products: folders of Jinja-templated SQL models with declared input
    and output ports. It parses every model with sqlglot, checks that products fit together,
    traces lineage across them, and builds the results into one DuckDB file.

    \b
    Start with:  dpsql init shop && dpsql build -p shop && dpsql ls -p shop
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,  # each invocation logs to the stderr it has (tests run several in one process)
    )
    # sqlglot warns about shapes it cannot analyse (a PIVOT in a CTE); dpsql reports what that
    # means for the user itself (DP502), so its notes show with --verbose only
    logging.getLogger("sqlglot").setLevel(logging.INFO if verbose else logging.ERROR)
    for handler in logging.getLogger().handlers:  # the log file takes INFO, stderr does not
        handler.setLevel(logging.INFO if verbose else logging.WARNING)
    logs.close_log_file()  # an earlier command's, when several run in one process
    logs.set_format(log_format)
    # A compile holds millions of small objects (the compile cache, the project, the
    # manifests), few of them in cycles; with Python's default of a collection every 700 new
    # containers, the collector's passes over them cost a third of a compile after one edit.
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


main.add_command(diff)
main.add_command(overlap)
main.add_command(import_group)


@main.command(short_help="Write compiled SQL and the manifest (no warehouse).")
@project_dir_option
@selection_options
@target_options
@handle_errors
def compile(project_dir: Path, select: tuple[str, ...], exclude: tuple[str, ...],
            state: Path | None) -> None:
    """Render, parse and resolve every model; write target/compiled/ and target/manifest.json
    (and target/dbt/manifest.json). With --select, also print the compiled SQL of each
    selected model.

    Nothing is read from or written to the warehouse.
    """
    from dpsql.cli.console import Console
    from dpsql.compile import stamp
    from dpsql.load.config import environment

    console = Console(Path.cwd())
    if select or exclude or state:
        from dpsql.cli.nodes import compiled_sql

        compiled = _compile(project_dir, console)
        click.echo(compiled_sql(compiled, plan(compiled, select, exclude, state)), nl=False)
        console.print(_summary(compiled))
        return
    chosen = stamp_context(project_dir)
    last = stamp.unchanged(project_dir.resolve(), environment(), *chosen)
    if last is not None:  # nothing a compile reads has changed: its outputs stand
        console.diagnostics(last["warnings"])
        console.print(f"{last['summary']} (nothing changed)")
        return
    console.print(_summary(_compile(project_dir, console, chosen=chosen, stale=True)))


@main.command(short_help="Run every static check; report all problems at once.")
@project_dir_option
@target_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json prints every diagnostic as one JSON document.")
@base_option("Also compare with this git revision or workspace copy, as `dpsql diff` does.")
@handle_errors
def check(project_dir: Path, fmt: str, base: str | None) -> None:
    """Check the whole workspace statically and report every problem at once.

    Needs no warehouse and never creates or changes one. Exit status 1 on any error.
    """
    import json

    from dpsql.cli.checkstamp import check_diagnostics
    from dpsql.cli.console import Console

    console = Console(Path.cwd())
    diagnostics = check_diagnostics(project_dir, base)
    errors = [d for d in diagnostics if d.is_error]
    if fmt == "json":
        click.echo(json.dumps({"ok": not errors,
                               "diagnostics": [d.to_dict(Path.cwd()) for d in diagnostics]},
                              indent=2))
    else:
        console.diagnostics(diagnostics)
        if diagnostics:
            console.problem_summary(diagnostics)
        else:
            console.print("All checks passed.", style="bold green")
    if errors:
        sys.exit(1)


@main.command(short_help="Compile and materialize models into the warehouse.")
@project_dir_option
@target_options
@selection_options
@threads_option
@fail_fast_option
@click.option("--full-refresh", is_flag=True,
              help="Rebuild every selected model, changed or not; incremental models are "
                   "rebuilt from scratch.")
@handle_errors
def build(project_dir: Path, select: tuple[str, ...], exclude: tuple[str, ...],
          state: Path | None, threads: int | None, fail_fast: bool, full_refresh: bool) -> None:
    """Compile, then materialize the selected models into the warehouse in dependency order.

    Output ports go to schema <product>, internal models to <product>_internal. Models whose
    SQL, config, upstream models and input files are unchanged since they were built are
    skipped. Each new version is tested (the port's column tests and singular tests) before
    it is published. A model that fails keeps its previous version; its downstream models are
    skipped, the others still build, and the exit status is 1. Ctrl-C stops the build: what
    was published stays, what was running is rolled back, and the exit status is 130.
    """
    from dpsql.build import noop
    from dpsql.cli.console import Console
    from dpsql.cli.noop import nothing_to_build, remembered

    console = Console(Path.cwd())
    root = project_dir.resolve()
    target = stamp_context(project_dir)  # dpsql.yml read once for the record and the compile
    if remembered(select, exclude, state, full_refresh) and nothing_to_build(
            root, (select, exclude), console, target):
        return
    noop.forget(root, target[0])
    from dpsql.build.engine import BuildInterrupted, BuildOptions
    from dpsql.build.runner import build as run
    from dpsql.outputs.artifacts import write_run_results
    from dpsql.outputs.dbt_artifacts import write_dbt_run_results

    try:
        compiled = _compile(project_dir, console, chosen=target)
    except KeyboardInterrupt:
        console.interrupted("before the build started: nothing was published")
        sys.exit(INTERRUPTED)
    chosen = plan(compiled, select, exclude, state)
    if not chosen.models:
        console.print("Nothing selected to build.")
        return
    options = BuildOptions(threads=threads or compiled.project.config.threads,
                           full_refresh=full_refresh, fail_fast=fail_fast)
    try:
        with logs.build_reporter(console) as reporter:
            result = run(compiled, chosen, options, reporter)
    except BuildInterrupted as stop:  # Ctrl-C: say what was published and what was not
        result = stop.run
    write_run_results(compiled, result)
    write_dbt_run_results(compiled, result)
    if compiled.project.config.engine == "duckdb":  # Spark answers from its registry
        noop.record(root, compiled.project.config.warehouse, (select, exclude), result,
                    compiled.project.config.outputs)
    console.diagnostics(result.notes)
    logs.build_summary(console, result)
    if result.interrupted:
        sys.exit(INTERRUPTED)
    if not result.ok:
        sys.exit(1)


@main.command(name="test", short_help="Run the data tests on the warehouse.")
@project_dir_option
@target_options
@selection_options
@threads_option
@fail_fast_option
@handle_errors
def test_command(project_dir: Path, select: tuple[str, ...], exclude: tuple[str, ...],
                 state: Path | None, threads: int | None, fail_fast: bool) -> None:
    """Run the data tests on the published ports and models; exit status 1 if any fails.

    Column tests come from the contracts in product.yml (not_null, unique, accepted_values,
    relationships); singular tests are the queries in <product>/tests/*.sql, which must
    return no rows. --select picks the tests that read the selected models.
    """
    from dpsql.build.runner import run_tests
    from dpsql.build.testing import select_tests
    from dpsql.cli.console import Console
    from dpsql.outputs.artifacts import write_test_results
    from dpsql.outputs.dbt_artifacts import write_dbt_test_results

    console = Console(Path.cwd())
    compiled = _compile(project_dir, console)
    tests = select_tests(compiled, plan(compiled, select, exclude, state))
    if not tests:
        console.print("No data tests selected.")
        return
    result = run_tests(compiled, tests, threads or compiled.project.config.threads,
                       logs.test_reporter(console), fail_fast=fail_fast)
    write_test_results(compiled, result)
    write_dbt_test_results(compiled, result)
    failed = [r for r in result.results if r.status != "pass" and r.diagnostic is not None]
    console.diagnostics(r.diagnostic for r in failed if r.diagnostic is not None)
    logs.test_summary(console, result)
    if not result.ok:
        sys.exit(1)


@main.command(name="ls", short_help="List products: domain, owner, version, ports.")
@project_dir_option
@target_options
@click.option("--columns", is_flag=True, help="Also list each port's columns and types.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: products, ports and deprecated ports, for tools.")
@selection_options
@click.option("--output", type=click.Choice(["selector", "name", "path", "json"]), default=None,
              help="List the selected nodes (models, their tests, the inputs they read) one per "
                   "line, as `dbt ls` does: dpsql's names, names, file paths, or JSON objects.")
@click.option("--resource-type", "resource_types", multiple=True,
              type=click.Choice(["model", "test", "source"]), help="Only nodes of this type.")
@handle_errors
def ls(project_dir: Path, columns: bool, fmt: str, select: tuple[str, ...],
       exclude: tuple[str, ...], state: Path | None, output: str | None,
       resource_types: tuple[str, ...]) -> None:
    """List the data products with their domain, owner, version and ports; for a deprecated
    port, the products that still read it. With --select, --exclude, --output or
    --resource-type: the selected nodes instead, one per line (as `dbt ls`)."""
    import json

    from dpsql.cli.console import Console
    from dpsql.cli.listing import as_json, print_products
    from dpsql.load.loader import load_project

    console = Console(Path.cwd())
    if select or exclude or output or resource_types or state:
        from dpsql.cli.nodes import node_lines

        compiled = _compile(project_dir, console, write=False)
        chosen = plan(compiled, select, exclude, state)
        click.echo("".join(f"{line}\n" for line in node_lines(
            compiled, chosen, output or "selector", resource_types)), nl=False)
        return
    project = load_project(project_dir)
    if fmt == "json":
        click.echo(json.dumps(as_json(project), indent=2))
        return
    print_products(console, project, columns)


@main.command(short_help="Write a small working workspace into DIRECTORY.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def init(directory: Path) -> None:
    """Write a small working workspace into DIRECTORY (two products, one CSV file)."""
    from dpsql.cli.console import Console
    from dpsql.cli.scaffold import write_scaffold

    console = Console(Path.cwd())
    written = write_scaffold(directory)
    console.print(f"Wrote {len(written)} files into {directory}. Next:")
    console.print(f"  dpsql build -p {directory}")
    console.print(f"  dpsql ls -p {directory}")


@main.command(short_help="Run a read-only SQL query on the warehouse.")
@project_dir_option
@target_options
@click.argument("sql")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Rows to print at most (only these are read from the result).")
@handle_errors
def query(project_dir: Path, sql: str, limit: int) -> None:
    """Run one read-only SQL statement on the warehouse and print the rows.

    \b
    Allowed: SELECT, FROM ..., WITH ... SELECT, VALUES, DESCRIBE, SHOW, SUMMARIZE, and EXPLAIN
    of these. Anything that would change the warehouse or reach outside it (ATTACH, COPY,
    EXPORT, INSTALL, LOAD, SET, PRAGMA, CALL, DDL, DML) is refused.
    Example: dpsql query -p shop "from revenue.monthly_revenue"
    """
    from dpsql.build.readonly import NoStatement
    from dpsql.build.runner import run_query
    from dpsql.cli.console import Console
    from dpsql.load.config import load_workspace

    console = Console(Path.cwd())
    config = load_workspace(project_dir)
    try:
        found = run_query(config, sql, limit)
    except NoStatement:
        raise click.BadParameter("give one read-only SQL statement, e.g. "
                                 "\"from sales.sales limit 5\"", param_hint="'SQL'") from None
    console.table("", found.columns, found.rows)
    if found.more:
        console.print(f"(the first {len(found.rows)} rows; there are more: raise --limit to "
                      "see them)")


LINEAGE_FORMATS = ("text", "json", "mermaid", "dot", "openlineage")


@main.command()
@project_dir_option
@target_options
@click.argument("target", required=False)
@click.option("--upstream", is_flag=True, help="Only what TARGET is computed from.")
@click.option("--downstream", is_flag=True, help="Only what is computed from TARGET.")
@click.option("--depth", type=click.IntRange(min=1), default=None, metavar="N",
              help="Follow at most N steps each way (default: all the way).")
@click.option("--direct-only", is_flag=True,
              help="For columns, follow only value edges (what a column's expression reads: "
                   "DIRECT, and the conditions and windows inside it), not the columns that "
                   "decide which rows exist.")
@click.option("--row-level", is_flag=True, hidden=True,
              help="Accepted for compatibility: row-deciding edges are followed by default.")
@click.option("--format", "fmt", type=click.Choice(LINEAGE_FORMATS), default="text",
              show_default=True, help="text: a tree; json: see docs/lineage.md; mermaid and "
                                      "dot: diagrams; openlineage: run events, one per line.")
@handle_errors
def lineage(project_dir: Path, target: str | None, upstream: bool, downstream: bool,
            depth: int | None, direct_only: bool, row_level: bool, fmt: str) -> None:
    """Show lineage across data products, at product, model or column level.

    \b
    TARGET is one of:
      (nothing)                  the product graph, grouped by domain
      PRODUCT                    products upstream and downstream, e.g. revenue
      PRODUCT.MODEL              models, e.g. orders.fct_orders (or a port: orders.orders)
      PRODUCT.RELATION.COLUMN    columns, e.g. revenue.monthly_revenue.net_revenue, where the
                                 relation is a port, a model or an input; a raw input column
                                 is PRODUCT.INPUT.COLUMN, e.g. orders.raw_orders.amount_cents
    Without --upstream or --downstream, both are shown. Column lineage follows both the
    columns a value is computed from and those that decide which rows exist (filters, joins,
    grouping, sorting with a limit, windows); --direct-only keeps the value edges alone.
    """
    from dpsql.cli.console import Console
    from dpsql.lineage.export import FORMATS
    from dpsql.lineage.graph import build_graph, lineage_diagnostics, resolve_target
    from dpsql.lineage.openlineage import to_openlineage
    from dpsql.lineage.query import ask, concerning

    console = Console(Path.cwd())
    graph = build_graph(_compile(project_dir, console, write=False))
    found = resolve_target(graph, target) if target else None
    both = not upstream and not downstream
    sub = ask(graph, found, upstream=upstream or both, downstream=downstream or both,
              depth=depth, direct_only=direct_only)
    console.diagnostics(lineage_diagnostics(graph, concerning(graph, sub)))
    click.echo(to_openlineage(graph, sub) if fmt == "openlineage" else FORMATS[fmt](sub),
               nl=False)


@main.command()
@project_dir_option
@target_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The folder to write (default: target/docs in the workspace).")
@handle_errors
def docs(project_dir: Path, out: Path | None) -> None:
    """Write a static documentation site: the product graph, a page per product, and column
    lineage to click through. It works offline: open target/docs/index.html in a browser.
    """
    from dpsql.cli.console import Console
    from dpsql.compile.stamp import output_error
    from dpsql.core.errors import DpsqlError
    from dpsql.lineage.graph import build_graph, lineage_diagnostics
    from dpsql.outputs.docs_site import write_site

    console = Console(Path.cwd())
    compiled = _compile(project_dir, console, write=False)
    graph = build_graph(compiled)
    console.diagnostics(lineage_diagnostics(graph))
    folder = out or compiled.project.config.outputs / "docs"
    try:
        index = write_site(graph, folder)
    except OSError as exc:
        raise DpsqlError([output_error(folder, exc.strerror or str(exc))]) from None
    console.print(f"Wrote the docs site: {index}")
