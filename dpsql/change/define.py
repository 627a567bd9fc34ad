"""Definitions compared instead of text: a port column's expression traced through the models
of its product to the product's inputs, and what decides a model's rows, both normalised so
that formatting, comments, aliases and the order of commutative terms make no difference."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope
from sqlglot.optimizer.simplify import simplify

from dpsql.change.side import Side
from dpsql.core.lineage import Col, rows_of
from dpsql.core.project import CompiledModel

log = logging.getLogger("dpsql")

DIALECT = "duckdb"
_COMMUTATIVE = (exp.Add, exp.Mul, exp.And, exp.Or, exp.EQ, exp.NEQ, exp.BitwiseAnd,
                exp.BitwiseOr)
MISSING = "<missing>"  # in a definition: a column read that no relation provides
_ROW_CLAUSES = ("where", "having", "qualify", "group", "distinct", "limit", "offset")


def _operands(node: exp.Expr, kind: type) -> list[exp.Expr]:
    if isinstance(node, kind):
        return [*_operands(node.args["this"], kind), *_operands(node.args["expression"], kind)]
    return [node]


def _sort_commutative(tree: exp.Expr) -> exp.Expr:
    """Order the operands of `a + b`, `a and b`, `a = b` ... by their text, innermost first."""
    for node in reversed(list(tree.walk())):
        if not isinstance(node, _COMMUTATIVE):
            continue
        kind = type(node)
        parts = sorted(_operands(node, kind), key=lambda n: n.sql(DIALECT))
        rebuilt = parts[0].copy()
        for part in parts[1:]:
            rebuilt = kind(this=rebuilt, expression=part.copy())
        if node is tree:
            tree = rebuilt
        else:
            node.replace(rebuilt)
    return tree


def normal(node: exp.Expr | None) -> str:
    """The text of an expression without its alias, table qualifiers, aliases of tables,
    comments or formatting, simplified and with commutative operands ordered."""
    if node is None:
        return ""
    tree = node.copy()
    if isinstance(tree, exp.Alias):
        tree = tree.this
    for column in list(tree.find_all(exp.Column)):
        column.set("table", None)
        column.set("db", None)
    for table in list(tree.find_all(exp.Table, exp.Subquery)):
        table.set("alias", None)
    with contextlib.suppress(SqlglotError, RecursionError, ValueError, TypeError):
        tree = simplify(tree)
    return _sort_commutative(tree).sql(DIALECT, comments=False, normalize=True)


def _parsed(sql: str) -> exp.Expr:
    """A model's SQL parsed, its CTEs renamed in the order they are defined, so that the names
    of CTEs make no difference either."""
    tree = sqlglot.parse_one(sql, read=DIALECT)
    for i, cte in enumerate(list(tree.find_all(exp.CTE))):
        old, new = cte.alias, f"_cte{i}"
        for table in tree.find_all(exp.Table):
            if not table.db and table.name == old:
                table.set("this", exp.to_identifier(new))
        cte.set("alias", exp.TableAlias(this=exp.to_identifier(new)))
    return tree


def model_text(model: CompiledModel, *, rendered: bool = False) -> str:
    """A model's whole SQL (compiled, or as rendered), normalised: a patch-level change is a
    change of this."""
    sql = model.rendered_sql if rendered else model.sql
    try:
        return normal(_parsed(sql))
    except (SqlglotError, RecursionError):
        return " ".join(sql.split())


def _same_product_model(side: Side, table: exp.Table, product: str) -> CompiledModel | None:
    model = side.by_relation.get((table.db, table.name))
    return model if model is not None and model.product == product else None


def _node_definition(side: Side, node: Node, product: str, depth: int) -> str:
    source = node.expression
    if isinstance(source, exp.Table):
        column = node.name.split(".")[-1]
        upstream = _same_product_model(side, source, product)
        if upstream is not None and depth < 50:
            return column_definition(side, upstream, column, depth + 1)
        return f"<{source.db}.{source.name}.{column}>"
    if not node.downstream and (isinstance(source, exp.Placeholder)
                                or any(source.find_all(exp.Column))):
        return MISSING  # reads a column that nothing upstream provides
    kids = sorted(_node_definition(side, d, product, depth) for d in node.downstream)
    return f"{normal(source)}[{','.join(kids)}]"


def _scope(side: Side, model: CompiledModel) -> tuple[Any, Any]:
    """A model's SQL qualified against the side's schema, and its scope, built once."""
    if model.id not in side.scopes:
        tree = qualify(sqlglot.parse_one(model.sql, read=DIALECT), dialect=DIALECT,
                       schema=side.mapping_schema, validate_qualify_columns=False, identify=False)
        side.scopes[model.id] = (tree, build_scope(tree))
    return side.scopes[model.id]


def column_definition(side: Side, model: CompiledModel, column: str, depth: int = 0) -> str:
    """What a column of a model is computed from, traced through the models of its product to
    the product's inputs and other products' ports, normalised. The whole model's text when
    sqlglot cannot trace it."""
    key = ("column", model.id, column)
    if key not in side.memo:
        side.memo[key] = "<cycle>"  # a column read back on the way: its definition is open
        try:
            tree, scope = _scope(side, model)
            node = lineage(column, tree, schema=side.mapping_schema, dialect=DIALECT, scope=scope,
                           copy=False)
            side.memo[key] = _node_definition(side, node, model.product, depth)
        except (SqlglotError, RecursionError, KeyError, ValueError) as exc:
            log.info("diff: %s.%s traced as a whole model: %s", model.id, column, exc)
            side.memo[key] = "<model>" + model_text(model)
    return side.memo[key]


def _clauses(tree: exp.Expr) -> list[str]:
    """The row-deciding clauses of every query in a model's SQL, normalised."""
    parts: list[str] = []
    for select in tree.find_all(exp.Select):
        for name in _ROW_CLAUSES:
            if select.args.get(name) is not None:
                parts.append(f"{name}:{normal(select.args[name])}")
        # which relations are read is in the lineage (their rows nodes), not here
        for join in select.args.get("joins") or []:
            parts.append(f"join:{join.side}{join.kind}:{normal(join.args.get('on'))}:"
                         f"{[normal(u) for u in join.args.get('using') or []]}")
    for union in tree.find_all(exp.SetOperation):
        parts.append(f"set:{type(union).__name__}:{bool(union.args.get('distinct'))}")
    return sorted(parts)


def _rows_read(side: Side, model: CompiledModel, traced: bool) -> list[Col]:
    """What a model's rows are decided by in the relations it reads: from its lineage when
    `traced`, else (a model that does not compile on one side) the rows of each relation."""
    if traced and model.lineage is not None:
        return sorted(model.lineage.rows)
    try:
        tables = _parsed(model.sql).find_all(exp.Table)
        return sorted({rows_of(t.db, t.name) for t in tables if t.db})
    except (SqlglotError, RecursionError):
        return []


def rows_definition(side: Side, model: CompiledModel, traced: bool = True, depth: int = 0) -> str:
    """What decides a model's rows: its filters, joins, grouping, limits and set operations,
    the definitions of the columns they read and the rows of the relations it reads, within
    its product. Not `traced`: without lineage, for a port that does not compile on a side."""
    key = ("rows", model.id, traced)
    if key in side.memo:
        return side.memo[key]
    side.memo[key] = "<cycle>"
    try:
        parts = _clauses(_parsed(model.sql))
    except (SqlglotError, RecursionError):
        parts = [" ".join(model.sql.split())]
    for col in _rows_read(side, model, traced):
        upstream = side.by_relation.get((col.schema, col.name))
        if upstream is None or upstream.product != model.product or depth >= 50:
            parts.append(f"<{col}>")
        elif col.is_rows:
            parts.append("rows:" + rows_definition(side, upstream, traced, depth + 1))
        else:
            parts.append("col:" + column_definition(side, upstream, col.column, depth + 1))
    side.memo[key] = "|".join(parts)
    return side.memo[key]
