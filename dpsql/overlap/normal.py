"""One model's SQL as units of transformation: the whole query, each CTE and subquery, each
output column expression, each with a canonical text whose hash is its fingerprint.

The canonical text reads relations by their ultimate source (a re-published copy of a port is
the port), CTEs and subqueries by the fingerprint of their body, and no alias; equivalent
spellings are rewritten to one (`count(1)` is `count(*)`, `not a = b` is `a <> b`), commutative
operands and AND/OR terms are ordered, the select list is a set, and the relations of inner
joins are a set whose ON and WHERE terms are one set of conjuncts."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.simplify import simplify

from dpsql.change.define import _sort_commutative

DIALECT = "duckdb"
MODEL, QUERY_PART, EXPRESSION = "model", "query_part", "expression"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Holder:
    """The fingerprint of an enclosing query, known once the query is done."""

    fingerprint: str = ""


@dataclass
class Unit:
    kind: str  # model | query_part | expression
    fingerprint: str
    sources: frozenset[str]  # `product.relation.column`
    column: str | None = None  # for an expression: the output column
    name: str = ""  # a CTE's or subquery's name, to find its line
    ancestors: list[Holder] = field(default_factory=list)
    users: frozenset[str] = frozenset()  # the queries that read this CTE, directly or not

    def ancestor_prints(self) -> set[str]:
        """The queries this unit is part of: those it is written in, and those that read it."""
        return {h.fingerprint for h in self.ancestors if h.fingerprint} | self.users


@dataclass
class Env:
    """What the names of a query stand for: a relation's canonical name, or a CTE's."""

    names: dict[str, str]
    sources: dict[str, frozenset[str]]  # canonical name of a CTE or subquery -> its sources
    # canonical name of a CTE or subquery -> its output column -> the sources of its value
    columns: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)


class Normaliser:
    """Canonical texts of one qualified query tree; the units found on the way."""

    def __init__(self, relation: Callable[[str, str], tuple[str, str]],
                 label: Callable[[str, str], str]) -> None:
        self.relation = relation  # (schema, name) -> canonical (schema, name)
        self.label = label  # canonical (schema, name) -> `product.relation`
        self.units: list[Unit] = []
        self.stack: list[Holder] = []
        # what the query last done reads: in all, and per output column
        self._last_sources: frozenset[str] = frozenset()
        self._last_columns: dict[str, frozenset[str]] = {}
        # a CTE's fingerprint -> the enclosing queries of each place that reads it
        self._uses: dict[str, list[list[Holder]]] = {}

    def finish(self) -> list[Unit]:
        """The units, each knowing which queries read it (through CTE references)."""
        for unit in self.units:
            if unit.kind == QUERY_PART:
                unit.users = frozenset(self._readers(unit.fingerprint, set()))
        return self.units

    def _readers(self, fingerprint: str, seen: set[str]) -> set[str]:
        for stack in self._uses.get(fingerprint, []):
            for holder in stack:
                if holder.fingerprint and holder.fingerprint not in seen:
                    seen.add(holder.fingerprint)
                    self._readers(holder.fingerprint, seen)
        return seen

    # --- queries -----------------------------------------------------------------------------

    def query(self, node: exp.Expr, env: Env, kind: str = MODEL, name: str = "") -> str:
        """The canonical text of a query; records it as a unit unless trivial."""
        holder = Holder()
        self.stack.append(holder)
        env = Env(dict(env.names), dict(env.sources), dict(env.columns))
        with_ = node.args.get("with_")
        if with_ is not None:
            for cte in with_.expressions:
                text = self.query(cte.this, env, QUERY_PART, cte.alias)
                canonical = "cte_" + digest(text)
                env.names[cte.alias] = canonical
                env.sources[canonical] = self._last_sources
                env.columns[canonical] = self._last_columns
        if isinstance(node, exp.SetOperation):
            parts: list[str] = []
            sources: frozenset[str] = frozenset()
            columns: dict[str, frozenset[str]] = {}
            for side in (node.left, node.right):
                parts.append(self.query(side, env, QUERY_PART))
                sources |= self._last_sources
                columns = columns or self._last_columns  # the left side names the columns
            if isinstance(node, exp.Union):
                parts.sort()
            text = f"{type(node).__name__}:{bool(node.args.get('distinct'))}({'|'.join(parts)})"
            trivial = False
        elif isinstance(node, exp.Select):
            text, sources, trivial, columns = self._select(node, env)
        elif isinstance(node, exp.Subquery):
            self.stack.pop()
            return self.query(node.this, env, kind, name)
        else:
            text, sources, trivial, columns = node.sql(DIALECT), frozenset(), True, {}
        self.stack.pop()
        holder.fingerprint = digest(text)
        self._last_sources, self._last_columns = sources, columns
        if not trivial:
            self.units.append(Unit(kind, holder.fingerprint, sources, name=name,
                                   ancestors=list(self.stack)))
        return text

    def _source(self, node: exp.Expr, env: Env) -> tuple[str, str]:
        """A FROM or JOIN source: (its alias, its canonical name); records sources."""
        if isinstance(node, exp.Table) and node.args.get("db") is not None and node.db:
            key = self.relation(node.db, node.name)
            return node.alias_or_name, f"{key[0]}.{key[1]}"
        if isinstance(node, exp.Table) and node.name in env.names:
            canonical = env.names[node.name]
            if canonical.startswith("cte_"):
                self._uses.setdefault(canonical[4:], []).append(list(self.stack))
            return node.alias_or_name, canonical
        if isinstance(node, exp.Subquery):
            text = self.query(node.this, env, QUERY_PART, node.alias)
            canonical = "sub_" + digest(text)
            env.sources[canonical] = self._last_sources
            env.columns[canonical] = self._last_columns
            return node.alias, canonical
        return node.alias_or_name, node.sql(DIALECT)

    def _select(self, node: exp.Select, env: Env
                ) -> tuple[str, frozenset[str], bool, dict[str, frozenset[str]]]:
        local = Env(dict(env.names), env.sources, env.columns)
        joins = node.args.get("joins") or []
        sources: list[tuple[str, str]] = []
        from_ = node.args.get("from_")
        if from_ is not None:
            sources.append(self._source(from_.this, local))
        for join in joins:
            sources.append(self._source(join.this, local))
        sources = _distinct_names(sources)
        for alias, canonical in sources:
            local.names[alias] = canonical
        read: set[str] = set()
        text = self._expr_text
        projections, columns = [], {}
        for projection in node.expressions:
            one: set[str] = set()
            projections.append(text(projection, local, one))
            columns[projection.alias_or_name] = frozenset(one)
            read |= one
        projections.sort()
        conds = self._conjuncts(node.args.get("where"), local, read)
        inner = all(j.side == "" and j.kind in ("", "INNER", "CROSS") and not j.args.get("using")
                    for j in joins)
        if inner:
            shape = ["inner", *sorted(c for _, c in sources)]
            for join in joins:
                conds += self._conjuncts(join.args.get("on"), local, read)
        else:
            shape = [sources[0][1] if sources else ""]
            for join, (_, canonical) in zip(joins, sources[1:], strict=False):
                shape.append(f"{join.side}:{join.kind}:{canonical}:"
                             f"{sorted(self._conjuncts(join.args.get('on'), local, read))}:"
                             f"{[u.sql(DIALECT) for u in join.args.get('using') or []]}")
        clauses: dict[str, str] = {}
        for key in ("group", "having", "qualify", "order", "limit", "offset", "distinct"):
            value = node.args.get(key)
            if value is None:
                continue
            if key == "group":
                clauses[key] = str(sorted(text(g, local, read) for g in value.expressions))
            elif key in ("having", "qualify"):
                clauses[key] = str(sorted(self._conjuncts(value, local, read)))
            else:
                clauses[key] = text(value, local, read)
        canonical_text = f"select{projections}from{shape}where{sorted(conds)}{sorted(clauses.items())}"
        self._expressions(node, local, shape, conds, clauses)
        found = set(read)
        if not found:  # `count(*)` and the like: the sources of what it reads
            for _, name in sources:
                found |= local.sources.get(name.split("#", 1)[0], frozenset())
        trivial = (not joins and not conds and not clauses
                   and all(_bare(p) for p in node.expressions))
        return canonical_text, frozenset(found), trivial, columns

    def _expressions(self, node: exp.Select, env: Env, shape: list[str], conds: list[str],
                     clauses: Mapping[str, str]) -> None:
        """Each non-trivial output column as an expression unit, the same only over the same
        relations joined the same way; over a join, or an aggregate or a window, only over the
        same rows too (join conditions, filters, grouping)."""
        for projection in node.expressions:
            if _bare(projection):
                continue
            read: set[str] = set()
            text = self._expr_text(projection, env, read)
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            text += f"over{shape}"
            if len(shape) > 2 or inner.find(exp.AggFunc, exp.Window) is not None:
                text += f"{sorted(conds)}{sorted(clauses.items())}"  # rows that differ
            self.units.append(Unit(EXPRESSION, digest("expr:" + text), frozenset(read),
                                   column=projection.alias_or_name, ancestors=list(self.stack)))

    # --- expressions -------------------------------------------------------------------------

    def _conjuncts(self, node: exp.Expr | None, env: Env, read: set[str]) -> list[str]:
        if node is None:
            return []
        if isinstance(node, exp.Where | exp.Having | exp.Qualify):
            node = node.this
        terms = list(node.flatten()) if isinstance(node, exp.And) else [node]
        return [self._expr_text(t, env, read) for t in terms]

    def _expr_text(self, node: exp.Expr, env: Env, read: set[str]) -> str:
        tree = node.copy()
        if isinstance(tree, exp.Alias):
            tree = tree.this
        for sub in list(tree.find_all(exp.Subquery)):
            text = self.query(sub.this, env, QUERY_PART, sub.alias)
            sub.replace(exp.column("sub_" + digest(text)))
        for column in list(tree.find_all(exp.Column)):
            qualifier = column.table
            canonical = env.names.get(qualifier, qualifier)
            column.set("db", None)
            column.set("catalog", None)
            column.set("table", exp.to_identifier(canonical) if canonical else None)
            base = (canonical or "").split("#", 1)[0]
            if column.name in env.columns.get(base, {}):
                read |= env.columns[base][column.name]
            elif base in env.sources:
                read |= env.sources[base]
            elif "." in base:
                schema, name = base.split(".", 1)
                read.add(f"{self.label(schema, name)}.{column.name}")
        return canonical_sql(tree)


def _distinct_names(sources: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A relation read twice (a self-join) gets a name per reading, so that `a.x = b.x` does
    not become `x = x`."""
    seen: dict[str, int] = {}
    out = []
    for alias, canonical in sources:
        seen[canonical] = seen.get(canonical, 0) + 1
        out.append((alias, canonical if seen[canonical] == 1 else f"{canonical}#{seen[canonical]}"))
    return out


def _bare(node: exp.Expr) -> bool:
    """A projection that is no transformation: a column, `*`, a constant, or one of them cast."""
    inner = node.this if isinstance(node, exp.Alias) else node
    while isinstance(inner, exp.Cast | exp.Paren):
        inner = inner.this
    return isinstance(inner, exp.Column | exp.Star | exp.Literal | exp.Null | exp.Boolean)


def _greater_than(tree: exp.Expr) -> exp.Expr:
    """`b < a` is `a > b`, `b <= a` is `a >= b`: one direction for comparisons."""
    flipped: dict[type[exp.Expr], type[exp.Binary]] = {exp.LT: exp.GT, exp.LTE: exp.GTE}

    def flip(node: exp.Expr) -> exp.Expr:
        kind = flipped.get(type(node))
        if kind is None:
            return node
        return kind(this=node.expression, expression=node.this)

    return tree.transform(flip, copy=False)


def canonical_sql(tree: exp.Expr) -> str:
    """One spelling of equivalent expressions."""
    for count in list(tree.find_all(exp.Count)):
        arg = count.this
        if isinstance(arg, exp.Literal) and not arg.is_string:
            arg.replace(exp.Star())
    if isinstance(tree, exp.Not):
        tree = exp.Paren(this=tree)  # so that the rewrite below can replace it
    for neg in list(tree.find_all(exp.Not)):
        if isinstance(neg.this, exp.EQ):
            eq = neg.this
            neg.replace(exp.NEQ(this=eq.this.copy(), expression=eq.expression.copy()))
        elif isinstance(neg.this, exp.Paren) and isinstance(neg.this.this, exp.EQ):
            eq = neg.this.this
            neg.replace(exp.NEQ(this=eq.this.copy(), expression=eq.expression.copy()))
    with contextlib.suppress(SqlglotError, RecursionError, ValueError, TypeError):
        tree = simplify(tree)
    tree = _greater_than(tree)
    for paren in list(tree.find_all(exp.Paren)):
        if paren is not tree:
            paren.replace(paren.this)
    if isinstance(tree, exp.Paren):
        tree = tree.this
    tree = _sort_commutative(tree)
    for node in list(tree.find_all(exp.Binary)):  # every nested operation in parentheses
        for key in ("this", "expression"):
            child = node.args.get(key)
            if isinstance(child, exp.Binary):
                node.set(key, exp.Paren(this=child))
    return tree.sql(DIALECT, comments=False, normalize=True)
