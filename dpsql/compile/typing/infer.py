"""Schema inference: every model's output columns and DuckDB types, in DAG order.

How models are typed, and why DuckDB rather than sqlglot: dpsql/typing_pass.py and
docs/decisions.md.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpsql.compile import sql as sqlmod
from dpsql.compile.bind import reparse
from dpsql.compile.cache import CompileCache, digest
from dpsql.compile.parallel import fork_map
from dpsql.compile.typing import standins as typing_pass
from dpsql.compile.typing.schema import BindError, SchemaCatalog, warehouse_columns
from dpsql.core.errors import Diagnostic, Location, error
from dpsql.core.project import Column, CompiledModel, Project
from dpsql.core.relations import Relation, table_relation
from dpsql.lineage.trace import lineage_from_data, lineage_to_data, model_lineage

if TYPE_CHECKING:
    from sqlglot.schema import MappingSchema

log = logging.getLogger("dpsql")


def infer(project: Project, models: dict[str, CompiledModel], order: list[str],
          diagnostics: list[Diagnostic], cache: CompileCache | None = None
          ) -> tuple[dict[str, CompiledModel], dict[tuple[str, str], tuple[Column, ...] | None]]:
    """Type every model in DAG order and trace its column lineage; unchanged ones come from
    the cache (a model's result depends only on its SQL and the columns of what it reads)."""
    cache = cache or CompileCache(project.root)
    catalog = _LazyCatalog()
    try:
        sources = _infer_sources(project, catalog, diagnostics, cache)
        interfaces = typing_pass.interfaces(project)  # consumers see a port's contract
        catalog.known.update(interfaces)
        entries: dict[str, dict[str, Any]] = {}
        traced: list[tuple[str, str]] = []  # (model id, cache key) typed now, to trace
        for mid in order:  # types, in DAG order (each model needs its upstream's)
            model = models[mid]
            product = project.by_name[model.product]
            needed = [product.relation_of_input(product.spec.input(i))  # type: ignore[arg-type]
                      for i in model.inputs]
            needed += [typing_pass.relation_of_model(project, d) for d in model.depends_on]
            if any(rel not in catalog.known for rel in needed):
                continue  # an upstream could not be typed; its own diagnostic says why
            key = digest(model.sql, *(f"{rel}:{catalog.signature(rel)}" for rel in needed))
            entry = cache.get("type", key)
            if entry is None:
                entry = _describe(model, needed, catalog)
                if "error" not in entry:
                    traced.append((mid, key))
            if "error" in entry:
                diagnostics.append(error(
                    "DP208", f"model `{mid}` does not bind: {entry['error']}",
                    _bind_location(model, entry["error"]),
                    "fix the column or function named here; upstream columns are listed by "
                    "`dpsql ls --columns`"))
                continue
            entries[mid] = entry
            if model.relation not in interfaces:
                catalog.known[model.relation] = _columns(entry)
        catalog.close()  # no DuckDB work below, and worker processes must not inherit it
        to_trace = {mid: replace(models[mid], columns=_columns(entries[mid])) for mid, _ in traced}
        lineages = fork_map(_trace, (project, catalog.mapping, to_trace), list(to_trace))
        for (mid, key), lineage in zip(traced, lineages, strict=True):
            entries[mid]["lineage"] = lineage
            cache.put("type", key, entries[mid])
        out = dict(models)
        for mid, entry in entries.items():
            typed = replace(models[mid], columns=_columns(entry), tree=None)
            out[mid] = replace(typed, lineage=lineage_from_data(typed, entry["lineage"]),
                               typed_by=typing_pass.note(project, typed, models, interfaces))
            typing_pass.log_typed(out[mid])
        return out, sources
    finally:
        catalog.close()


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


def _trace(shared: tuple[Project, MappingSchema, dict[str, CompiledModel]], mid: str
           ) -> dict[str, object]:
    """Qualify a typed model's tree (in place: it is not used again) and trace its lineage."""
    project, mapping, models = shared
    model = models[mid]
    tree = model.tree if model.tree is not None else reparse(project, model)
    qualified = sqlmod.qualify_columns(tree, mapping, copy=False)
    return lineage_to_data(model_lineage(model, qualified))


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


def _bind_location(model: CompiledModel, message: str) -> Location:
    """Point at the first word DuckDB names in its message, found in the template."""
    for word in _QUOTED.findall(message):
        leaf = word.split(".")[-1]
        for i, line in enumerate(model.source.text.splitlines(), 1):
            match = re.search(r"\b" + re.escape(leaf) + r"\b", line)
            if match:
                return Location(model.source.path, i, match.start() + 1)
    return Location(model.source.path, 1)
