"""Models in another engine's SQL: the `engine SQL` pass, for Spark targets.

Models are written in DuckDB SQL. For a Spark target every model (both variants of an
incremental one) and every data test is transpiled with sqlglot (duckdb -> spark). sqlglot
translates most of DuckDB faithfully, and says nothing where it does not; the constructs below
were each run on both engines, and those whose Spark translation fails or returns other values
are refused here, at compile time, with the file and line of the construct (DP211):

- functions sqlglot does not know (`list_sum`, `age`, `hash`, `week`, ...): passed through by
  name, they do not exist in Spark or compute something else there;
- UNNEST, `range()`, `generate_series()` and `read_*()` in FROM (a lateral view in Spark binds
  columns differently; files are read through `file:` inputs);
- `SELECT * REPLACE`, `UNION BY NAME`, `COLUMNS(...)`, `SIMILAR TO`;
- `dayofweek()` / `extract(dow ...)` (Sunday is 0 in DuckDB, 1 in Spark), `date_diff()` in
  units other than days (DuckDB counts boundaries crossed), `arg_max`/`arg_min` (NULL values
  are treated differently), `quantile_cont`/`quantile_disc`, epoch conversions
  (`epoch_ms`, `to_timestamp`);
- QUALIFY inside a subquery or CTE (Spark's rewrite adds a column).

Each model's columns, typed by DuckDB, must also have a Spark type (sparktypes, DP212).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError

from dpsql.compile.ephemeral import EPHEMERAL_PREFIX
from dpsql.compile.state import CompileState
from dpsql.compile.typing.sparktypes import NoSparkType, to_spark
from dpsql.core.errors import Diagnostic, Location, error
from dpsql.core.project import CompiledModel, EngineSql, Materialization

ENGINE = "spark"
_ALWAYS = {  # node type -> what the construct is called in a message
    exp.Anonymous: "", exp.SimilarTo: "SIMILAR TO", exp.Columns: "COLUMNS(...)",
    exp.DayOfWeek: "dayofweek()", exp.ArgMax: "arg_max()", exp.ArgMin: "arg_min()",
    exp.PercentileCont: "quantile_cont()", exp.PercentileDisc: "quantile_disc()",
    exp.UnixToTime: "an epoch conversion (epoch_ms(), to_timestamp())",
    exp.ReadCSV: "read_csv()", exp.ReadParquet: "read_parquet()",
}
_WHY = {
    "": "sqlglot does not know this function, so it is passed to Spark by name, where it does "
        "not exist or computes something else",
    "FROM": "Spark reads it as a lateral view or not at all; write the query without it, or "
            "build this product on DuckDB",
}
_DAY_UNITS = {"day", "days", "d", "dd"}


def translate(state: CompileState) -> None:
    """For a Spark target: each model's and data test's Spark SQL, or DP211/DP212."""
    if state.project.config.engine != ENGINE:
        return
    models: dict[str, str] = {}
    incremental: dict[str, str] = {}
    for mid in state.order:
        model = state.models[mid]
        tree = state.trees.of(model)
        found = [error("DP211", f"{what} has no faithful Spark translation: {why}",
                       model.template_map.node(node), _HINT)
                 for node, what, why in unsupported(tree)]
        found.extend(_type_problems(model))
        state.diagnostics.extend(found)
        if found or model.config.materialized == Materialization.EPHEMERAL:
            continue
        runs = state.inliner.apply(tree) if state.inliner is not None else tree
        sql = _generate(runs, model.location(), state.diagnostics)
        if sql is not None:
            models[mid] = sql
        if model.incremental_sql is not None:
            variant = _parse_and_generate(model.incremental_sql, model.location(),
                                          state.diagnostics)
            if variant is not None:
                incremental[mid] = variant
    tests: dict[str, str] = {}
    for test in state.tests:
        sql = _parse_and_generate(test.check_sql, test.location, state.diagnostics)
        if sql is not None:
            tests[test.check_sql] = sql  # by what it runs: two uses of one test differ there
    state.engine_sql = EngineSql(ENGINE, MappingProxyType(models),
                                 MappingProxyType(incremental), MappingProxyType(tests))


_HINT = ("models are DuckDB SQL, transpiled for Spark; rewrite this part with constructs both "
         "engines share (docs/engines.md lists what translates), or build on a DuckDB target")


def unsupported(tree: exp.Expr) -> Iterator[tuple[exp.Expr, str, str]]:
    """Each construct of a model's own tree with no faithful Spark translation: (node, what it
    is, why). Nodes inside inlined ephemeral models are the ephemeral model's own business."""
    for node in tree.walk():
        if _in_ephemeral(node):
            continue
        found = _construct(node)
        if found is not None:
            yield node, found[0], found[1]


def _construct(node: exp.Expr) -> tuple[str, str] | None:
    for kind, what in _ALWAYS.items():
        if isinstance(node, kind):
            if kind is exp.Anonymous:
                return f"function `{node.name}()`", _WHY[""]
            return what, "its Spark translation fails or returns other values"
    if isinstance(node, exp.Unnest | exp.GenerateSeries) and isinstance(
            node.parent, exp.From | exp.Join):
        return "UNNEST / a table function in FROM", _WHY["FROM"]
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Func):
        return f"table function `{node.this.sql('duckdb')}` in FROM", _WHY["FROM"]
    if isinstance(node, exp.Star) and node.args.get("replace"):
        return "SELECT * REPLACE", "Spark has no REPLACE modifier for *"
    if isinstance(node, exp.Union) and node.args.get("by_name"):
        return "UNION BY NAME", "Spark has no UNION BY NAME"
    if isinstance(node, exp.Extract) and node.name.lower() in ("dow", "dayofweek", "isodow"):
        return f"extract({node.name} ...)", "Sunday is 0 in DuckDB and 1 in Spark"
    if isinstance(node, exp.DateDiff):
        unit = node.args.get("unit")
        if unit is not None and unit.name.lower() not in _DAY_UNITS:
            return (f"date_diff('{unit.name.lower()}', ...)",
                    "DuckDB counts the boundaries crossed, Spark whole units elapsed")
    if isinstance(node, exp.Qualify) and node.find_ancestor(exp.Subquery, exp.CTE):
        return "QUALIFY in a subquery or CTE", "Spark's rewrite of it adds a column"
    return None


def _in_ephemeral(node: exp.Expr) -> bool:
    cte = node.find_ancestor(exp.CTE)
    return cte is not None and cte.alias.startswith(EPHEMERAL_PREFIX)


def _type_problems(model: CompiledModel) -> list[Diagnostic]:
    out = []
    for column in model.columns or ():
        try:
            to_spark(column.type)
        except NoSparkType as exc:
            out.append(error("DP212", f"column `{column.name}` of `{model.id}` is "
                             f"{column.type}: {exc}", model.location(),
                             "cast it to a type Spark holds (docs/engines.md lists them), or "
                             "build on a DuckDB target"))
    return out


def _generate(tree: exp.Expr, where: Location, diagnostics: list[Diagnostic]) -> str | None:
    try:
        return tree.sql(dialect=ENGINE, unsupported_level=ErrorLevel.RAISE, pretty=True)
    except SqlglotError as exc:
        diagnostics.append(error("DP211", f"no faithful Spark translation: {exc}", where, _HINT))
        return None


def _parse_and_generate(sql: str, where: Location, diagnostics: list[Diagnostic]) -> str | None:
    """Incremental variants and data tests, parsed here (their trees are not kept)."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except (ParseError, TokenError) as exc:  # compiled SQL dpsql itself generated: unexpected
        diagnostics.append(error("DP211", f"cannot read compiled SQL: {exc}", where, _HINT))
        return None
    found = next(unsupported(tree), None)
    if found is not None:
        diagnostics.append(error("DP211", f"{found[1]} has no faithful Spark translation: "
                                 f"{found[2]}", where, _HINT))
        return None
    return _generate(tree, where, diagnostics)
