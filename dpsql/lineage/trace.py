"""Column lineage of one model, read from its qualified query with sqlglot's scopes.

Each output column gets the input columns it is computed from, typed as OpenLineage's
column-lineage facet types them:

    DIRECT    IDENTITY        the value is copied as is (`o.amount`, `o.amount as total`)
              TRANSFORMATION  computed from the value of the same row (`amount * 2`, casts)
              AGGREGATION     computed from the values of many rows (`sum(amount)`)
    INDIRECT  CONDITIONAL     decides which value is taken (`case when status = ...`)
              WINDOW          partitions or orders a window (`over (partition by c)`)
              FILTER          decides which rows exist (where, having, qualify, agg filter)
              JOIN            matches rows (`on a.k = b.k`)
              GROUP_BY        groups rows
              SORT            orders rows

Steps compose as they nest (a column read through CTEs, subqueries and unions): an input stays
DIRECT only while every step is, and then takes the strongest step (AGGREGATION > TRANSFORMATION
> IDENTITY); otherwise it is INDIRECT with the subtype of the outermost indirect step.

Besides where each value comes from, the tracer follows what decides the rows: filters, join
conditions, grouping, DISTINCT, ORDER BY with LIMIT, row generators (UNNEST, range(x)) and the
rows of each relation read (its rows node, `Col(schema, name, "*")`). Each output column gets
what decides the rows its values sit in: a column of the preserved side of a LEFT (or ASOF LEFT)
join does not depend on the other side's join keys or rows. All row-level input columns are
also kept once per query (`dataset`), as OpenLineage's facet keeps them.

The tree is the model's tree qualified by the compile's lineage pass; this module only reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import Schema

from dpsql.core.lineage import (
    FILTER,
    GROUP_BY,
    IDENTITY,
    JOIN,
    SORT,
    TRANSFORMATION,
    Frozen,
    rows_of,
)
from dpsql.lineage.expand import Projection, Unknown, pivot_of, pivot_result, projections
from dpsql.lineage.scopes import RowsSoFar, ScopeResult, Sources, freeze, merge, set_operation
from dpsql.lineage.walk import ExpressionWalker

log = logging.getLogger("dpsql")


class _Tracer(ExpressionWalker):
    """Walks the scopes of one query, children first, and records each scope's result."""

    def __init__(self) -> None:
        super().__init__()
        self._schema: Schema | None = None  # the columns of the relations read, when known
        self._names: Sequence[str] | None = None  # the output names DuckDB describes
        self._root: Scope | None = None
        # whether the query holds COLUMNS(...), UNNEST or a generator function anywhere: when
        # it does not (one search of the tree), no select list is searched for them
        self._rare = True

    def _record(self, scope: Scope) -> None:
        result = self.results[id(scope)] = self._scope(scope)
        self._by_query[id(scope.expression)] = result
        if scope.is_cte and isinstance(scope.expression, exp.SetOperation):
            # WITH RECURSIVE: the self-reference stands for the first branch; it reads the
            # whole CTE, traced again until nothing changes
            for branch in scope.set_operation_scopes[:1]:
                self._recursive[id(branch.expression)] = result

    def _subquery_result(self, query: exp.Query) -> ScopeResult | None:
        """A query sqlglot's scopes do not reach (inside PIVOT), qualified and traced apart."""
        try:
            qualified = qualify(query.copy(), schema=self._schema, dialect="duckdb",
                                validate_qualify_columns=False, quote_identifiers=False,
                                identify=False)
        except Exception as exc:  # sqlglot raises several types
            self.problems.append(f"a query inside PIVOT cannot be qualified ({type(exc).__name__})")
            return None
        inner = _Tracer()
        inner._schema = self._schema
        result = inner.run(qualified) if isinstance(qualified, exp.Query) else None
        self.problems.extend(inner.problems)
        return result

    def run(self, tree: exp.Query) -> ScopeResult | None:
        root = build_scope(tree)
        if root is None:
            self.problems.append("the query has no scope sqlglot can analyse")
            return None
        self._root = root
        self._rare = tree.find(exp.Columns, exp.Explode, exp.Unnest) is not None
        self._pivot_ctes(tree, root)
        scopes = list(root.traverse())
        for scope in scopes:
            self._record(scope)
        passes = 0
        while self._unresolved and passes < 8:  # a recursive CTE: trace it to a fixed point
            before = [r.signature() for r in self.results.values()]
            self._unresolved = False
            for scope in scopes:
                self._record(scope)
            passes += 1
            if [r.signature() for r in self.results.values()] == before:
                break
        return self.results[id(root)]

    # --- one scope ---------------------------------------------------------------------------

    def _scope(self, scope: Scope) -> ScopeResult:
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            return self._set_operation(scope, node)
        if isinstance(node, exp.Select):
            return self._select(scope, node)
        if isinstance(node, exp.Pivot):  # WITH p AS (PIVOT ...): names from the query above
            try:
                return pivot_result(node, scope, None, self._schema, self.result_of,
                                    self._subquery_result, self.problems)
            except Unknown as exc:
                self.problems.append(f"a PIVOT or UNPIVOT cannot be traced: {exc}")
                return ScopeResult([], [])
        return self._table_function(scope, node)

    def _table_function(self, scope: Scope, node: exp.Expr) -> ScopeResult:
        """VALUES (constants) or a table function such as unnest(o.tags): every column it
        yields is computed from its arguments, and so is how many rows it yields."""
        names = list(node.alias_column_names) or ([node.alias] if node.alias else [])
        sources: Sources = {}
        rows: Sources = {}
        if not isinstance(node, exp.Values):
            self._sink = rows
            for arg in node.iter_expressions():
                if not isinstance(arg, exp.TableAlias):
                    self._walk(arg, TRANSFORMATION, scope, {}, sources)
            self._sink = None
        generated: Sources = {}
        merge(generated, sources, JOIN)
        merge(generated, rows)
        dataset = {c: set(t) for c, t in generated.items() if not c.is_rows}
        return ScopeResult(names, [dict(sources) for _ in names], dataset,
                       [dict(generated) for _ in names], generated, default=sources)

    def _set_operation(self, scope: Scope, node: exp.SetOperation) -> ScopeResult:
        branches = [self.results.get(id(s)) for s in scope.set_operation_scopes]
        return set_operation(node, [b for b in branches if b is not None], self.problems)

    def _projections(self, scope: Scope, select: exp.Select) -> list[Projection]:
        try:
            return list(projections(scope, select, self._schema, self.result_of,
                                    self._names if self._expandable(scope) else None,
                                    columns=self._rare))
        except Unknown as exc:
            self.problems.append(f"the select list cannot be expanded: {exc}")
            return [(p.alias_or_name, p.this if isinstance(p, exp.Alias) else p, IDENTITY)
                    for p in select.expressions if not isinstance(p.this, exp.Star)]

    def _expandable(self, scope: Scope) -> bool:
        """The top query reading one CTE or subquery: DuckDB's names can expand its `*`."""
        if scope is not self._root or len(scope.selected_sources) != 1:
            return False
        source = next(iter(scope.selected_sources.values()))[1]
        return isinstance(source, Scope) or self.pivot_cte(source) is not None

    def _pivot_ctes(self, tree: exp.Query, root: Scope) -> None:
        with_ = tree.args.get("with_")
        for cte in with_.expressions if isinstance(with_, exp.With) else ():
            if isinstance(cte.this, exp.Pivot):
                try:
                    self.pivots[cte.alias_or_name] = pivot_result(
                        cte.this, root, None, self._schema, self.result_of,
                        self._subquery_result, self.problems)
                except Unknown as exc:
                    self.problems.append(f"a PIVOT or UNPIVOT cannot be traced: {exc}")

    def _select(self, scope: Scope, select: exp.Select) -> ScopeResult:
        pivot = pivot_of(select)
        if pivot is not None:
            try:
                return pivot_result(pivot, scope, self._names if scope is self._root else None,
                                    self._schema, self.result_of, self._subquery_result,
                                    self.problems)
            except Unknown as exc:
                self.problems.append(f"a PIVOT or UNPIVOT cannot be traced: {exc}")
                return ScopeResult([], [])
        self._windows = {w.name: w for w in select.args.get("windows") or ()}
        rows = RowsSoFar()
        self._from_rows(scope, select, rows)
        for _name, (_node, source) in scope.selected_sources.items():
            child = self.result_of(source) if isinstance(source, Scope) else None
            if child is not None:  # the row-level inputs of what is read stay row-level here
                merge(rows.dataset, child.rows)
        names: list[str] = []
        columns: list[Sources] = []
        col_rows: list[Sources] = []
        aliases: dict[str, Sources] = {}
        for name, body, start in self._projections(scope, select):
            out: Sources = {}
            own: Sources = {}
            self._sink = own
            if isinstance(body, exp.Star):
                self.problems.append("a `*` was left unexpanded (the columns it reads are unknown)")
            else:
                self._walk(body, start, scope, aliases, out)
            self._sink = None
            if rows.sided:
                read = {c.table for c in body.find_all(exp.Column) if c.table}
                for sided_aliases, sources in rows.sided:
                    if read & sided_aliases:
                        merge(own, sources)
            names.append(name)
            columns.append(out)
            col_rows.append(own)
            aliases.setdefault(name, out)
        self._clauses(scope, select, aliases, columns, rows)
        for own in col_rows:
            merge(own, rows.base)
        return ScopeResult(names, columns, rows.dataset, col_rows, rows.base)

    def _from_rows(self, scope: Scope, select: exp.Select, rows: RowsSoFar) -> None:
        """The rows of the relations read in FROM and JOIN, and the join conditions."""
        joins = list(select.args.get("joins") or ())
        sided = {j.alias_or_name for j in joins if j.side == "LEFT"}
        for name in scope.selected_sources:
            if name not in sided:
                rows.add(self._source_rows(scope, name))
        for join in joins:
            condition = join.args.get("on")  # qualify has turned USING (k) into ON
            found: Sources = {}
            if isinstance(condition, exp.Expr):
                self._sink = found
                self._walk(condition, JOIN, scope, {}, found)
                self._sink = None
            if join.side == "LEFT":  # a left (or ASOF left) join keeps every row on its left
                rows.add(found, everywhere=False)
                merge(found, self._source_rows(scope, join.alias_or_name))
                rows.sided.append(({join.alias_or_name}, found))
            else:
                rows.add(found)

    def _source_rows(self, scope: Scope, name: str) -> Sources:
        """What decides the rows of one relation read in FROM or JOIN."""
        entry = scope.selected_sources.get(name)
        source = entry[1] if entry else None
        out: Sources = {}
        pivot = self.pivot_cte(source)
        if pivot is not None:
            merge(out, pivot.row_set)
        elif isinstance(source, Scope):
            child = self.result_of(source)
            if child is None:
                self._unresolved = True
            else:
                merge(out, child.row_set)
        elif isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            out[rows_of(source.db or "main", source.name)] = {FILTER}
        elif isinstance(source, exp.Table) and isinstance(source.this, exp.Expr):
            found: Sources = {}  # a table function such as range(o.n): its arguments
            self._sink = out
            self._walk(source.this, JOIN, scope, {}, found)
            self._sink = None
            merge(out, found)
        return out

    def _clauses(self, scope: Scope, select: exp.Select, aliases: Mapping[str, Sources],
                 columns: list[Sources], rows: RowsSoFar) -> None:
        """Filters, grouping, distinct, sorting and row generators of one select."""
        found: Sources = {}
        self._sink = rows.base
        for key, subtype in (("where", FILTER), ("having", FILTER), ("qualify", FILTER)):
            clause = select.args.get(key)
            if clause is not None:
                self._walk(clause, subtype, scope, aliases, found)
        group = select.args.get("group")
        if group is not None:
            if group.args.get("all"):
                for projection, out in zip(select.expressions, columns, strict=True):
                    if not projection.find(exp.AggFunc):
                        merge(found, out, GROUP_BY)
            else:
                self._walk(group, GROUP_BY, scope, aliases, found)
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on") is not None:
            self._walk(distinct.args["on"], GROUP_BY, scope, aliases, found)
        elif distinct is not None:  # SELECT DISTINCT a, b: each row's values decide
            for out in columns:
                merge(found, out, GROUP_BY)
        for projection in select.expressions if self._rare else ():
            for generator in projection.find_all(exp.Explode, exp.Unnest):  # they make rows
                self._walk(generator, JOIN, scope, aliases, found)
        self._sink = None
        rows.add(found)
        order = select.args.get("order")
        if order is not None:
            ordered: Sources = {}
            self._sink = ordered
            for item in order.expressions:
                if isinstance(item.this, exp.Var) and item.this.name.upper() == "ALL":
                    for out in columns:  # ORDER BY ALL
                        merge(ordered, out, SORT)
                else:
                    self._walk(item, SORT, scope, aliases, ordered)
            self._sink = None
            picks = any(select.args.get(k) is not None for k in ("limit", "offset", "fetch"))
            if distinct is not None and distinct.args.get("on") is not None:
                picks = True  # DISTINCT ON keeps the first row of each group, in this order
            rows.add(ordered, everywhere=picks)  # otherwise order does not pick rows

@dataclass(frozen=True)
class Traced:
    """One query's lineage: per output column its value sources and what decides its rows."""

    names: list[str]
    columns: list[Frozen]
    dataset: Frozen
    col_rows: list[Frozen]
    rows: Frozen
    problems: list[str]


def trace(tree: exp.Query, schema: Schema | None = None, names: Sequence[str] | None = None
          ) -> Traced:
    """Trace a qualified query; `schema` (the columns of what it reads) and `names` (its output
    names as DuckDB describes them) let COLUMNS(...), a struct's `s.*` and PIVOT be expanded."""
    tracer = _Tracer()
    tracer._schema, tracer._names = schema, names
    result = tracer.run(tree)
    empty: Frozen = MappingProxyType({})
    if result is None:
        return Traced([], [], empty, [], empty, tracer.problems)
    return Traced(list(result.names), [freeze(c) for c in result.columns], freeze(result.rows),
                  [freeze(c) for c in result.col_rows], freeze(result.row_set),
                  _dedupe(tracer.problems))


def trace_query(tree: exp.Query) -> tuple[list[str], list[Frozen], Frozen, list[str]]:
    """Output names, each output's sources, row-level sources and problems of one query."""
    found = trace(tree)
    return found.names, found.columns, found.dataset, found.problems


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
