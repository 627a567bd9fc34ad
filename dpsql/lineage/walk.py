"""Walking one expression of a traced scope: which input columns it reads, and how.

The tracer (dpsql/lineage/trace.py) walks the scopes of a query; for each select-list item,
clause and condition it calls `_walk`, which follows columns into the scopes they come from
(CTEs, subqueries, table functions) and records each input column with its subtype.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from dpsql.core.lineage import (
    AGGREGATION,
    CONDITIONAL,
    FILTER,
    GROUP_BY,
    SORT,
    TRANSFORMATION,
    WINDOW,
    Col,
    rows_of,
)
from dpsql.lineage.scopes import ScopeResult, Sources, merge, push

log = logging.getLogger("dpsql")


class ExpressionWalker:
    """The state a walk reads and writes: traced scopes, problems, and where row deciders go."""

    def __init__(self) -> None:
        self.results: dict[int, ScopeResult] = {}
        self.problems: list[str] = []
        self._windows: dict[str, exp.Expr] = {}  # named windows of the select being traced
        self._sink: Sources | None = None  # collects what decides the rows of what is walked
        self._unresolved = False  # a recursive CTE read itself before it was traced
        self._by_query: dict[int, ScopeResult] = {}  # id of a scope's query -> its result
        self._recursive: dict[int, ScopeResult] = {}  # id of an anchor -> its recursive CTE
        # CTEs whose body is a PIVOT: sqlglot makes no scope of them, so they look like tables
        self.pivots: dict[str, ScopeResult] = {}

    def pivot_cte(self, source: object) -> ScopeResult | None:
        if isinstance(source, exp.Table) and not source.db:
            return self.pivots.get(source.name)
        return None

    def result_of(self, scope: Scope) -> ScopeResult | None:
        """A scope's result; a recursive CTE's self-reference is a scope of its own, found by
        the query it stands for."""
        found = self.results.get(id(scope))
        if found is None:
            key = id(scope.expression)
            found = self._recursive.get(key) or self._by_query.get(key)
            self._unresolved = True  # a recursive CTE: another pass until nothing changes
        return found

    def _walk(self, node: exp.Expr | None, ctx: str, scope: Scope,
              aliases: Mapping[str, Sources], out: Sources) -> None:
        if node is None:
            return
        if isinstance(node, exp.Column):
            self._column(node, ctx, scope, aliases, out)
            return
        if isinstance(node, exp.Query):
            while isinstance(node, exp.Subquery):
                node = node.this
            self._subquery(node, ctx, scope, out)
            return
        if isinstance(node, exp.Window):
            self._window(node, ctx, scope, aliases, out)
            return
        if isinstance(node, exp.Filter):  # sum(x) filter (where y > 0)
            self._walk(node.this, ctx, scope, aliases, out)
            self._walk(node.expression, push(ctx, FILTER), scope, aliases, out)
            return
        if isinstance(node, exp.Case | exp.If):
            self._conditional(node, ctx, scope, aliases, out)
            return
        if isinstance(node, exp.Grouping):  # grouping(a): which grouping set the row is in
            for arg in node.iter_expressions():
                self._walk(arg, push(ctx, GROUP_BY), scope, aliases, out)
            return
        if isinstance(node, exp.Order):  # string_agg(x, ',' order by y), list(x order by y)
            self._walk(node.this, ctx, scope, aliases, out)
            for item in node.expressions:
                self._walk(item, push(ctx, SORT), scope, aliases, out)
            return
        if isinstance(node, exp.ArgMax | exp.ArgMin):  # arg_max(x, y): y orders, x is taken
            agg = push(ctx, AGGREGATION)
            self._walk(node.this, agg, scope, aliases, out)
            self._walk(node.expression, push(agg, SORT), scope, aliases, out)
            return
        if isinstance(node, exp.AggFunc) and not isinstance(node, _ONE_ROW):
            ctx = push(ctx, AGGREGATION)
        for child in node.iter_expressions():
            self._walk(child, ctx, scope, aliases, out)

    def _window(self, node: exp.Window, ctx: str, scope: Scope, aliases: Mapping[str, Sources],
                out: Sources) -> None:
        self._walk(node.this, ctx, scope, aliases, out)
        inner = push(ctx, WINDOW)
        specs: list[exp.Expr] = [node]
        named = node.args.get("alias")
        if isinstance(named, exp.Identifier) and named.name in self._windows:
            specs.append(self._windows[named.name])  # `over w`, `window w as (...)`
        for spec in specs:
            for part in spec.args.get("partition_by") or ():
                self._walk(part, inner, scope, aliases, out)
            if spec.args.get("order") is not None:
                self._walk(spec.args["order"], inner, scope, aliases, out)

    def _conditional(self, node: exp.Case | exp.If, ctx: str, scope: Scope,
                     aliases: Mapping[str, Sources], out: Sources) -> None:
        cond = push(ctx, CONDITIONAL)
        if isinstance(node, exp.If):
            self._walk(node.this, cond, scope, aliases, out)
            for key in ("true", "false"):
                if node.args.get(key) is not None:
                    self._walk(node.args[key], ctx, scope, aliases, out)
            return
        if node.this is not None:
            self._walk(node.this, cond, scope, aliases, out)
        for branch in node.args.get("ifs") or ():
            self._walk(branch.this, cond, scope, aliases, out)
            if branch.args.get("true") is not None:
                self._walk(branch.args["true"], ctx, scope, aliases, out)
        if node.args.get("default") is not None:
            self._walk(node.args["default"], ctx, scope, aliases, out)

    def _column(self, column: exp.Column, ctx: str, scope: Scope,
                aliases: Mapping[str, Sources], out: Sources) -> None:
        table = column.table
        if not table:
            found = aliases.get(column.name)
            if found is not None:  # `order by total`, `distinct on (a)`: a name of this select
                merge(out, found, ctx)
            else:
                log.debug("lineage: column %s has no source", column.sql())
            return
        source = scope.sources.get(table)
        outer = scope.parent
        while source is None and outer is not None:  # a correlated subquery reads outer names
            source = outer.sources.get(table)
            outer = outer.parent
        pivot = self.pivot_cte(source)
        if isinstance(source, Scope) or pivot is not None:
            child = pivot or self.result_of(source)  # type: ignore[arg-type]
            if child is None:  # a recursive CTE reading itself: traced again once it is known
                self._unresolved = True
                return
            sources = child.by_name.get(column.name, child.default)
            if sources is None:
                self.problems.append(f"`{table}.{column.name}` cannot be traced")
                return
            merge(out, sources, ctx)
            if self._sink is not None:
                merge(self._sink, child.rows_by_name.get(column.name, child.row_set))
        elif isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            col = Col(source.db or "main", source.name, column.name)
            bucket = out.get(col)
            if bucket is None:
                bucket = out[col] = set()
            bucket.add(ctx)
            if self._sink is not None:  # the relation's rows node
                rows = self._sink.get(key := rows_of(col.schema, col.name))
                if rows is None:
                    self._sink[key] = {FILTER}
                else:
                    rows.add(FILTER)
        elif isinstance(source, exp.Table) and isinstance(source.this, exp.Expr):
            self._walk(source.this, push(ctx, TRANSFORMATION), scope, {}, out)  # range(o.n)
        else:
            log.debug("lineage: %s reads a table function or an unknown source", column.sql())

    def _subquery(self, node: exp.Expr, ctx: str, scope: Scope, out: Sources) -> None:
        for child in scope.subquery_scopes:
            if child.expression is node:
                result = self.results.get(id(child))
                if result is not None:
                    # a scalar subquery gives its one column; EXISTS and IN read all of it
                    merge(out, result.everything(0 if len(result.columns) == 1 else None), ctx)
                    if self._sink is not None:
                        merge(self._sink, result.row_set)
                        for rows in result.col_rows:
                            merge(self._sink, rows)
                return
        log.debug("lineage: subquery without a scope in %s", node.sql()[:80])


# window functions that take the value of one other row: a transformation, not an aggregation

_ONE_ROW = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)


