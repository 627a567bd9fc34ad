"""Select lists sqlglot leaves unexpanded, expanded for the tracer: DuckDB's `COLUMNS('re')`,
a struct's `s.*`, and `SELECT * FROM (PIVOT ...)` / `(UNPIVOT ...)`.

Each needs the columns of what is read: a relation's from the schema the compile typed the model
with, a CTE's or subquery's from its traced result; the top-level names of a pivot come from
DuckDB, which describes the model. Where they are unknown, the caller reports the lineage as
incomplete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from sqlglot import exp
from sqlglot.optimizer.scope import Scope
from sqlglot.schema import Schema

from dpsql.core.lineage import (
    AGGREGATION,
    CONDITIONAL,
    FILTER,
    GROUP_BY,
    IDENTITY,
    TRANSFORMATION,
    Col,
    rows_of,
)
from dpsql.lineage.scopes import ScopeResult, Sources, merge

Projection = tuple[str, exp.Expr, str]  # output name, expression to walk, starting subtype
Results = Callable[[Scope], ScopeResult | None]
SubTrace = Callable[[exp.Query], ScopeResult | None]  # trace a query that is not a scope


class Unknown(Exception):
    """The columns an expansion needs are not known."""


def source_columns(scope: Scope, alias: str, schema: Schema | None, results: Results
                   ) -> list[str]:
    """The columns of a relation read in FROM or JOIN under `alias`."""
    entry = scope.selected_sources.get(alias)
    source = entry[1] if entry else None
    if isinstance(source, Scope):
        found = results(source)
        if found is None:
            raise Unknown(f"the columns of `{alias}` are unknown")
        return list(found.names)
    if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier) and schema:
        names = schema.column_names(source)
        if names:
            return list(names)
    raise Unknown(f"the columns of `{alias}` are unknown")


def projections(scope: Scope, select: exp.Select, schema: Schema | None, results: Results,
                names: Sequence[str] | None = None, *, columns: bool = True
                ) -> Iterator[Projection]:
    """The select list with COLUMNS('re') and struct `s.*` expanded, and a `*` that sqlglot
    could not expand over one source expanded to `names` (DuckDB's, given for the top query
    over one CTE or subquery); without `columns` the query holds no COLUMNS(...) at all."""
    for projection in select.expressions:
        body = projection.this if isinstance(projection, exp.Alias) else projection
        if (isinstance(body, exp.Star) and names is not None and len(select.expressions) == 1
                and len(scope.selected_sources) == 1):
            alias = next(iter(scope.selected_sources))
            for name in names:
                yield name, exp.column(name, table=alias), IDENTITY
        elif isinstance(body, exp.Columns) and isinstance(body.this, exp.Literal):
            pattern = re.compile(body.this.name)
            for alias in scope.selected_sources:
                for name in source_columns(scope, alias, schema, results):
                    if pattern.search(name):
                        yield name, exp.column(name, table=alias), IDENTITY
        elif isinstance(body, exp.Columns):
            raise Unknown("COLUMNS(...) with a lambda or a star is not traced")
        elif columns and body.find(exp.Columns):
            raise Unknown("COLUMNS(...) inside an expression is not traced")
        elif (isinstance(body, exp.Dot) and isinstance(body.expression, exp.Star)
              and isinstance(body.this, exp.Column)):
            yield from _struct_star(scope, body.this.table, body.this.name, schema)
        else:
            yield projection.alias_or_name, body, TRANSFORMATION if not isinstance(
                _unparen(body), exp.Column) else IDENTITY


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _struct_star(scope: Scope, alias: str, column: str, schema: Schema | None
                 ) -> Iterator[Projection]:
    """`t.s.*` of a struct column s: one output per field, each computed from s."""
    if not alias:  # `s.*` where s is a struct column of the only source
        sources = list(scope.selected_sources)
        if len(sources) != 1:
            raise Unknown(f"the struct `{column}` is not known")
        alias = sources[0]
    entry = scope.selected_sources.get(alias)
    source = entry[1] if entry else None
    for field in _struct_fields(source, column, schema):
        yield field, exp.column(column, table=alias), TRANSFORMATION


def _struct_fields(source: object, column: str, schema: Schema | None) -> list[str]:
    """The field names of a struct column: from the schema for a relation, from the struct
    literal (`{'a': x, 'b': y}`) that makes it for a CTE or subquery."""
    if isinstance(source, exp.Table) and schema is not None:
        kind = schema.get_column_type(source, column)
        if kind.is_type(exp.DataType.Type.STRUCT):
            return [f.name for f in kind.expressions if isinstance(f, exp.ColumnDef)]
    if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
        for item in source.expression.expressions:
            if item.alias_or_name == column and isinstance(item.unalias(), exp.Struct):
                return [p.this.name for p in item.unalias().expressions
                        if isinstance(p, exp.PropertyEQ)]
    raise Unknown(f"the fields of `{column}` are unknown")


def pivot_result(pivot: exp.Pivot, scope: Scope, names: Sequence[str] | None,
                 schema: Schema | None, results: Results, subquery: SubTrace,
                 problems: list[str]) -> ScopeResult:
    """`SELECT * FROM (PIVOT t ON k USING agg(v) [GROUP BY g])` and UNPIVOT. `names` are the
    output names DuckDB describes, when known; otherwise the names that can be told from the
    query, and any other column is a pivoted value (`default`)."""
    read = _pivot_source(pivot, scope, schema, results, subquery)
    on = [c.name for e in pivot.expressions for c in e.find_all(exp.Column)]
    if pivot.args.get("unpivot"):
        return _unpivot(pivot, names or _unpivot_names(pivot, on, read), on, read)
    if not all(isinstance(e, exp.In) for e in pivot.expressions):
        problems.append("the columns of a PIVOT without `IN (...)` depend on the data; name "
                        "the values: PIVOT ... ON k IN ('a', 'b')")
    used: dict[str, str] = {}
    for agg in pivot.args.get("using") or ():
        for col in agg.find_all(exp.Column):
            used[col.name] = AGGREGATION
    group = pivot.args.get("group")
    keys = ([c.name for c in group.find_all(exp.Column)] if group is not None else
            [n for n in read.columns if n not in on and n not in used])
    rows: Sources = dict(read.rows)
    for key in keys:
        merge(rows, read.value(key), GROUP_BY)
    values: Sources = {}
    for name, subtype in used.items():
        merge(values, read.value(name), subtype)
    for name in on:
        merge(values, read.value(name), CONDITIONAL)
    if names is None:
        names = keys + [str(v.name) for e in pivot.expressions if isinstance(e, exp.In)
                        for v in e.expressions if isinstance(v, exp.Literal)]
    columns = [read.value(n) if n in keys else dict(values) for n in names]
    return ScopeResult(list(names), columns, {c: s for c, s in rows.items() if not c.is_rows},
                       [dict(rows) for _ in names], rows, default=values)


def _unpivot_names(pivot: exp.Pivot, on: list[str], read: _Read) -> list[str]:
    into = pivot.args.get("into")
    name_column = into.this.name if isinstance(into, exp.Expr) and into.this else "name"
    values = ([e.name for e in into.expressions] if isinstance(into, exp.Expr) else ["value"])
    return [c for c in read.columns if c not in on] + [name_column, *values]


def _unpivot(pivot: exp.Pivot, names: Sequence[str], on: list[str], read: _Read
             ) -> ScopeResult:
    into = pivot.args.get("into")
    name_column = into.this.name if isinstance(into, exp.Expr) and into.this else "name"
    value_columns = ({e.name for e in into.expressions} if isinstance(into, exp.Expr)
                     else {"value"})
    rows: Sources = dict(read.rows)
    for name in on:  # DuckDB leaves out the NULL values
        merge(rows, read.value(name), FILTER)
    values: Sources = {}
    for name in on:
        merge(values, read.value(name))
    columns = [values if n in value_columns else {} if n == name_column else read.value(n)
               for n in names]
    return ScopeResult(list(names), [dict(c) for c in columns],
                       {c: s for c, s in rows.items() if not c.is_rows},
                       [dict(rows) for _ in names], rows)


class _Read:
    """The relation a PIVOT reads: its columns, each column's sources, and its rows."""

    def __init__(self, columns: list[str], value: Callable[[str], Sources], rows: Sources):
        self.columns = columns
        self.value = value
        self.rows = rows


def _pivot_source(pivot: exp.Pivot, scope: Scope, schema: Schema | None, results: Results,
                  subquery: SubTrace) -> _Read:
    table = pivot.this
    if isinstance(table, exp.Subquery) and isinstance(table.this, exp.Query):
        inner = subquery(table.this)
        if inner is None:
            raise Unknown("what the PIVOT reads is unknown")
        return _Read(list(inner.names), lambda n: dict(inner.by_name.get(n, {})),
                     dict(inner.row_set))
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise Unknown("what the PIVOT reads is unknown")
    child = scope.sources.get(table.name) if not table.db else None
    if isinstance(child, Scope):
        found = results(child)
        if found is None:
            raise Unknown(f"the columns of `{table.name}` are unknown")
        return _Read(list(found.names), lambda n: dict(found.by_name.get(n, {})),
                     dict(found.row_set))
    columns = list(schema.column_names(table)) if schema is not None else []
    if not columns:
        raise Unknown(f"the columns of `{table.name}` are unknown")
    db = table.db or "main"
    return _Read(columns, lambda n: {Col(db, table.name, n): {IDENTITY}} if n in columns else {},
                 {rows_of(db, table.name): {FILTER}})


def pivot_of(select: exp.Select) -> exp.Pivot | None:
    """The PIVOT (or UNPIVOT) of `SELECT * FROM (PIVOT ...)`, if the select is that."""
    if len(select.expressions) != 1 or not isinstance(select.expressions[0], exp.Star):
        return None
    source = select.args.get("from_")
    inner = source.this if isinstance(source, exp.From) else None
    if isinstance(inner, exp.Subquery) and isinstance(inner.this, exp.Pivot):
        return inner.this
    return None
