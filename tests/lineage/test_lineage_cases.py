"""Golden column-lineage cases (tests/fixtures/lineage/cases.yml), traced the way the compiler
qualifies a model: one case per test, named after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlglot import exp
from sqlglot.schema import MappingSchema

from dpsql.compile.sql import parse_query, qualify_columns
from dpsql.core.lineage import DIRECT_SUBTYPES, INDIRECT_SUBTYPES, Frozen
from dpsql.lineage.trace import trace, trace_query

FIXTURE = Path(__file__).parent.parent / "fixtures" / "lineage" / "cases.yml"
DOC = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
SUBTYPES = set(DIRECT_SUBTYPES) | set(INDIRECT_SUBTYPES)


def _schema() -> MappingSchema:
    schema = MappingSchema(dialect="duckdb", normalize=False)
    for name, columns in DOC["schema"].items():
        db, table = name.split(".")
        schema.add_table(exp.Table(this=exp.to_identifier(table), db=exp.to_identifier(db)),
                         {c: str(t) for c, t in columns.items()}, dialect="duckdb")
    return schema


SCHEMA = _schema()


def _edges(sources: Frozen) -> set[str]:
    return {f"{col} {subtype}" for col, subtypes in sources.items() for subtype in subtypes}


def _expected(items: list[str] | None) -> set[str]:
    out = set(items or ())
    for item in out:
        assert item.rsplit(" ", 1)[1] in SUBTYPES, f"unknown subtype in {item!r}"
    return out


@pytest.mark.parametrize("case", DOC["cases"], ids=[c["name"] for c in DOC["cases"]])
def test_lineage_case(case: dict[str, Any]) -> None:
    tree = parse_query(case["sql"])
    qualified = qualify_columns(tree, SCHEMA)
    assert qualified is not None, "sqlglot could not qualify the case"
    if case.get("schema_needed"):  # COLUMNS(...), struct .*: the tracer needs the columns
        found = trace(qualified, SCHEMA)
        names, columns, rows, problems = found.names, found.columns, found.dataset, found.problems
    else:
        names, columns, rows, problems = trace_query(qualified)
    if case.get("problems"):
        assert problems
        return
    assert not problems, problems
    got = {name: _edges(sources) for name, sources in zip(names, columns, strict=True)}
    want = {name: _expected(edges) for name, edges in case["fields"].items()}
    assert got == want
    assert _edges(rows) == _expected(case.get("dataset"))
    if "row_fields" in case:  # what decides the rows of each column (rows nodes: `s.t.*`)
        found = trace(qualified, SCHEMA)
        got_rows = {n: _edges(r) for n, r in zip(found.names, found.col_rows, strict=True)}
        assert got_rows == {n: _expected(e) for n, e in case["row_fields"].items()}


def test_tracing_leaves_the_tree_untouched() -> None:
    qualified = qualify_columns(parse_query(DOC["cases"][0]["sql"]), SCHEMA)
    assert qualified is not None
    before = qualified.sql()
    trace_query(qualified)
    assert qualified.sql() == before
