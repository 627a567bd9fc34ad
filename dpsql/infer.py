"""Schema inference: every model's output columns and DuckDB types, in DAG order.

How models are typed, and why DuckDB rather than sqlglot: dpsql/typing_pass.py and
docs/decisions.md.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from dpsql import sql as sqlmod
from dpsql import typing_pass
from dpsql.errors import Diagnostic, Location, error
from dpsql.project import Column, CompiledModel, Project, Relation, table_relation
from dpsql.schema import BindError, SchemaCatalog, warehouse_columns

log = logging.getLogger("dpsql")


def infer(project: Project, models: dict[str, CompiledModel], order: list[str],
          diagnostics: list[Diagnostic]
          ) -> tuple[dict[str, CompiledModel], dict[tuple[str, str], tuple[Column, ...] | None]]:
    catalog = SchemaCatalog()
    try:
        sources = _infer_sources(project, catalog, diagnostics)
        known: set[Relation] = {
            project.by_name[p].relation_of_input(project.by_name[p].spec.input(i))  # type: ignore[arg-type]
            for (p, i), cols in sources.items() if cols is not None
        }
        interfaces = typing_pass.interfaces(project)  # consumers see a port's contract
        for relation, contract in interfaces.items():
            catalog.add(relation, contract)
        known.update(interfaces)
        out = dict(models)
        for mid in order:
            model = models[mid]
            product = project.by_name[model.product]
            needed = [product.relation_of_input(product.spec.input(i))  # type: ignore[arg-type]
                      for i in model.inputs]
            needed += [typing_pass.relation_of_model(project, d) for d in model.depends_on]
            if any(rel not in known for rel in needed):
                continue  # an upstream could not be typed; its own diagnostic says why
            try:
                columns = catalog.describe(model.sql)
            except BindError as exc:
                diagnostics.append(error(
                    "DP208", f"model `{mid}` does not bind: {exc}",
                    _bind_location(model, str(exc)),
                    "fix the column or function named here; upstream columns are listed by "
                    "`dpsql ls --columns`"))
                continue
            if model.relation not in interfaces:
                catalog.add(model.relation, columns)
            known.add(model.relation)
            out[mid] = replace(model, columns=columns,
                               qualified=sqlmod.qualify_columns(model.tree, catalog.mapping),
                               typed_by=typing_pass.note(project, model, models, interfaces))
            typing_pass.log_typed(out[mid])
        return out, sources
    finally:
        catalog.close()


def _infer_sources(project: Project, catalog: SchemaCatalog, diagnostics: list[Diagnostic]
                   ) -> dict[tuple[str, str], tuple[Column, ...] | None]:
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
                    columns = catalog.describe_file(spec.file, spec.file_format)
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
                catalog.add(relation, columns)
            sources[(product.name, spec.name)] = columns
    return sources


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
