"""The workspace's lineage as three graphs, built once from a compiled project.

- columns: nodes are `schema.relation.column` in the warehouse; an edge says which model
  computes the target column from the source column, and how (see `dpsql.lineage`). A port is
  the same relation for its producer and its consumers, so edges cross products by themselves.
- relations: models and raw inputs (file and table inputs), an edge per relation read.
- products: an edge per port a product reads from another product.

Users name things as they write them: `product` , `product.model` (or `product.port`, or
`product.input` for a raw input) and `product.relation.column` where the relation is a port,
a model or an input. A raw input column is `product.input.column`: `orders.raw_orders.amount_cents`.
The warehouse spelling (`orders_internal.stg_orders.amount`) is accepted too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dpsql.core.errors import Diagnostic, DpsqlError, closest, error
from dpsql.core.graph import breadth_first
from dpsql.core.lineage import ROWS, Col, ModelLineage, rows_of
from dpsql.core.project import Column, CompiledProject
from dpsql.core.runtime import collector_paused
from dpsql.lineage.model import incomplete_warning, untraced

log = logging.getLogger("dpsql")

RelKey = tuple[str, str]  # (schema, name) of a relation in the warehouse


@dataclass(frozen=True)
class Owner:
    """Who a relation belongs to, and how users call it."""

    kind: str  # "model" (port or internal), "file" or "table" (raw inputs)
    product: str
    name: str  # the model's or the input's name
    label: str  # product.port, product.model or product.input (or schema.name on a clash)
    model: str | None = None  # model id, for models
    port: str | None = None  # port name, for port models
    detail: str = ""  # materialization, or where a raw input comes from

    @property
    def is_raw(self) -> bool:
        return self.kind != "model"


@dataclass(frozen=True)
class Edge:
    """`target` is computed by `model` from `source`."""

    source: Col
    target: Col
    subtypes: frozenset[str]
    model: str
    row_level: bool = False  # from the model's filters, joins, grouping or sorting


@dataclass(frozen=True)
class ProductEdge:
    producer: str
    consumer: str
    port: str
    models: tuple[str, ...]  # consumer models that read the port (may be empty: declared only)


@dataclass(frozen=True)
class LineageGraph:
    compiled: CompiledProject
    lineages: Mapping[str, ModelLineage]
    owners: Mapping[RelKey, Owner]
    columns: Mapping[RelKey, tuple[Column, ...]]
    up: Mapping[Col, tuple[Edge, ...]]
    down: Mapping[Col, tuple[Edge, ...]]
    rel_up: Mapping[RelKey, tuple[RelKey, ...]]
    rel_down: Mapping[RelKey, tuple[RelKey, ...]]
    product_edges: tuple[ProductEdge, ...]
    aliases: Mapping[str, RelKey] = field(repr=False)  # every accepted spelling of a relation
    types: Mapping[Col, str] = field(repr=False)  # the DuckDB type of every known column
    # relations of models whose lineage is incomplete -> why
    incomplete: Mapping[RelKey, str] = field(default_factory=lambda: MappingProxyType({}),
                                             repr=False)

    # --- names -------------------------------------------------------------------------------

    def label(self, key: RelKey) -> str:
        owner = self.owners.get(key)
        return owner.label if owner else f"{key[0]}.{key[1]}"

    def name(self, col: Col) -> str:
        return f"{self.label((col.schema, col.name))}.{col.column}"

    def column_type(self, col: Col) -> str:
        return self.types.get(col, "")

    def domain(self, product: str) -> str:
        spec = self.compiled.project.by_name.get(product)
        return spec.spec.domain if spec else ""

    def product_of(self, key: RelKey) -> str:
        owner = self.owners.get(key)
        return owner.product if owner else key[0]

    # --- walks -------------------------------------------------------------------------------

    def walk_columns(self, start: Col, *, upstream: bool, depth: int | None = None,
                     direct_only: bool = False) -> tuple[dict[Col, int], list[Edge]]:
        """Columns (and rows nodes) reached from `start`, with their distance, and the edges
        used: every edge, or with `direct_only` the value edges only (what a column's own
        expression reads), not the row-deciding ones."""
        index = self.up if upstream else self.down

        def step(col: Col) -> Iterator[tuple[Col, Edge]]:
            for edge in index.get(col, ()):
                if not direct_only or not edge.row_level:
                    yield (edge.source if upstream else edge.target), edge

        return breadth_first(start, step, depth)

    def walk_relations(self, start: RelKey, *, upstream: bool, depth: int | None = None
                       ) -> tuple[dict[RelKey, int], list[tuple[RelKey, RelKey]]]:
        index = self.rel_up if upstream else self.rel_down

        def step(key: RelKey) -> Iterator[tuple[RelKey, tuple[RelKey, RelKey]]]:
            for other in index.get(key, ()):
                yield other, ((other, key) if upstream else (key, other))

        return breadth_first(start, step, depth)

    def raw_inputs(self, cols: Iterable[Col]) -> list[Col]:
        return [c for c in cols if (o := self.owners.get((c.schema, c.name))) and o.is_raw]

    def port_columns(self, cols: Iterable[Col]) -> list[Col]:
        return [c for c in cols if (o := self.owners.get((c.schema, c.name))) and o.port]


def build_graph(compiled: CompiledProject) -> LineageGraph:
    """Trace every model once and index the edges both ways."""
    started = time.perf_counter()
    with collector_paused():
        graph = _build_graph(compiled)
    log.info("lineage: traced %d models (%d column edges) in %.3fs", len(graph.lineages),
             sum(len(edges) for edges in graph.up.values()), time.perf_counter() - started)
    return graph


def _build_graph(compiled: CompiledProject) -> LineageGraph:
    owners, columns = _owners(compiled)
    lineages: dict[str, ModelLineage] = {}
    up: dict[Col, list[Edge]] = {}
    down: dict[Col, list[Edge]] = {}
    rel_up: dict[RelKey, dict[RelKey, None]] = {}
    rel_down: dict[RelKey, dict[RelKey, None]] = {}
    project = compiled.project
    for mid in compiled.order:
        model = compiled.models.get(mid)
        if model is None:
            continue
        lineage = model.lineage if model.lineage is not None else untraced(
            model, "its columns are unknown")
        lineages[mid] = lineage
        rel = model.relation
        target_key = (rel.schema, rel.name)
        reads = [compiled.models[d].relation for d in model.depends_on if d in compiled.models]
        product = project.by_name[model.product]
        for name in model.inputs:
            spec = product.spec.input(name)
            if spec is not None and spec.kind != "product":
                reads.append(product.relation_of_input(spec))
        for read in reads:
            key = (read.schema, read.name)
            rel_up.setdefault(target_key, {})[key] = None
            rel_down.setdefault(key, {})[target_key] = None
        for edge in _model_edges(mid, lineage):
            up.setdefault(edge.target, []).append(edge)
            down.setdefault(edge.source, []).append(edge)
    aliases = _aliases(compiled, owners)
    return LineageGraph(
        compiled=compiled,
        lineages=MappingProxyType(lineages),
        owners=MappingProxyType(owners),
        columns=MappingProxyType(columns),
        up=MappingProxyType({k: tuple(v) for k, v in up.items()}),
        down=MappingProxyType({k: tuple(v) for k, v in down.items()}),
        rel_up=MappingProxyType({k: tuple(v) for k, v in rel_up.items()}),
        rel_down=MappingProxyType({k: tuple(v) for k, v in rel_down.items()}),
        product_edges=_product_edges(compiled),
        aliases=MappingProxyType(aliases),
        types=MappingProxyType({Col(key[0], key[1], c.name): c.type
                                for key, cols in columns.items() for c in cols}),
        incomplete=MappingProxyType({
            (lin.relation.schema, lin.relation.name): "; ".join(lin.problems)
            for lin in lineages.values() if lin.problems}),
    )


def _model_edges(mid: str, lineage: ModelLineage) -> Iterator[Edge]:
    """Value edges into each output column; row-level edges into each column from what decides
    the rows it sits in, and into the model's rows node from what decides which rows exist."""
    rel = lineage.relation
    for out_name, sources in lineage.fields.items():
        target = Col(rel.schema, rel.name, out_name)
        for source, subtypes in sources.items():
            yield Edge(source, target, subtypes, mid)
        rows = lineage.row_fields.get(out_name, lineage.dataset)
        for source, subtypes in rows.items():
            yield Edge(source, target, subtypes, mid, row_level=True)
    rows_node = rows_of(rel.schema, rel.name)
    for source, subtypes in lineage.rows.items():
        yield Edge(source, rows_node, subtypes, mid, row_level=True)


def _owners(compiled: CompiledProject
            ) -> tuple[dict[RelKey, Owner], dict[RelKey, tuple[Column, ...]]]:
    owners: dict[RelKey, Owner] = {}
    columns: dict[RelKey, tuple[Column, ...]] = {}
    used: set[str] = set()

    def add(key: RelKey, owner: Owner, cols: tuple[Column, ...] | None) -> None:
        if key in owners:
            return  # a table read by several products belongs to the first
        label = owner.label
        if label in used:  # a port named like another product's... keep names unique
            label = f"{key[0]}.{key[1]}"
        used.add(label)
        owners[key] = Owner(owner.kind, owner.product, owner.name, label, owner.model,
                            owner.port, owner.detail)
        if cols is not None:
            columns[key] = cols

    for product in compiled.project.products:
        for model in product.models:
            compiled_model = compiled.models.get(model.id)
            if compiled_model is None:
                continue
            rel = compiled_model.relation
            port = compiled_model.port
            label = f"{product.name}.{port or model.name}"
            add((rel.schema, rel.name),
                Owner("model", product.name, model.name, label, model.id, port,
                      compiled_model.config.materialized),
                compiled_model.columns)
        for spec in product.spec.inputs:
            if spec.kind == "product":
                continue
            rel = product.relation_of_input(spec)
            detail = (f"file {spec.file.name}" if spec.kind == "file" and spec.file
                      else f"table {rel}")
            add((rel.schema, rel.name),
                Owner(spec.kind, product.name, spec.name, f"{product.name}.{spec.name}",
                      detail=detail),
                compiled.sources.get((product.name, spec.name)))
    return owners, columns


def _aliases(compiled: CompiledProject, owners: Mapping[RelKey, Owner]) -> dict[str, RelKey]:
    aliases: dict[str, RelKey] = {}
    for key, owner in owners.items():
        for alias in (owner.label, f"{owner.product}.{owner.name}", f"{key[0]}.{key[1]}"):
            aliases.setdefault(alias, key)
    for product in compiled.project.products:  # a table input read by a second product
        for spec in product.spec.inputs:
            if spec.kind == "table":
                rel = product.relation_of_input(spec)
                aliases.setdefault(f"{product.name}.{spec.name}", (rel.schema, rel.name))
    return aliases


def _product_edges(compiled: CompiledProject) -> tuple[ProductEdge, ...]:
    readers: dict[tuple[str, str, str], list[str]] = {}
    for product in compiled.project.products:
        for spec in product.spec.inputs:
            if spec.kind == "product" and spec.product and spec.port:
                readers.setdefault((spec.product, product.name, spec.port), [])
    for model in compiled.models.values():
        for dep in model.depends_on:
            producer = compiled.models.get(dep)
            if producer is None or producer.product == model.product or producer.port is None:
                continue
            readers.setdefault((producer.product, model.product, producer.port), []).append(
                model.id)
    return tuple(ProductEdge(p, c, port, tuple(sorted(m)))
                 for (p, c, port), m in sorted(readers.items()))


# --- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    level: str  # "product" | "relation" | "column"
    text: str  # the canonical name
    product: str | None = None
    relation: RelKey | None = None
    column: Col | None = None


def resolve_target(graph: LineageGraph, text: str) -> Target:
    """`product`, `product.model|port|input` or `product.relation.column`; DP501 otherwise."""
    text = text.strip()
    project = graph.compiled.project
    if text in project.by_name:
        return Target("product", text, product=text)
    key = graph.aliases.get(text)
    if key is not None:
        return Target("relation", graph.label(key), product=graph.product_of(key), relation=key)
    head, _, last = text.rpartition(".")
    key = graph.aliases.get(head) if head else None
    if key is not None:
        names = [c.name for c in graph.columns.get(key, ())]
        if last in names or last == ROWS:
            col = Col(key[0], key[1], last)
            return Target("column", graph.name(col), product=graph.product_of(key),
                          relation=key, column=col)
        raise _unknown(f"`{graph.label(key)}` has no column `{last}`", last, names,
                       f"its columns: {', '.join(names)}" if names else
                       "its columns are unknown (does it compile?)")
    parts = text.split(".")
    products = sorted(project.by_name)
    product = parts[0]
    if product not in project.by_name:
        everything = products + list(graph.aliases)
        close = closest(text, everything) or closest(product, products, cutoff=0.7)
        hint = (f"did you mean `{close}`?" if close
                else f"products: {', '.join(products)}; name a model as product.model and a "
                     "column as product.relation.column")
        raise DpsqlError(error("DP501", f"`{text}` names no product, model, port, input or "
                               "column of this workspace", None, hint))
    relations = sorted({o.name for o in graph.owners.values() if o.product == product}
                       | {o.port for o in graph.owners.values() if o.product == product and o.port})
    name = parts[1] if len(parts) > 1 else ""
    raise _unknown(f"product `{product}` has no model, port or input named `{name}`", name,
                   relations, f"known in `{product}`: {', '.join(relations)}")


def _unknown(message: str, name: str, options: list[str], fallback: str) -> DpsqlError:
    close = closest(name, options, cutoff=0.5)
    hint = f"did you mean `{close}`?" if close else fallback
    return DpsqlError(error("DP501", message, None, hint))


def lineage_diagnostics(graph: LineageGraph, models: Iterable[str] | None = None
                        ) -> list[Diagnostic]:
    """A warning (DP502) for each model (of `models`, else all) whose column lineage could not
    be traced in full."""
    wanted = None if models is None else set(models)
    return [incomplete_warning(graph.compiled.models[mid], lineage)
            for mid, lineage in graph.lineages.items()
            if lineage.problems and (wanted is None or mid in wanted)]
