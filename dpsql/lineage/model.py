"""One model's column lineage: traced from its qualified tree, and kept in the compile cache."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from sys import intern
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.schema import Schema

from dpsql.core.errors import Diagnostic, warning
from dpsql.core.lineage import Col, Frozen, ModelLineage
from dpsql.lineage.trace import trace

if TYPE_CHECKING:
    from dpsql.core.project import CompiledModel, CompiledProject
    from dpsql.core.relations import Relation

log = logging.getLogger("dpsql")

# what a traced model's cached lineage looks like; a new value retraces every model
LINEAGE_FORMAT = "lineage-7"


def untraced(model: CompiledModel, reason: str) -> ModelLineage:
    return ModelLineage(model.id, model.relation, MappingProxyType({}), MappingProxyType({}),
                        (reason,))


def model_lineage(model: CompiledModel, qualified: exp.Query | None,
                  schema: Schema | None = None) -> ModelLineage:
    """The column lineage of one model from its qualified tree (read, never changed);
    `schema` holds the columns of what it reads."""
    if qualified is None:
        return untraced(model, "its columns are unknown" if model.columns is None
                        else "sqlglot could not qualify its columns")
    try:
        found = trace(qualified, schema,
                      [c.name for c in model.columns] if model.columns is not None else None)
    except Exception as exc:  # a query shape sqlglot's scopes do not support
        log.info("lineage: cannot trace %s: %s", model.id, exc)
        return untraced(model, f"its query cannot be traced ({type(exc).__name__})")
    names, problems = found.names, found.problems
    if model.columns is not None:
        described = [c.name for c in model.columns]
        if len(described) == len(names):
            names = described  # DuckDB's names win: `sum(x)` rather than sqlglot's `_col_1`
        else:
            problems.append(f"sqlglot sees {len(names)} output columns where DuckDB sees "
                            f"{len(described)}")
    fields: dict[str, Frozen] = {}
    row_fields: dict[str, Frozen] = {}
    for name, sources, rows in zip(names, found.columns, found.col_rows, strict=False):
        fields.setdefault(name, sources)
        row_fields.setdefault(name, rows)
    for problem in problems:
        log.info("lineage of %s is incomplete: %s", model.id, problem)
    return ModelLineage(model.id, model.relation, MappingProxyType(fields), found.dataset,
                        tuple(problems), MappingProxyType(row_fields), found.rows)


def lineage_to_data(lineage: ModelLineage) -> dict[str, object]:
    """Plain lists and strings, for the compile cache: each distinct (column, kinds) pair is
    written once in `cols`, each distinct set of them once in `sets` (as indexes into `cols`),
    and every field names its set by index. A model's columns mostly share one set of row
    sources, so the entry is a third of the size it would be written out. The strings are
    interned: a worker process sends many models' lineage at once, and pickle writes an object
    it has seen once, so each name crosses (and is held in the parent) once per batch."""
    cols: dict[tuple[Col, frozenset[str]], int] = {}
    sets: dict[tuple[int, ...], int] = {}

    def index(frozen: Frozen) -> int:
        members = tuple(cols.setdefault((col, kinds), len(cols)) for col, kinds in frozen.items())
        return sets.setdefault(members, len(sets))

    fields = [[intern(name), index(sources)] for name, sources in lineage.fields.items()]
    row_fields = [[intern(name), index(rows)] for name, rows in lineage.row_fields.items()]
    dataset, rows = index(lineage.dataset), index(lineage.rows)
    return {"cols": [[intern(c.schema), intern(c.name), intern(c.column),
                      [intern(t) for t in sorted(kinds)]] for c, kinds in cols],
            "sets": [list(members) for members in sets],
            "fields": fields, "dataset": dataset, "problems": list(lineage.problems),
            "row_fields": row_fields, "rows": rows}


class _Deferred(ModelLineage):
    """A lineage from the cache, made into objects when one of its fields is first read: a
    compile after an edit reads few (the manifest keeps the entries of unchanged models)."""

    def __init__(self, model: CompiledModel, data: Mapping[str, Any], pool: dict[Any, Any]):
        object.__setattr__(self, "model", model.id)
        object.__setattr__(self, "relation", model.relation)
        object.__setattr__(self, "problems", tuple(data["problems"]))  # read by every check
        object.__setattr__(self, "_from", (data, pool))

    def __getattr__(self, name: str) -> Any:  # only for attributes not set yet
        if name.startswith("__") or "_from" not in self.__dict__:
            raise AttributeError(name)
        made = self.__dict__.pop("_from")
        full = _from_data(self.model, self.relation, *made)
        for found in dataclasses.fields(ModelLineage):
            object.__setattr__(self, found.name, getattr(full, found.name))
        return getattr(self, name)

    def __eq__(self, other: object) -> bool:  # as a ModelLineage with the same fields
        if not isinstance(other, ModelLineage):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name)
                   for f in dataclasses.fields(ModelLineage))

    __hash__ = ModelLineage.__hash__

    def __repr__(self) -> str:
        return repr(ModelLineage(**{f.name: getattr(self, f.name)
                                    for f in dataclasses.fields(ModelLineage)}))


def lineage_from_data(model: CompiledModel, data: Mapping[str, Any],
                      shared: dict[Any, Any] | None = None, *, lazy: bool = False
                      ) -> ModelLineage:
    """The lineage of the cache's plain data; `shared`, kept across the models of one compile,
    makes equal columns and sets of transformation kinds one object each (at 10,000 models the
    same upstream column is named by many downstream ones). `lazy`: made when first read."""
    pool: dict[Any, Any] = {} if shared is None else shared
    if lazy:
        return _Deferred(model, data, pool)
    return _from_data(model.id, model.relation, data, pool)


def _from_data(model: str, relation: Relation, data: Mapping[str, Any], pool: dict[Any, Any]
               ) -> ModelLineage:
    columns: dict[tuple[str, str, str], Col] = pool.setdefault("columns", {})
    kinds: dict[tuple[str, ...], frozenset[str]] = pool.setdefault("kinds", {})
    pairs: list[tuple[Col, frozenset[str]]] = []
    for schema, name, column, subtypes in data["cols"]:
        col = columns.get((schema, name, column))
        if col is None:
            col = columns[(schema, name, column)] = Col(schema, name, column)
        key = tuple(subtypes)
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = frozenset(subtypes)
        pairs.append((col, kind))
    sets = [MappingProxyType(dict(pairs[i] for i in members)) for members in data["sets"]]
    return ModelLineage(model, relation,
                        MappingProxyType({name: sets[i] for name, i in data["fields"]}),
                        sets[data["dataset"]], tuple(data["problems"]),
                        MappingProxyType({name: sets[i] for name, i in data["row_fields"]}),
                        sets[data["rows"]])


def incomplete_warning(model: CompiledModel, lineage: ModelLineage) -> Diagnostic:
    """DP502: the model's column lineage could not be traced in full."""
    return warning(
        "DP502", f"column lineage of `{model.id}` is incomplete: " + "; ".join(lineage.problems),
        model.location(), "lineage needs every column qualified; name columns explicitly instead "
        "of `*` from table functions, and avoid COLUMNS(...)")


def lineage_warnings(compiled: CompiledProject) -> list[Diagnostic]:
    """DP502 for every model whose lineage is incomplete (`dpsql check`)."""
    return [incomplete_warning(m, m.lineage) for mid in compiled.order
            if (m := compiled.models.get(mid)) is not None and m.lineage is not None
            and m.lineage.problems]
