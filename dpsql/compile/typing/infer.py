"""The typing pass: every model's output columns and DuckDB types, in DAG order.

How models are typed, and why DuckDB rather than sqlglot: dpsql/compile/typing/standins.py
and docs/decisions.md.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlglot import exp

from dpsql.compile.cache import CompileCache, digest
from dpsql.compile.state import CompileState
from dpsql.compile.typing import standins
from dpsql.compile.typing.schema import BindError, SchemaCatalog, warehouse_columns
from dpsql.core.errors import Diagnostic, Location, error
from dpsql.core.project import Column, CompiledModel, Project
from dpsql.core.relations import Relation, table_relation
from dpsql.lineage.model import LINEAGE_FORMAT

log = logging.getLogger("dpsql")


def type_models(state: CompileState) -> None:
    """Pass: type every model in DAG order; unchanged ones come from the cache (a model's
    columns depend only on its SQL and the columns of what it reads). Models whose upstream
    could not be typed are skipped: that upstream's own diagnostic says why."""
    project = state.project
    catalog = _LazyCatalog()
    try:
        state.sources.update(_infer_sources(project, catalog, state.diagnostics, state.cache))
        state.interfaces = standins.interfaces(project)  # consumers see a port's contract
        catalog.known.update(state.interfaces)
        for mid in state.order:
            _type_model(state, state.models[mid], catalog)
    finally:
        catalog.close()  # no DuckDB work after this, and worker processes must not inherit it
    state.mapping = catalog.mapping
    models = dict(state.models)
    for mid, entry in state.typed.items():
        typed = replace(models[mid], columns=_columns(entry))
        state.models[mid] = replace(typed, typed_by=standins.note(project, typed, models,
                                                                     state.interfaces))
        standins.log_typed(state.models[mid])


def _type_model(state: CompileState, model: CompiledModel, catalog: _LazyCatalog) -> None:
    product = state.project.by_name[model.product]
    needed = [product.relation_of_input(product.spec.input(i))  # type: ignore[arg-type]
              for i in model.inputs]
    needed += [standins.relation_of_model(state.project, d) for d in model.depends_on]
    if any(rel not in catalog.known for rel in needed):
        return
    key = digest(model.sql, LINEAGE_FORMAT,
                 *(f"{rel}:{catalog.signature(rel)}" for rel in needed))
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
    if model.relation not in state.interfaces:
        catalog.known[model.relation] = _columns(entry)


class _LazyCatalog(SchemaCatalog):
    """Stand-ins are created only for relations a model that must be described reads: with
    a warm cache, most never are."""

    def __init__(self) -> None:
        super().__init__()
        self.known: dict[Relation, tuple[Column, ...]] = {}
        self._staged: set[Relation] = set()

    def stage(self, relations: list[Relation]) -> None:
        for relation in relations:
            if relation not in self._staged:
                self.add(relation, self.known[relation])
                self._staged.add(relation)

    def signature(self, relation: Relation) -> str:
        return ",".join(f"{c.name} {c.type}" for c in self.known[relation])


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
    return {"columns": [[c.name, c.type] for c in columns]}


def _infer_sources(project: Project, catalog: _LazyCatalog, diagnostics: list[Diagnostic],
                   cache: CompileCache) -> dict[tuple[str, str], tuple[Column, ...] | None]:
    sources: dict[tuple[str, str], tuple[Column, ...] | None] = {}
    tables = [table_relation(i.table) for p in project.products for i in p.spec.inputs
              if i.kind == "table" and i.table]
    in_warehouse = warehouse_columns(project.config.warehouse, tables)
    for product in project.products:
        for spec in product.spec.inputs:
            relation = product.relation_of_input(spec)
            columns: tuple[Column, ...] | None = None
            if spec.kind == "file" and spec.file is not None and spec.file_format:
                try:
                    columns = _file_columns(spec.file, spec.file_format, catalog, cache)
                except BindError as exc:
                    diagnostics.append(error(
                        "DP007", f"input `{spec.name}` cannot be read: {exc}", spec.location,
                        "check that the file is a valid " + spec.file_format + " file"))
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
    return sources


def _file_columns(path: Path, file_format: str, catalog: _LazyCatalog, cache: CompileCache
                  ) -> tuple[Column, ...]:
    """DuckDB's reading of a file's schema, cached by the file's size and modification time."""
    try:
        stat = path.stat()
    except OSError:
        return catalog.describe_file(path, file_format)  # raises the reader's own message
    key = digest("file", str(path), file_format, str(stat.st_size), str(stat.st_mtime_ns))
    entry = cache.get("type", key)
    if entry is None:
        entry = {"columns": [[c.name, c.type] for c in catalog.describe_file(path, file_format)]}
        cache.put("type", key, entry)
    return tuple(Column(name, type_) for name, type_ in entry["columns"])


_QUOTED = re.compile(r'"([^"]+)"')


def _bind_location(model: CompiledModel, tree: exp.Query, message: str) -> Location:
    """Where the first column DuckDB names in its message is written: the column in the
    parsed tree, else the first template line naming it."""
    words = [word.split(".")[-1] for word in _QUOTED.findall(message)]
    for word in words:
        for column in tree.find_all(exp.Column):
            if column.name == word:
                return model.template_map.node(column)
    return model.template_map.word(*words)
