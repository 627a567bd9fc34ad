"""Column lineage held against an independent tracer: sqlglot's `sqlglot.lineage.lineage()`.

Three corpora, every output column of each:

- `shop/...`: every model of every example workspace (projects/*/), compiled with dpsql's API;
- `mesh/...`: every model of a two-product interface mesh (tests/interface_mesh.py: unions,
  structs, lists, ordered aggregates, `using` joins, `group by all`, ports read across);
- `cases/...`: every golden case of tests/fixtures/lineage/cases.yml. dpsql's answer there is the
  case's expected `fields`, which tests/lineage/test_lineage_cases.py holds the tracer to.

sqlglot is asked for each column of the model's compiled SQL, with a schema of every relation
of the workspace (the models' columns and the raw inputs' columns, as DuckDB types them). The
physical columns its lineage graph ends at are compared with the columns dpsql's `fields` lists
for that column (DIRECT edges and the INDIRECT ones tied to the column: CONDITIONAL, WINDOW, an
aggregate's FILTER clause, a scalar subquery's conditions). sqlglot follows the select
expression only, so dpsql's row-level `dataset` is left out of the comparison.

Every disagreement is a row of KNOWN, with who is right and why; the test fails when a
disagreement appears, disappears or changes, and prints the rows to add or drop.
See docs/lineage-differential.md.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import sqlglot
import yaml
from sqlglot import exp
from sqlglot.lineage import Node, lineage

from dpsql.compile.pipeline import compile_project
from dpsql.core.project import CompiledProject
from dpsql.load.loader import load_project

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
CASES = TESTS / "fixtures" / "lineage" / "cases.yml"
NONE = "(none)"  # an answer with no input column: a constant, count(*)


class Known(NamedTuple):
    """A known disagreement: what each tracer says for one output column, and who is right."""

    model: str  # `<workspace>/<product>.<model>` or `cases/<case name>`
    column: str
    sqlglot: str  # the physical columns sqlglot's lineage() ends at, or why it has no answer
    dpsql: str  # the columns of dpsql's `fields` for the column
    why: str


# Every disagreement between the two tracers. A row names who is right; "dpsql misses ..." is a
# bug of dpsql's tracer. Keep the rows sorted by model and column.
KNOWN: tuple[Known, ...] = (
    Known("cases/a lateral range makes rows from its argument", "i",
          "table function RANGE(0, o.customer_id)",
          "s.orders.customer_id",
          "sqlglot is wrong: it stops at the table function; each value of `range(n)` is "
          "computed from n"),
    Known("cases/a named window", "n",
          NONE,
          "s.orders.customer_id",
          "sqlglot is wrong: lineage() reads the columns inside the select expression only and "
          "does not resolve `over w` to `window w as (partition by customer_id)`"),
    Known("cases/a named window", "running",
          "s.orders.amount, s.orders.order_date",
          "s.orders.amount, s.orders.customer_id, s.orders.order_date",
          "sqlglot is wrong: the partition of the named window `w` that `(w order by ...)` extends "
          "is not seen"),
    Known("cases/a recursive CTE is traced through its first branch", "id",
          "s.customers.customer_id, unresolved customers.customer_id",
          "s.customers.customer_id",
          "sqlglot is wrong: it resolves the recursive branch's `r.id` to the anchor's select "
          "but looks its column up among the recursive branch's sources, so it ends at a "
          "Placeholder; dpsql traces both branches to a fixed point (the recursive branch "
          "copies `id`)"),
    Known("cases/a table function has no traced inputs", "n",
          "table function RANGE(0, 3)",
          NONE,
          "both right: sqlglot ends at the table function as if it were a table; its arguments are "
          "constants, so there is no input column"),
    Known("cases/columns() with a pattern is expanded", "_col_0",
          NONE,
          "no such column",
          "sqlglot is wrong: DuckDB expands COLUMNS('re') to the matching columns; sqlglot "
          "keeps one unnamed column"),
    Known("cases/columns() with a pattern is expanded", "amount",
          "no such column",
          "s.orders.amount",
          "sqlglot is wrong: `amount` matches the pattern (sqlglot does not expand COLUMNS)"),
    Known("cases/columns() with a pattern is expanded", "order_id",
          "no such column",
          "s.orders.order_id",
          "sqlglot is wrong: `order_id` matches the pattern (sqlglot does not expand COLUMNS)"),
    Known("cases/except keeps the first branch's values; the rest filter", "customer_id",
          "s.customers.customer_id, s.orders.customer_id",
          "s.orders.customer_id",
          "both right: the values come from the first branch; dpsql keeps the second branch "
          "as a row filter (INDIRECT/FILTER), which its field lineage leaves out"),
    Known("cases/scalar subquery, correlated", "total",
          "s.orders.amount",
          "s.customers.customer_id, s.orders.amount, s.orders.customer_id",
          "sqlglot is wrong: lineage() follows a scalar subquery's select list, not the correlated "
          "WHERE that picks the rows summed, so both customer_id columns are missed"),
    Known("cases/star from a file read directly is left unexpanded", "*",
          "table function READ_CSV('nowhere.csv').*",
          "incomplete",
          "both right: neither can expand `*` over a file read in the query (no schema); dpsql "
          "reports the lineage incomplete (DP502)"),
    Known("cases/the recursive branch of a recursive CTE is traced", "id",
          "s.customers.customer_id, unresolved customers.customer_id",
          "s.customers.customer_id",
          "sqlglot is wrong: it ends the recursive branch at a Placeholder"),
    Known("cases/the recursive branch of a recursive CTE is traced", "path",
          "s.customers.country, s.customers.name, unresolved customers.country",
          "s.customers.country, s.customers.name",
          "sqlglot is wrong: it ends the recursive branch at a Placeholder; dpsql traces the "
          "branch to a fixed point"),
    Known("cases/union all by name matches columns by name", "amount",
          "s.orders.amount, s.payments.payment_id",
          "s.orders.amount, s.payments.amount",
          "sqlglot is wrong: BY NAME matches the branches' columns by name, not position"),
    Known("cases/union all by name matches columns by name", "id",
          "s.orders.order_id, s.payments.amount",
          "s.orders.order_id, s.payments.payment_id",
          "sqlglot is wrong: BY NAME matches the branches' columns by name, not position"),
)


class Answer(NamedTuple):
    model: str
    column: str
    sqlglot: str
    dpsql: str


# --- sqlglot's answer ----------------------------------------------------------------------------


def _leaf(node: Node) -> str | None:
    """What a leaf of sqlglot's lineage graph stands for; None for a constant (no column)."""
    source = node.expression
    star = node.name == "*"
    if isinstance(source, exp.Placeholder):
        return f"unresolved {node.name}"
    if isinstance(source, exp.Table):
        if not isinstance(source.this, exp.Identifier):
            return f"table function {source.this.sql(dialect='duckdb')}" + (".*" if star else "")
        column = "*" if star else _column_name(node.name)
        return ".".join(p for p in (source.db, source.name, column) if p)
    return "unexpanded *" if star else None  # else a select reading no column, a VALUES column


def _column_name(name: str) -> str:
    """The column of a leaf's name (`o.amount`, `"o"."amount"`)."""
    parsed = sqlglot.parse_one(name, dialect="duckdb")
    return parsed.name if isinstance(parsed, exp.Column) else name


def _describe(node: Node) -> str:
    found = {leaf for n in node.walk() if not n.downstream and (leaf := _leaf(n)) is not None}
    return ", ".join(sorted(found)) or NONE


def _failed(exc: Exception) -> str:
    return f"sqlglot cannot trace: {type(exc).__name__}"


def sqlglot_answers(sql: str, schema: Mapping[str, Any], columns: Iterable[str]) -> dict[str, str]:
    """Output column -> sqlglot's answer; one call for the whole query, one per column if it fails."""
    try:
        nodes = lineage(None, sql, schema=dict(schema), dialect="duckdb")
        return {name: _describe(node) for name, node in nodes.items()}
    except Exception:  # whatever sqlglot raises is recorded as its answer, column by column
        pass
    out: dict[str, str] = {}
    for column in columns:
        try:
            out[column] = _describe(lineage(column, sql, schema=dict(schema), dialect="duckdb"))
        except Exception as exc:
            out[column] = _failed(exc)
    return out


# --- the corpora ---------------------------------------------------------------------------------


def workspace_schema(compiled: CompiledProject) -> dict[str, dict[str, dict[str, str]]]:
    """schema -> table -> column -> DuckDB type, for every model and raw input of a workspace."""
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for product in compiled.project.products:
        for spec in product.spec.inputs:
            columns = compiled.sources.get((product.name, spec.name))
            if columns is not None:
                relation = product.relation_of_input(spec)
                schema.setdefault(relation.schema, {})[relation.name] = {
                    c.name: c.type for c in columns}
    for model in compiled.models.values():
        if model.columns is not None:
            schema.setdefault(model.relation.schema, {})[model.relation.name] = {
                c.name: c.type for c in model.columns}
    return schema


def workspace_answers(label: str, root: Path) -> Iterator[Answer]:
    compiled = compile_project(load_project(root))
    assert not compiled.errors, [d.message for d in compiled.errors]
    schema = workspace_schema(compiled)
    for model_id in compiled.order:
        model = compiled.models[model_id]
        assert model.columns is not None and model.lineage is not None, model_id
        names = [c.name for c in model.columns]
        theirs = sqlglot_answers(model.sql, schema, names)
        fields = model.lineage.fields
        for name in names:
            if name in fields:
                ours = ", ".join(sorted(str(c) for c in fields[name])) or NONE
            else:
                ours = "incomplete" if model.lineage.problems else "no lineage"
            yield Answer(f"{label}/{model_id}", name, theirs.get(name, "no such column"), ours)


def case_answers() -> Iterator[Answer]:
    doc = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for name, columns in doc["schema"].items():
        db, table = name.split(".")
        schema.setdefault(db, {})[table] = {c: str(t) for c, t in columns.items()}
    for case in doc["cases"]:
        fields: Mapping[str, list[str] | None] = case.get("fields") or {}
        theirs = sqlglot_answers(case["sql"], schema, fields)
        for name in dict.fromkeys([*fields, *theirs]):
            if case.get("problems"):
                ours = "incomplete"
            elif name in fields:
                ours = ", ".join(sorted({e.rsplit(" ", 1)[0] for e in fields[name] or ()})) or NONE
            else:
                ours = "no such column"
            yield Answer(f"cases/{case['name']}", name, theirs.get(name, "no such column"), ours)


@cache
def all_answers() -> tuple[Answer, ...]:
    from interface_mesh import generate  # tests/ is on the path under pytest (and in __main__)

    answers: list[Answer] = []
    for config in sorted((ROOT / "projects").glob("*/dpsql.yml")):
        answers.extend(workspace_answers(config.parent.name, config.parent))
    with tempfile.TemporaryDirectory() as tmp:
        answers.extend(workspace_answers("mesh", generate(Path(tmp), products=2, rows=5)))
    answers.extend(case_answers())
    return tuple(answers)


def disagreements(answers: Iterable[Answer]) -> set[Answer]:
    return {a for a in answers if a.sqlglot != a.dpsql}


# --- the tests -----------------------------------------------------------------------------------


def _row(a: Answer | Known) -> str:
    why = a.why if isinstance(a, Known) else "<who is right, and why>"
    return f"    Known({a.model!r}, {a.column!r},\n          {a.sqlglot!r},\n          {a.dpsql!r},\n" \
           f"          {why!r}),"


def test_the_tracers_disagree_exactly_where_known() -> None:
    found = disagreements(all_answers())
    known = {Answer(k.model, k.column, k.sqlglot, k.dpsql): k for k in KNOWN}
    new = sorted(found - set(known))
    gone = sorted(set(known) - found)
    message = []
    if new:
        message.append("sqlglot and dpsql disagree where KNOWN does not say so; if dpsql is wrong it "
                       "is a tracer bug, otherwise add the row with who is right and why:")
        message.extend(_row(a) for a in new)
    if gone:
        message.append("KNOWN rows that no longer hold (fixed, or the answers changed): drop or "
                       "update them:")
        message.extend(_row(known[a]) for a in gone)
    assert not message, "\n".join(message)


def test_known_rows_are_distinct_sorted_and_justified() -> None:
    keys = [(k.model, k.column) for k in KNOWN]
    assert keys == sorted(set(keys)), "one row per column, sorted by model and column"
    for k in KNOWN:
        assert k.sqlglot != k.dpsql, k
        assert k.why.startswith(("sqlglot is wrong", "dpsql misses", "dpsql is wrong", "both right")), k


def test_every_corpus_is_compared() -> None:
    answers = all_answers()
    for corpus in ("shop/", "mesh/", "cases/"):
        mine = [a for a in answers if a.model.startswith(corpus)]
        agreed = [a for a in mine if a.sqlglot == a.dpsql]
        assert mine and len(agreed) > len(mine) // 2, corpus
        assert any(a.sqlglot not in (NONE, "incomplete") for a in agreed), corpus
    shop_models = {a.model for a in answers if a.model.startswith("shop/")}
    assert len(shop_models) == len(list((ROOT / "projects" / "shop").rglob("models/*.sql")))


@pytest.mark.parametrize(("sql", "column", "want"), [
    ("select o.amount * 2 as a from s.t as o", "a", "s.t.amount"),
    ("select count(*) as n from s.t", "n", NONE),
    ("select * from s.t", "amount", "s.t.amount"),
    ("select r.range as k from range(3) as r", "k", "table function RANGE(0, 3)"),
    ("select nope as x from s.t as a, s.t as b", "x", "unresolved nope"),
    ("pivot s.t on amount using count(*)", "amount", "sqlglot cannot trace: SqlglotError"),
])
def test_leaves_of_sqlglot_graph(sql: str, column: str, want: str) -> None:
    schema = {"s": {"t": {"amount": "decimal(18,2)"}}}
    assert sqlglot_answers(sql, schema, [column])[column] == want


def main() -> None:
    """Print the counts and the disagreements (for docs/lineage-differential.md)."""
    answers = all_answers()
    for corpus in ("shop/", "mesh/", "cases/"):
        mine = [a for a in answers if a.model.startswith(corpus)]
        agreed = sum(a.sqlglot == a.dpsql for a in mine)
        models = len({a.model for a in mine})
        print(f"{corpus:8} {models:3} models  {len(mine):4} columns  {agreed:4} agree")
    for a in sorted(disagreements(answers)):
        print(f"{a.model} {a.column}: sqlglot {a.sqlglot!r}, dpsql {a.dpsql!r}")


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS))
    main()
