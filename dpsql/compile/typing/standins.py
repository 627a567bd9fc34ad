"""How models are typed: what stands in for each relation a model reads, and a note saying so.

Every model is typed by DuckDB: its compiled query is bound (no data read; schema.py) against
empty stand-in tables, in DAG order. A stand-in has the columns of

- a file input: DuckDB's own reading of the file's schema;
- a table input: the warehouse catalog, else the input's declared `columns`;
- another product's output port: the port's contract, when it declares a type for every
  column (the interface is what consumers may rely on, not the producer's current SQL);
- any other model: the columns DuckDB gave that model.

Why DuckDB always, and not sqlglot's type annotation first: docs/decisions.md.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Mapping

from dpsql.core.dtypes import canonical
from dpsql.core.project import Column, CompiledModel, Project
from dpsql.core.relations import Relation
from dpsql.core.specs import OutputSpec

log = logging.getLogger("dpsql")

METHOD = "duckdb"  # how every model is typed today (see docs/decisions.md)


def contract_columns(port: OutputSpec) -> tuple[Column, ...] | None:
    """A port's contract as columns in DuckDB's spelling; None without a complete contract."""
    if not port.columns:
        return None
    columns = []
    for spec in port.columns:
        if not spec.type:
            return None
        try:
            columns.append(Column(spec.name, canonical(spec.type)))
        except ValueError:
            return None  # reported where the YAML is read (DP003)
    return tuple(columns)


def interfaces(project: Project) -> dict[Relation, tuple[Column, ...]]:
    """Relation -> contract columns, for every output port with a complete contract."""
    out: dict[Relation, tuple[Column, ...]] = {}
    for product in project.products:
        for port in product.spec.outputs:
            columns = contract_columns(port)
            if columns is not None:
                out[Relation(product.name, port.name)] = columns
    return out


def relation_of_model(project: Project, model_id: str) -> Relation:
    """Where a model (`product.model`) lives, whether or not it compiled."""
    product, name = model_id.split(".", 1)
    return project.by_name[product].relation_of_model(name)


def note(project: Project, model: CompiledModel, models: Mapping[str, CompiledModel],
         contracts: Container[Relation]) -> str:
    """One line saying how a model was typed and what each upstream stand-in came from;
    `contracts`: the relations of ports with a complete contract."""
    product = project.by_name[model.product]
    origins: dict[str, str] = {}
    for name in model.inputs:
        spec = product.spec.input(name)
        if spec is None:
            continue
        relation = product.relation_of_input(spec)
        if relation in contracts:
            origin = "port contract"
        elif spec.kind == "file":
            origin = "file schema"
        elif spec.kind == "table":
            origin = "warehouse catalog or declared columns"
        else:
            origin = "producer's model (the port has no contract)"
        origins[str(relation)] = origin
    for dep in model.depends_on:
        upstream = models.get(dep)
        if upstream is not None and str(upstream.relation) not in origins:
            origins[str(upstream.relation)] = ("port contract" if upstream.relation in contracts
                                               else "model")
    reads = ", ".join(f"{rel} ({origin})" for rel, origin in origins.items()) or "nothing"
    return f"DuckDB's binder against stand-ins of {reads}"


def log_typed(model: CompiledModel, *, fresh: bool = True) -> None:
    """A model typed now is logged (`-v`, target/dpsql.log); one typed as before, from the
    cache, only at debug level: 10,000 such lines cost a compile after one edit 0.3 s."""
    level = logging.INFO if fresh else logging.DEBUG
    if log.isEnabledFor(level):
        log.log(level, "typed %s: %d columns by %s%s", model.id, len(model.columns or ()),
                model.typed_by, "" if fresh else " (from the cache)")
