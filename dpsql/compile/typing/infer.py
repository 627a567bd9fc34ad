"""The typing pass: every model's output columns and DuckDB types, in DAG order.

How models are typed, and why DuckDB rather than sqlglot: dpsql/compile/typing/standins.py
and docs/decisions.md.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import replace
from sys import intern
from typing import Any

from sqlglot import exp

from dpsql.compile.cache import CompileCache, digest
from dpsql.compile.lineage import trace_models
from dpsql.compile.state import CompileState
from dpsql.compile.typing import standins, units
from dpsql.compile.typing.files import file_schemas
from dpsql.compile.typing.schema import (
    BindError,
    SchemaCatalog,
    relation_sql,
    warehouse_columns,
)
from dpsql.core.errors import Diagnostic, Location, error, warning
from dpsql.core.project import Column, CompiledModel, Project
from dpsql.core.relations import Relation, table_relation
from dpsql.core.specs import InputSpec
from dpsql.lineage.model import LINEAGE_FORMAT

log = logging.getLogger("dpsql")


def type_models(state: CompileState) -> None:
    """Pass: type every model in DAG order; unchanged ones come from the cache (a model's
    columns depend only on its SQL and the columns of what it reads). Models whose upstream
    could not be typed are skipped: that upstream's own diagnostic says why."""
    project = state.project
    catalog = _LazyCatalog()
    groups = None
    try:
        sources, unreadable = _infer_sources(project, catalog, state.diagnostics, state.cache)
        state.sources.update(sources)
        state.interfaces = standins.interfaces(project)  # consumers see a port's contract
        catalog.known.update(state.interfaces)
        groups = units.units(state, functools.partial(_needed, state),
                             len(state.models) - state.cache.stored("type"))
        if groups is None:
            for mid in state.order:
                _type_model(state, state.models[mid], catalog)
            state.mapping = catalog.mapping
    finally:
        catalog.close()  # no DuckDB work after this, and worker processes must not inherit it
    if groups is not None:
        units.type_in_workers(state, groups, dict(catalog.known), _type_group,
                              functools.partial(_needed, state))
    state.diagnostics.extend(_untyped_table_inputs(state, unreadable))
    models = dict(state.models)
    for mid, model in models.items():  # an untyped model's entries are built every time
        if mid not in state.typed and model.key is not None:
            state.models[mid] = replace(model, key=None)
    for mid, entry in state.typed.items():
        model = models[mid]  # the note reads what the model reads, not its columns
        note = standins.note(project, model, models, state.interfaces)
        state.models[mid] = replace(model, columns=_columns(entry), typed_by=note,
                                    key=model.key and digest(model.key, state.type_keys[mid],
                                                             note))
        standins.log_typed(state.models[mid], fresh=mid in state.fresh)


def _needed(state: CompileState, mid: str) -> list[Relation]:
    """The relations a model reads: its inputs, and the models it depends on; an ephemeral
    model it reads is inlined in its SQL, so what that one reads is read too."""
    model = state.models[mid]
    product = state.project.by_name[model.product]
    needed = [product.relation_of_input(product.spec.input(i))  # type: ignore[arg-type]
              for i in model.inputs]
    needed += [standins.relation_of_model(state.project, d) for d in model.depends_on]
    for dep in model.depends_on:
        upstream = state.models.get(dep)
        if upstream is not None and upstream.config.materialized == "ephemeral":
            needed += [rel for rel in _needed(state, dep) if rel not in needed]
    return needed


def _type_group(state: CompileState, group: list[str],
                known: dict[Relation, tuple[Column, ...]]) -> None:
    """Type some models, in order, in a DuckDB of their own, then trace those typed now (in a
    worker process; typing all first keeps each step's code hot: a tenth less CPU)."""
    catalog = _LazyCatalog()
    catalog.known.update(known)
    try:
        for mid in group:
            _type_model(state, state.models[mid], catalog)
        fresh = [mid for mid in group if mid in state.fresh]  # traced here too: parsed once
        typed = [replace(state.models[mid], columns=_columns(state.typed[mid])) for mid in fresh]
        for mid, lineage in zip(fresh, trace_models(typed, state.trees, catalog.mapping),
                                strict=True):
            state.typed[mid]["lineage"] = lineage
    finally:
        catalog.close()


def _type_model(state: CompileState, model: CompiledModel, catalog: _LazyCatalog) -> None:
    needed = _needed(state, model.id)
    if any(rel not in catalog.known for rel in needed):
        return
    key = digest(model.sql, LINEAGE_FORMAT,
                 *map(catalog.signature, needed))
    entry = state.cache.get("type", key)
    if entry is None:
        entry = _describe(model, needed, catalog)
        if "error" not in entry:
            state.fresh[model.id] = key
    if "error" in entry:
        state.diagnostics.append(error(
            "DP208", f"model `{model.id}` does not bind: {entry['error']}",
            _bind_location(model, state.trees.of(model), entry["error"]),
            "fix the column or function named here; upstream columns are listed by "
            "`dpsql ls --columns`"))
        return
    state.typed[model.id] = entry
    state.type_keys[model.id] = key
    if model.relation not in state.interfaces:
        catalog.known[model.relation] = _columns(entry)
    if model.incremental_sql is not None:
        _type_incremental(state, model, [*needed, model.relation], catalog)


def _type_incremental(state: CompileState, model: CompiledModel, needed: list[Relation],
                      catalog: _LazyCatalog) -> None:
    """An incremental model's incremental run (its SQL rendered with is_incremental() true)
    must bind too: it is described against the same stand-ins and one of the model's own
    relation (`{{ this }}`, with the model's columns). It is not cached while it reads a
    relation besides the model's own reads (one named only under is_incremental()), and not
    checked when one of those was not typed."""
    sql = model.incremental_sql
    assert sql is not None
    key = digest("incremental", sql, *map(catalog.signature, needed))
    if state.cache.get("type", key) is not None:
        return
    # what it reads besides: typed relations named in it (compiled SQL quotes every name)
    extra = [rel for rel in catalog.known if rel not in needed and relation_sql(rel) in sql]
    catalog.stage([*needed, *extra])
    try:
        columns = catalog.describe(sql)
    except BindError as exc:
        if str(exc).startswith("Catalog Error: Table with name"):  # one that was not typed
            log.info("incremental run of %s not typed: %s", model.id, exc)
            return
        state.diagnostics.append(error(
            "DP208", f"model `{model.id}` does not bind in an incremental run "
            f"(is_incremental() true): {exc}", _incremental_location(model, exc),
            "fix the SQL under `{% if is_incremental() %}`: there `{{ this }}` is the model's "
            "own table, with the columns the model produces, and a comparison or join needs "
            "the same type on both sides (cast one)"))
        return
    if not extra:
        state.cache.put("type", key, {"columns": [[c.name, c.type] for c in columns]})


def _incremental_location(model: CompiledModel, exc: BindError) -> Location:
    """Where a word DuckDB names (a quoted name in its message, else a name in the part of the
    query it points at) is written under is_incremental(); else that is_incremental() call."""
    lines = model.source.text.splitlines()
    start = next((n for n, line in enumerate(lines, 1) if "is_incremental" in line), 1)
    words = [w.split(".")[-1] for w in _QUOTED.findall(str(exc))]
    words += [w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", exc.near)
              if w.upper() not in _SQL_WORDS]
    for word in words:
        pattern = re.compile(r"\b" + re.escape(word) + r"\b")
        for number in range(start, len(lines) + 1):
            match = pattern.search(lines[number - 1])
            if match:
                return Location(model.source.path, number, match.start() + 1)
    col = lines[start - 1].find("is_incremental") + 1 if start <= len(lines) else 0
    return Location(model.source.path, start, max(col, 0))


class _LazyCatalog(SchemaCatalog):
    """Stand-ins are created only for relations a model that must be described reads: with
    a warm cache, most never are."""

    def __init__(self) -> None:
        super().__init__()
        self.known: dict[Relation, tuple[Column, ...]] = {}
        self._staged: set[Relation] = set()
        self._signatures: dict[Relation, tuple[tuple[Column, ...], str]] = {}

    def stage(self, relations: list[Relation]) -> None:
        for relation in relations:
            if relation not in self._staged:
                self.add(relation, self.known[relation])
                self._staged.add(relation)

    def signature(self, relation: Relation) -> str:
        """`relation:name type,...`, for the cache keys of the models reading it; made once
        for each set of columns a relation gets (a relation is read by several models)."""
        columns = self.known[relation]
        found = self._signatures.get(relation)
        if found is None or found[0] is not columns:
            text = f"{relation}:" + ",".join(f"{c.name} {c.type}" for c in columns)
            found = self._signatures[relation] = (columns, text)
        return found[1]


def _columns(entry: dict[str, Any]) -> tuple[Column, ...]:
    return tuple(Column(name, type_) for name, type_ in entry["columns"])


def _describe(model: CompiledModel, needed: list[Relation], catalog: _LazyCatalog
              ) -> dict[str, Any]:
    """The model's columns as DuckDB binds it against stand-ins of what it reads."""
    catalog.stage(needed)
    try:
        columns = catalog.describe(model.sql)
    except BindError as exc:
        return {"error": str(exc)}
    return {"columns": [[intern(c.name), intern(c.type)] for c in columns]}  # see lineage_to_data


def _infer_sources(project: Project, catalog: _LazyCatalog, diagnostics: list[Diagnostic],
                   cache: CompileCache
                   ) -> tuple[dict[tuple[str, str], tuple[Column, ...] | None], str | None]:
    """The columns of every file and table input, and why the warehouse catalog could not be
    read, if it could not."""
    sources: dict[tuple[str, str], tuple[Column, ...] | None] = {}
    tables = [table_relation(i.table) for p in project.products for i in p.spec.inputs
              if i.kind == "table" and i.table]
    in_warehouse, unreadable = warehouse_columns(project.config.warehouse, tables)
    files = [spec for p in project.products for spec in p.spec.inputs if _is_file(spec)]
    schemas = dict(zip(map(id, files), file_schemas(files, catalog, cache), strict=True))
    for product in project.products:
        for spec in product.spec.inputs:
            relation = product.relation_of_input(spec)
            columns: tuple[Column, ...] | None = None
            if _is_file(spec):
                read = schemas[id(spec)]
                if isinstance(read, BindError):
                    diagnostics.append(error(
                        "DP007", f"input `{spec.name}` cannot be read: {read}", spec.location,
                        f"check that the file is a valid {spec.file_format} file"))
                else:
                    columns = read
            elif spec.kind == "table":
                columns = in_warehouse.get(relation)
                if columns is None and spec.columns and all(c.type for c in spec.columns):
                    columns = tuple(Column(c.name, c.type or "") for c in spec.columns)
                if columns is None:
                    log.info("columns of table input %s.%s are unknown (not in the warehouse, "
                             "no `columns:` declared)", product.name, spec.name)
            else:
                continue  # product inputs are typed when their producer's model is
            if columns is not None:
                catalog.known[relation] = columns
            sources[(product.name, spec.name)] = columns
    return sources, unreadable


def _is_file(spec: InputSpec) -> bool:
    return spec.kind == "file" and spec.file is not None and bool(spec.file_format)


def _untyped_table_inputs(state: CompileState, unreadable: str | None) -> list[Diagnostic]:
    """DP210: a `table:` input that is not in the warehouse and declares no typed `columns:`
    leaves the models reading it, and theirs, untyped: nothing checks them, and a build stops
    at its pre-flight (DP408) until the table exists."""
    warehouse = state.project.config.warehouse.name
    where = (f"which could not be looked up in the warehouse ({warehouse}: {unreadable})"
             if unreadable else f"which is not in the warehouse ({warehouse})")
    out = []
    for product in state.project.products:
        for spec in product.spec.inputs:
            if spec.kind != "table" or state.sources.get((product.name, spec.name)) is not None:
                continue
            readers = {mid for mid, m in state.models.items()
                       if m.product == product.name and spec.name in m.inputs}
            if not readers:
                continue  # never read: DP311 says so
            blind = _downstream(state, readers)
            first = sorted(readers)[0]
            n = len(blind) - 1
            more = f" (and {n} more model{'s' * (n != 1)} downstream)" if n else ""
            out.append(warning(
                "DP210", f"input `{spec.name}` of `{product.name}` reads table `{spec.table}`, "
                f"{where} and declares no `columns:` with types, so `{first}`{more} cannot be "
                "typed: "
                "columns, contracts and lineage go unchecked", spec.location,
                f"declare the table's `columns:` (a name and type each) under this input, or "
                f"create `{spec.table}` in the warehouse (load it, or build what writes it); "
                "`dpsql build` stops before building while it is missing"))
    return out


def _downstream(state: CompileState, start: set[str]) -> set[str]:
    """`start` and every model reading one of them, through any number of models."""
    found = set(start)
    for mid in state.order:
        if mid not in found and any(d in found for d in state.models[mid].depends_on):
            found.add(mid)
    return found


_QUOTED = re.compile(r'"([^"]+)"')
_SQL_WORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "AS", "CAST", "IN", "IS", "NULL",
              "MAX", "MIN", "SUM", "COUNT", "AVG", "COALESCE", "CASE", "WHEN", "THEN", "ELSE",
              "END", "ON", "JOIN", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "DISTINCT"}


def _bind_location(model: CompiledModel, tree: exp.Query, message: str) -> Location:
    """Where the first column DuckDB names in its message is written: the column in the
    parsed tree, else the first template line naming it."""
    words = [word.split(".")[-1] for word in _QUOTED.findall(message)]
    for word in words:
        for column in tree.find_all(exp.Column):
            if column.name == word:
                return model.template_map.node(column)
    return model.template_map.word(*words)
