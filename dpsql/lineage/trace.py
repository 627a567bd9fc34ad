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

Row-level dependencies (filters, joins, grouping, sorting) touch every column of a model; they
are kept once per model, in `ModelLineage.dataset`, as OpenLineage's facet keeps them.

The tree is the compiler's `CompiledModel.qualified` (qualified once, never re-parsed); this
module only reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from dpsql.core.lineage import (
    AGGREGATION,
    CONDITIONAL,
    DIRECT_RANK,
    FILTER,
    GROUP_BY,
    IDENTITY,
    JOIN,
    SORT,
    TRANSFORMATION,
    WINDOW,
    Col,
    Frozen,
    ModelLineage,
    compose,
)

if TYPE_CHECKING:
    from dpsql.core.project import CompiledModel

log = logging.getLogger("dpsql")

Sources = dict[Col, set[str]]  # input column -> subtypes, while collecting


def _freeze(sources: Sources) -> Frozen:
    return MappingProxyType({c: frozenset(s) for c, s in sources.items()})


def _merge(into: Sources, sources: Mapping[Col, Iterable[str]], outer: str | None = None) -> None:
    for col, subtypes in sources.items():
        bucket = into.get(col)
        if bucket is None:
            bucket = into[col] = set()
        if outer is None:
            bucket.update(subtypes)
        else:
            for s in subtypes:
                bucket.add(compose(outer, s))


def _push(ctx: str, step: str) -> str:
    """The context inside a nested step: indirect steps win; direct ones take the strongest."""
    if ctx not in DIRECT_RANK:
        return ctx
    return compose(ctx, step)


@dataclass
class _Result:
    """What one scope produces: per output column (in order) its sources, and row-level ones."""

    names: list[str]
    columns: list[Sources]
    rows: Sources = field(default_factory=dict)
    by_name: dict[str, Sources] = field(default_factory=dict)
    default: Sources | None = None  # for table functions: what any of their columns reads

    def __post_init__(self) -> None:
        for name, sources in zip(self.names, self.columns, strict=True):
            self.by_name.setdefault(name, sources)

    def everything(self, index: int | None = None) -> Sources:
        """Sources of one output column (all if None) plus the row-level ones."""
        out: Sources = {}
        for i, sources in enumerate(self.columns):
            if index is None or i == index:
                _merge(out, sources)
        _merge(out, self.rows)
        return out


class _Tracer:
    """Walks the scopes of one query, children first, and records each scope's result."""

    def __init__(self) -> None:
        self.results: dict[int, _Result] = {}
        self.problems: list[str] = []
        self._windows: dict[str, exp.Expr] = {}  # named windows of the select being traced

    def run(self, tree: exp.Query) -> _Result | None:
        root = build_scope(tree)
        if root is None:
            self.problems.append("the query has no scope sqlglot can analyse")
            return None
        for scope in root.traverse():
            self.results[id(scope)] = self._scope(scope)
        return self.results[id(root)]

    # --- one scope ---------------------------------------------------------------------------

    def _scope(self, scope: Scope) -> _Result:
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            return self._set_operation(scope, node)
        if isinstance(node, exp.Select):
            return self._select(scope, node)
        return self._table_function(scope, node)

    def _table_function(self, scope: Scope, node: exp.Expr) -> _Result:
        """VALUES (constants) or a table function such as unnest(o.tags): every column it
        yields is computed from its arguments."""
        names = list(node.alias_column_names) or ([node.alias] if node.alias else [])
        sources: Sources = {}
        if not isinstance(node, exp.Values):
            for arg in node.iter_expressions():
                if not isinstance(arg, exp.TableAlias):
                    self._walk(arg, TRANSFORMATION, scope, {}, sources)
        return _Result(names, [dict(sources) for _ in names], default=sources)

    def _set_operation(self, scope: Scope, node: exp.SetOperation) -> _Result:
        branches = [self.results.get(id(s)) for s in scope.set_operation_scopes]
        parts = [b for b in branches if b is not None]
        if not parts:
            return _Result([], [])
        names = list(parts[0].names)
        columns: list[Sources] = [{} for _ in names]
        rows: Sources = {}
        for part in parts:
            if len(part.columns) != len(names):
                self.problems.append("the branches of a UNION have different numbers of columns")
            for i, sources in enumerate(part.columns[: len(names)]):
                _merge(columns[i], sources)
            _merge(rows, part.rows)
        if node.args.get("order"):
            ordered: Sources = {}
            aliases = dict(zip(names, columns, strict=True))
            for col in node.args["order"].find_all(exp.Column):
                _merge(ordered, aliases.get(col.name, {}), SORT)
            _merge(rows, ordered)
        return _Result(names, columns, rows)

    def _select(self, scope: Scope, select: exp.Select) -> _Result:
        self._windows = {w.name: w for w in select.args.get("windows") or ()}
        names: list[str] = []
        columns: list[Sources] = []
        aliases: dict[str, Sources] = {}
        for projection in select.expressions:
            name = projection.alias_or_name
            body = projection.this if isinstance(projection, exp.Alias) else projection
            out: Sources = {}
            if isinstance(body, exp.Star):
                self.problems.append("a `*` was left unexpanded (the columns it reads are unknown)")
            else:
                self._walk(body, _start(body), scope, aliases, out)
            names.append(name)
            columns.append(out)
            aliases.setdefault(name, out)
        rows: Sources = {}
        # rows of the relations read in FROM and JOIN shape the rows of this scope
        for _name, (_node, source) in scope.selected_sources.items():
            if isinstance(source, Scope):
                child = self.results.get(id(source))
                if child is not None:
                    _merge(rows, child.rows)
        for key, subtype in (("where", FILTER), ("having", FILTER), ("qualify", FILTER),
                             ("order", SORT)):
            clause = select.args.get(key)
            if clause is not None:
                self._walk(clause, subtype, scope, aliases, rows)
        for join in select.args.get("joins") or ():
            condition = join.args.get("on")  # qualify has turned USING (k) into ON
            if isinstance(condition, exp.Expr):
                self._walk(condition, JOIN, scope, aliases, rows)
        group = select.args.get("group")
        if group is not None:
            if group.args.get("all"):
                for projection, out in zip(select.expressions, columns, strict=True):
                    if not projection.find(exp.AggFunc):
                        _merge(rows, out, GROUP_BY)
            else:
                self._walk(group, GROUP_BY, scope, aliases, rows)
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on") is not None:
            self._walk(distinct.args["on"], GROUP_BY, scope, aliases, rows)
        return _Result(names, columns, rows)

    # --- one expression ----------------------------------------------------------------------

    def _walk(self, node: exp.Expr, ctx: str, scope: Scope, aliases: Mapping[str, Sources],
              out: Sources) -> None:
        if isinstance(node, exp.Column):
            self._column(node, ctx, scope, aliases, out)
            return
        if isinstance(node, exp.Query):
            while isinstance(node, exp.Subquery):
                node = node.this
            self._subquery(node, ctx, scope, out)
            return
        if isinstance(node, exp.Window):
            self._walk(node.this, ctx, scope, aliases, out)
            inner = _push(ctx, WINDOW)
            specs: list[exp.Expr] = [node]
            named = node.args.get("alias")
            if isinstance(named, exp.Identifier) and named.name in self._windows:
                specs.append(self._windows[named.name])  # `over w`, `window w as (...)`
            for spec in specs:
                for part in spec.args.get("partition_by") or ():
                    self._walk(part, inner, scope, aliases, out)
                if spec.args.get("order") is not None:
                    self._walk(spec.args["order"], inner, scope, aliases, out)
            return
        if isinstance(node, exp.Filter):  # sum(x) filter (where y > 0)
            self._walk(node.this, ctx, scope, aliases, out)
            self._walk(node.expression, _push(ctx, FILTER), scope, aliases, out)
            return
        if isinstance(node, exp.Case):
            cond = _push(ctx, CONDITIONAL)
            if node.this is not None:
                self._walk(node.this, cond, scope, aliases, out)
            for branch in node.args.get("ifs") or ():
                self._walk(branch.this, cond, scope, aliases, out)
                if branch.args.get("true") is not None:
                    self._walk(branch.args["true"], ctx, scope, aliases, out)
            if node.args.get("default") is not None:
                self._walk(node.args["default"], ctx, scope, aliases, out)
            return
        if isinstance(node, exp.If):
            self._walk(node.this, _push(ctx, CONDITIONAL), scope, aliases, out)
            for key in ("true", "false"):
                if node.args.get(key) is not None:
                    self._walk(node.args[key], ctx, scope, aliases, out)
            return
        if isinstance(node, exp.AggFunc) and not isinstance(node, _ONE_ROW):
            ctx = _push(ctx, AGGREGATION)
        for child in node.iter_expressions():
            self._walk(child, ctx, scope, aliases, out)

    def _column(self, column: exp.Column, ctx: str, scope: Scope,
                aliases: Mapping[str, Sources], out: Sources) -> None:
        table = column.table
        if not table:
            found = aliases.get(column.name)
            if found is not None:  # `order by total`, `distinct on (a)`: a name of this select
                _merge(out, found, ctx)
            else:
                log.debug("lineage: column %s has no source", column.sql())
            return
        source = scope.sources.get(table)
        outer = scope.parent
        while source is None and outer is not None:  # a correlated subquery reads outer names
            source = outer.sources.get(table)
            outer = outer.parent
        if isinstance(source, Scope):
            child = self.results.get(id(source))
            if child is None:  # a recursive CTE reading itself: its first branch says it all
                log.debug("lineage: %s.%s reads a scope not traced yet", table, column.name)
                return
            sources = child.by_name.get(column.name, child.default)
            if sources is None:
                self.problems.append(f"`{table}.{column.name}` cannot be traced")
                return
            _merge(out, sources, ctx)
        elif isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            col = Col(source.db or "main", source.name, column.name)
            bucket = out.get(col)
            if bucket is None:
                bucket = out[col] = set()
            bucket.add(ctx)
        else:
            log.debug("lineage: %s reads a table function or an unknown source", column.sql())

    def _subquery(self, node: exp.Expr, ctx: str, scope: Scope, out: Sources) -> None:
        for child in scope.subquery_scopes:
            if child.expression is node:
                result = self.results.get(id(child))
                if result is not None:
                    # a scalar subquery gives its one column; EXISTS and IN read all of it
                    _merge(out, result.everything(0 if len(result.columns) == 1 else None), ctx)
                return
        log.debug("lineage: subquery without a scope in %s", node.sql()[:80])


# window functions that take the value of one other row: a transformation, not an aggregation
_ONE_ROW = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)


def _start(body: exp.Expr) -> str:
    while isinstance(body, exp.Paren):
        body = body.this
    return IDENTITY if isinstance(body, exp.Column) else TRANSFORMATION


def trace_query(tree: exp.Query) -> tuple[list[str], list[Frozen], Frozen, list[str]]:
    """Output names, each output's sources, row-level sources and problems of one query."""
    tracer = _Tracer()
    result = tracer.run(tree)
    if result is None:
        return [], [], MappingProxyType({}), tracer.problems
    return (list(result.names), [_freeze(c) for c in result.columns], _freeze(result.rows),
            _dedupe(tracer.problems))


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def untraced(model: CompiledModel, reason: str) -> ModelLineage:
    return ModelLineage(model.id, model.relation, MappingProxyType({}), MappingProxyType({}),
                        (reason,))


def model_lineage(model: CompiledModel, qualified: exp.Query | None) -> ModelLineage:
    """The column lineage of one model from its qualified tree (read, never changed)."""
    if qualified is None:
        return untraced(model, "its columns are unknown" if model.columns is None
                        else "sqlglot could not qualify its columns")
    try:
        names, columns, rows, problems = trace_query(qualified)
    except Exception as exc:  # a query shape sqlglot's scopes do not support
        log.info("lineage: cannot trace %s: %s", model.id, exc)
        return ModelLineage(model.id, model.relation, MappingProxyType({}), MappingProxyType({}),
                            (f"its query cannot be traced ({type(exc).__name__})",))
    if model.columns is not None:
        described = [c.name for c in model.columns]
        if len(described) == len(names):
            names = described  # DuckDB's names win: `sum(x)` rather than sqlglot's `_col_1`
        else:
            problems.append(f"sqlglot sees {len(names)} output columns where DuckDB sees "
                            f"{len(described)}")
    fields: dict[str, Frozen] = {}
    for name, sources in zip(names, columns, strict=False):
        fields.setdefault(name, sources)
    for problem in problems:
        log.info("lineage of %s is incomplete: %s", model.id, problem)
    return ModelLineage(model.id, model.relation, MappingProxyType(fields), rows, tuple(problems))


def lineage_to_data(lineage: ModelLineage) -> dict[str, object]:
    """Plain lists and strings, for the compile cache."""
    def cols(frozen: Frozen) -> list[list[object]]:
        return [[c.schema, c.name, c.column, sorted(subtypes)] for c, subtypes in frozen.items()]

    return {"fields": [[name, cols(sources)] for name, sources in lineage.fields.items()],
            "dataset": cols(lineage.dataset), "problems": list(lineage.problems)}


def lineage_from_data(model: CompiledModel, data: Mapping[str, Any]) -> ModelLineage:
    def frozen(rows: Iterable[list[Any]]) -> Frozen:
        return MappingProxyType({Col(s, n, c): frozenset(t) for s, n, c, t in rows})

    fields = {name: frozen(rows) for name, rows in data["fields"]}
    return ModelLineage(model.id, model.relation, MappingProxyType(fields),
                        frozen(data["dataset"]), tuple(data["problems"]))
