"""Which values an expression keeps: the tree a classification label flows through.

A label (`pii`) flows along DIRECT lineage, but not through every DIRECT step: an aggregate
that computes a new value (`count`, `sum`, `avg`) does not hand on what it read, and neither
does a masking function (`sha256`). `keeping_tree` rewrites a query so that plain lineage
answers the question: every such call becomes NULL, and what is still DIRECT in the lineage of
the rewritten query is what keeps the source's values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import Schema

from dpsql.core.lineage import Col, ModelLineage, is_direct
from dpsql.lineage.model import model_lineage

if TYPE_CHECKING:
    from dpsql.core.project import CompiledModel

log = logging.getLogger("dpsql")

# aggregates (and window functions) whose result is one of the values they read
KEEPING = frozenset({
    "min", "max", "any_value", "arbitrary", "first", "last", "arg_min", "arg_max", "argmin",
    "argmax", "min_by", "max_by", "array_agg", "list", "string_agg", "group_concat", "listagg",
    "mode", "first_value", "last_value", "nth_value", "lag", "lead",
})
_WRAPPERS = (exp.Window, exp.Filter, exp.IgnoreNulls, exp.RespectNulls, exp.WithinGroup)


def function_names(node: exp.Func) -> set[str]:
    """The names a call goes by: as written in DuckDB SQL, and sqlglot's own names for it."""
    names = {node.sql_name().lower(), type(node).__name__.lower()}
    if isinstance(node, exp.Anonymous):
        names.add(node.name.lower())
    head = node.sql(dialect="duckdb").split("(", 1)[0].strip().lower()
    if head:
        names.add(head)
    return names


def stops(node: exp.Func, masks: Iterable[str], aggregates: bool = True) -> bool:
    """Whether the values a call reads do not reach its result (for labels masked by `masks`);
    `aggregates`: an aggregate that computes a new value stops them too."""
    names = function_names(node)
    if names & set(masks):
        return True
    return aggregates and isinstance(node, exp.AggFunc) and not names & KEEPING


def keeping_tree(tree: exp.Query, masks: Iterable[str], aggregates: bool = True) -> exp.Query:
    """A copy of `tree` where every call that `stops` values is NULL."""
    masks = frozenset(m.lower() for m in masks)
    copy = tree.copy()
    for node in list(copy.find_all(exp.Func)):
        if not stops(node, masks, aggregates):
            continue
        target: exp.Expr = node
        while isinstance(target.parent, _WRAPPERS) and target.arg_key == "this":
            target = target.parent
        if target.parent is not None or target is not copy:
            target.replace(exp.Null())
    return copy


def masked_inputs(model: CompiledModel, lineage: ModelLineage, masks: frozenset[str],
                  schema: Schema) -> dict[str, frozenset[Col]]:
    """Per output column, the DIRECT sources that reach it only through a masking function
    (OpenLineage's `masking: true`); empty when no mask is called or the model cannot be traced."""
    text = model.sql.lower()
    if not any(mask in text for mask in masks):
        return {}
    try:
        parsed = sqlglot.parse_one(model.sql, read="duckdb")
        if not isinstance(parsed, exp.Query):
            return {}
        tree = keeping_tree(parsed, masks, aggregates=False)
        qualified = qualify(tree, schema=schema, dialect="duckdb", validate_qualify_columns=False,
                            quote_identifiers=False, identify=False)
    except Exception as exc:  # sqlglot raises several types; the model's lineage says why
        log.info("masking of %s not traced: %s", model.id, exc)
        return {}
    if not isinstance(qualified, exp.Query):
        return {}
    found = model_lineage(model, qualified, schema)
    if not found.complete:
        return {}
    out = {}
    for name, sources in lineage.fields.items():
        kept = found.fields.get(name, {})
        masked = frozenset(c for c, subtypes in sources.items()
                           if any(is_direct(s) for s in subtypes)
                           and not any(is_direct(s) for s in kept.get(c, ())))
        if masked:
            out[name] = masked
    return out
