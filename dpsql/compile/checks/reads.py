"""Which columns of which relations a query reads, found through sqlglot's scopes.

Works on the parsed tree with its relations bound (the compile state's tree), not on the
column-qualified copy: sqlglot's `qualify` stops with "Unknown column" on the very queries this
module exists for, those that read a column their upstream does not have. Columns are followed
through CTEs, subqueries, table aliases and `*` (with DuckDB's `EXCLUDE`), so that a column read
from `select * from port` two CTEs away is still a read of the port.

Names compare case-insensitively, as in DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from dpsql.core.relations import Relation

Schemas = Mapping[Relation, frozenset[str]]  # relation -> its column names, lower case


@dataclass(frozen=True)
class Read:
    """A column reference and the relations it reads, or would read if they had it."""

    column: exp.Column  # the reference, in the tree given
    name: str  # lower case
    relations: tuple[Relation, ...]
    found: bool  # False: none of `relations` has the column


def schemas_of(columns: Mapping[Relation, object]) -> dict[Relation, frozenset[str]]:
    """Build the lookup from relation -> columns (anything with `.name` items)."""
    return {rel: frozenset(str(c.name).lower() for c in cols)  # type: ignore[attr-defined]
            for rel, cols in columns.items()}


def column_reads(tree: exp.Query, schemas: Schemas) -> list[Read]:
    """Every column reference whose relation is known, in the order of the query text.

    A reference that cannot be decided (an upstream with unknown columns, a struct field, a
    column of an outer query) is left out: this never reports a read it is unsure of.
    """
    reads: dict[int, Read] = {}
    try:
        scopes = traverse_scope(tree)
    except Exception:  # sqlglot raises several types on odd queries; nothing to report then
        return []
    for scope in scopes:
        for column in scope.columns:
            if id(column) not in reads:
                read = _resolve(scope, column, schemas)
                if read is not None:
                    reads[id(column)] = read
    return sorted(reads.values(), key=lambda r: _offset(r.column))


def _offset(column: exp.Column) -> int:
    node = column.this if isinstance(column.this, exp.Identifier) else column
    return int(node.meta.get("start", 0))


def _relation(table: exp.Table) -> Relation | None:
    if not isinstance(table.this, exp.Identifier):
        return None
    return Relation(table.db, table.name)


def _resolve(scope: Scope, column: exp.Column, schemas: Schemas) -> Read | None:
    if isinstance(column.this, exp.Star):
        return None
    name = column.name.lower()
    sources = scope.selected_sources
    if column.table:
        entry = sources.get(column.table)
        if entry is None:
            return None  # an outer query's column, or a struct field
        return _lookup(entry[1], name, column, schemas)
    found = [_has(source, name, schemas) for _, source in sources.values()]
    if any(f is None for f in found):
        return None
    hits = [source for (_, source), f in zip(sources.values(), found, strict=True) if f]
    if hits:
        if len(hits) == 1 and isinstance(hits[0], exp.Table):
            relation = _relation(hits[0])
            return Read(column, name, (relation,), True) if relation else None
        return None  # read through a CTE or subquery (its own scope records the base read)
    if name in _aliases(scope):
        return None  # an alias of the select list (GROUP BY x, lateral `a + 1 as b, b * 2`)
    if _in_outer(scope, name, schemas):
        return None
    blamed = tuple(rel for _, source in sources.values() for rel in _blame(source, name, schemas))
    return Read(column, name, _unique(blamed), False) if blamed else None


def _aliases(scope: Scope) -> set[str]:
    expression = scope.expression
    if not isinstance(expression, exp.Select):
        return set()
    return {p.alias.lower() for p in expression.selects if isinstance(p, exp.Alias)}


def _lookup(source: exp.Table | Scope, name: str, column: exp.Column, schemas: Schemas
            ) -> Read | None:
    if isinstance(source, exp.Table):
        relation = _relation(source)
        if relation is None or relation not in schemas:
            return None
        return Read(column, name, (relation,), name in schemas[relation])
    outputs = _outputs(source, schemas)
    if outputs is None or name in outputs:
        return None
    blamed = _unique(tuple(_blame(source, name, schemas)))
    return Read(column, name, blamed, False) if blamed else None


def _has(source: exp.Table | Scope, name: str, schemas: Schemas) -> bool | None:
    if isinstance(source, exp.Table):
        relation = _relation(source)
        if relation is None or relation not in schemas:
            return None
        return name in schemas[relation]
    outputs = _outputs(source, schemas)
    return None if outputs is None else name in outputs


def _in_outer(scope: Scope, name: str, schemas: Schemas) -> bool:
    """A subquery in an expression may read the columns of the queries around it."""
    while scope.is_subquery and scope.parent is not None:
        scope = scope.parent
        if any(_has(s, name, schemas) is not False for _, s in scope.selected_sources.values()):
            return True
    return False


def _select_scope(scope: Scope) -> Scope | None:
    while scope.is_set_operation or isinstance(scope.expression, exp.SetOperation):
        if not scope.set_operation_scopes:
            return None
        scope = scope.set_operation_scopes[0]  # a union's columns are named by its first branch
    return scope if isinstance(scope.expression, exp.Select) else None


def _stars(scope: Scope) -> Iterator[tuple[exp.Table | Scope, set[str]]]:
    """The sources a select's `*` and `t.*` expand, with the columns each one excludes."""
    sources = scope.selected_sources
    assert isinstance(scope.expression, exp.Select)
    for projection in scope.expression.selects:
        if isinstance(projection, exp.Star):
            for _, source in sources.values():
                yield source, _excluded(projection)
        elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            entry = sources.get(projection.table)
            if entry is not None:
                yield entry[1], _excluded(projection.this)


def _excluded(star: exp.Star) -> set[str]:
    return {e.name.lower() for e in star.args.get("except_") or ()}


def _outputs(scope: Scope, schemas: Schemas) -> set[str] | None:
    """The column names a CTE or subquery produces; None when they cannot be known."""
    select = _select_scope(scope)
    if select is None:
        return None
    names: set[str] = set()
    assert isinstance(select.expression, exp.Select)
    for projection in select.expression.selects:
        star = projection if isinstance(projection, exp.Star) else (
            projection.this if isinstance(projection, exp.Column)
            and isinstance(projection.this, exp.Star) else None)
        if star is not None:
            if star.args.get("rename") or star.args.get("ilike"):
                return None
            continue
        if isinstance(projection, exp.Columns | exp.Unnest):
            return None
        names.add(projection.alias_or_name.lower())
    for source, excluded in _stars(select):
        if isinstance(source, exp.Table):
            relation = _relation(source)
            if relation is None or relation not in schemas:
                return None
            names |= schemas[relation] - excluded
        else:
            inner = _outputs(source, schemas)
            if inner is None:
                return None
            names |= inner - excluded
    return names


def _blame(source: exp.Table | Scope, name: str, schemas: Schemas) -> Iterator[Relation]:
    """The known relations that would have had to hold `name` for `source` to have it."""
    if isinstance(source, exp.Table):
        relation = _relation(source)
        if relation is not None and relation in schemas:
            yield relation
        return
    select = _select_scope(source)
    if select is None:
        return
    for inner, excluded in _stars(select):
        if name not in excluded:
            yield from _blame(inner, name, schemas)


def _unique(relations: tuple[Relation, ...]) -> tuple[Relation, ...]:
    return tuple(dict.fromkeys(relations))
