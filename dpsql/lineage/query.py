"""Questions asked of the lineage graphs, answered as a `Subgraph`: plain nodes and links that
every output format (text, JSON, Mermaid, DOT, OpenLineage) draws the same way.

Distances: 0 is the thing asked about, -n is n steps upstream, +n is n steps downstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from dpsql.core.graph import distances
from dpsql.core.lineage import Col, is_direct, rows_of
from dpsql.lineage.graph import Edge, LineageGraph, RelKey, Target


@dataclass(frozen=True)
class Node:
    id: str  # the name users type: product, product.model, product.relation.column
    kind: str  # "product" | "model" | "input" | "column"
    product: str
    domain: str
    label: str  # short text for diagrams
    detail: str = ""  # a column's type, a model's materialization, an input's file
    role: str = ""  # "port", "model", "file", "table" or "product"
    distance: int = 0
    relation: str = ""  # for columns: the relation's name (product.port / product.model / ...)
    info: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    incomplete: str = ""  # columns: why the lineage through this column is not known in full
    possibly: bool = False  # downstream: reached only through a model whose lineage is incomplete


@dataclass(frozen=True)
class Link:
    source: str
    target: str
    subtypes: tuple[str, ...] = ()  # OpenLineage subtypes, for column links
    via: str = ""  # the model computing a column link; the port of a product link
    row_level: bool = False  # only from filters, joins, grouping or sorting


@dataclass(frozen=True)
class Subgraph:
    level: str  # "workspace" | "product" | "model" | "column"
    focus: str | None
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    upstream: bool = True
    downstream: bool = True
    depth: int | None = None
    row_level: bool = True  # row-deciding links are followed (all but --direct-only)
    notes: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()  # every domain of the workspace: colours stay the same


    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def ask(graph: LineageGraph, target: Target | None, *, upstream: bool = True,
        downstream: bool = True, depth: int | None = None, direct_only: bool = False
        ) -> Subgraph:
    """The lineage of a target (the product graph of the workspace when there is none)."""
    if target is None:
        sub = workspace(graph)
    elif target.level == "product":
        assert target.product is not None
        sub = product_lineage(graph, target.product, upstream, downstream, depth)
    elif target.level == "relation":
        assert target.relation is not None
        sub = relation_lineage(graph, target.relation, upstream, downstream, depth)
    else:
        assert target.column is not None
        sub = column_lineage(graph, target.column, upstream, downstream, depth, direct_only)
    domains = sorted({p.spec.domain for p in graph.compiled.project.products})
    return replace(sub, domains=tuple(domains))


# --- products --------------------------------------------------------------------------------


def _product_node(graph: LineageGraph, name: str, distance: int = 0) -> Node:
    product = graph.compiled.project.by_name[name]
    spec = product.spec
    reads = [f"{i.product}.{i.port}" if i.kind == "product"
             else f"{name}.{i.name} ({i.kind} {i.file.name if i.file else i.table})"
             for i in spec.inputs]
    info = {"owner": spec.owner, "version": str(spec.version), "description": spec.description,
            "ports": ", ".join(f"{name}.{o.name}" for o in spec.outputs),
            "reads": ", ".join(reads)}
    return Node(name, "product", name, spec.domain, name, f"v{spec.version}", "product",
                distance, info=info)


def _raw_inputs(graph: LineageGraph) -> dict[str, list[RelKey]]:
    out: dict[str, list[RelKey]] = {}
    for key, owner in graph.owners.items():
        if owner.is_raw:
            out.setdefault(owner.product, []).append(key)
    return out


def workspace(graph: LineageGraph) -> Subgraph:
    products = sorted(graph.compiled.project.products, key=lambda p: (p.spec.domain, p.name))
    nodes = [_product_node(graph, p.name) for p in products]
    links = [Link(e.producer, e.consumer, via=f"{e.producer}.{e.port}")
             for e in graph.product_edges]
    return Subgraph("workspace", None, tuple(nodes), tuple(links))


def product_lineage(graph: LineageGraph, name: str, upstream: bool, downstream: bool,
                    depth: int | None) -> Subgraph:
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for e in graph.product_edges:
        up.setdefault(e.consumer, []).append(e.producer)
        down.setdefault(e.producer, []).append(e.consumer)
    found: dict[str, int] = {name: 0}
    for index, sign, wanted in ((up, -1, upstream), (down, 1, downstream)):
        if wanted:
            for other, steps in distances(name, index, depth).items():
                found.setdefault(other, sign * steps)
    nodes = [_product_node(graph, p, d) for p, d in found.items()]
    links = [Link(e.producer, e.consumer, via=f"{e.producer}.{e.port}")
             for e in graph.product_edges if e.producer in found and e.consumer in found
             and (found[e.producer] < found[e.consumer])]
    if upstream:  # the raw inputs of the products upstream (and of the product itself)
        raw = _raw_inputs(graph)
        for p, d in list(found.items()):
            if d <= 0 and (depth is None or -d < depth):
                for key in raw.get(p, ()):
                    n = _relation_node(graph, key, d - 1)
                    nodes.append(n)
                    links.append(Link(n.id, p, via=n.detail))
    return Subgraph("product", name, tuple(nodes), tuple(links), upstream, downstream, depth)


# --- models and raw inputs -------------------------------------------------------------------


def relation_id(graph: LineageGraph, key: RelKey) -> str:
    """Models go by their id (`orders.fct_orders`), raw inputs by `product.input`."""
    owner = graph.owners.get(key)
    if owner is None:
        return f"{key[0]}.{key[1]}"
    return owner.model or owner.label


def _relation_node(graph: LineageGraph, key: RelKey, distance: int = 0) -> Node:
    owner = graph.owners.get(key)
    node_id = relation_id(graph, key)
    if owner is None:
        return Node(node_id, "input", key[0], "", node_id, "external", "table", distance)
    if owner.model:
        role = "port" if owner.port else "model"
        detail = owner.detail + (f", port {owner.label}" if owner.port else "")
        return Node(node_id, "model", owner.product, graph.domain(owner.product), node_id,
                    detail, role, distance, info={"relation": f"{key[0]}.{key[1]}"})
    return Node(node_id, "input", owner.product, graph.domain(owner.product), node_id,
                owner.detail, owner.kind, distance, info={"relation": f"{key[0]}.{key[1]}"})


def relation_lineage(graph: LineageGraph, key: RelKey, upstream: bool, downstream: bool,
                     depth: int | None) -> Subgraph:
    distances: dict[RelKey, int] = {key: 0}
    pairs: list[tuple[RelKey, RelKey]] = []
    for wanted, is_up, sign in ((upstream, True, -1), (downstream, False, 1)):
        if wanted:
            seen, used = graph.walk_relations(key, upstream=is_up, depth=depth)
            for other, steps in seen.items():
                distances.setdefault(other, sign * steps)
            pairs.extend(used)
    nodes = [_relation_node(graph, k, d) for k, d in distances.items()]
    links = [Link(relation_id(graph, a), relation_id(graph, b))
             for a, b in dict.fromkeys(pairs)]
    return Subgraph("model", relation_id(graph, key), tuple(nodes), tuple(links), upstream,
                    downstream, depth)


# --- columns ---------------------------------------------------------------------------------


def column_node(graph: LineageGraph, col: Col, distance: int = 0) -> Node:
    key = (col.schema, col.name)
    owner = graph.owners.get(key)
    role = ("port" if owner.port else owner.kind if owner.is_raw else "model") if owner else "table"
    product = owner.product if owner else col.schema
    incomplete = graph.incomplete.get(key, "")
    if col.is_rows:
        return Node(graph.name(col), "rows", product, graph.domain(product), "(rows)",
                    "which rows exist", role, distance, graph.label(key), incomplete=incomplete)
    return Node(graph.name(col), "column", product, graph.domain(product), col.column,
                graph.column_type(col), role, distance, graph.label(key), incomplete=incomplete)


def column_lineage(graph: LineageGraph, col: Col, upstream: bool, downstream: bool,
                   depth: int | None, direct_only: bool = False) -> Subgraph:
    distances: dict[Col, int] = {col: 0}
    edges: list[Edge] = []
    possibly: set[Col] = set()
    for wanted, is_up, sign in ((upstream, True, -1), (downstream, False, 1)):
        if wanted:
            seen, used = graph.walk_columns(col, upstream=is_up, depth=depth,
                                            direct_only=direct_only)
            for other, steps in seen.items():
                distances.setdefault(other, sign * steps)
            edges.extend(used)
            if not is_up and depth is None:
                possibly = _possibly_affected(graph, set(seen), direct_only)
                for other in possibly:
                    distances.setdefault(other, 1)
    nodes = tuple(replace(column_node(graph, c, d), possibly=c in possibly)
                  for c, d in distances.items())
    links = tuple(merge_links(graph, edges))
    notes: list[str] = []
    if upstream and not graph.up.get(col):
        owner = graph.owners.get((col.schema, col.name))
        if owner is not None and owner.model and not col.is_rows:
            notes.append("no input column flows into this column or decides its rows")
    if possibly:
        notes.append(f"{len(possibly)} columns are possibly affected: they are computed by models "
                     "whose lineage is incomplete (DP502) from something reached here")
    return Subgraph("column", graph.name(col), nodes, links, upstream, downstream, depth,
                    not direct_only, tuple(notes))


def _possibly_affected(graph: LineageGraph, reached: set[Col], direct_only: bool) -> set[Col]:
    """Columns of models with incomplete lineage that read a relation reached, and whatever is
    computed from them: their dependence cannot be ruled out."""
    readers: dict[RelKey, list[RelKey]] = {}
    for target, sources in graph.rel_up.items():
        if target in graph.incomplete:
            for source in sources:
                readers.setdefault(source, []).append(target)
    found: set[Col] = set()
    relations = {(c.schema, c.name) for c in reached}
    todo = list(relations)
    while todo:
        key = todo.pop()
        for reader in readers.get(key, ()):
            columns = [Col(reader[0], reader[1], c.name) for c in graph.columns.get(reader, ())]
            for start in [*columns, rows_of(*reader)]:
                if start in found or start in reached:
                    continue
                seen, _ = graph.walk_columns(start, upstream=False, direct_only=direct_only)
                for other in seen:
                    if other not in reached and other not in found:
                        found.add(other)
                        if (other.schema, other.name) not in relations:
                            relations.add((other.schema, other.name))
                            todo.append((other.schema, other.name))
    return found


def concerning(graph: LineageGraph, sub: Subgraph) -> list[str]:
    """The models whose lineage a subgraph shows (for the warnings that concern it)."""
    keys: set[RelKey] = set()
    for node in sub.nodes:
        key = graph.aliases.get(node.relation or node.id)
        if key is not None:
            keys.add(key)
        elif node.kind == "product":
            keys.update(k for k, o in graph.owners.items() if o.product == node.id)
    return [o.model for k in keys if (o := graph.owners.get(k)) is not None and o.model]


def merge_links(graph: LineageGraph, edges: Iterable[Edge]) -> list[Link]:
    """One link per pair of columns, with every subtype seen on it."""
    merged: dict[tuple[Col, Col], tuple[set[str], str, bool]] = {}
    for e in edges:
        found = merged.get((e.source, e.target))
        if found is None:
            merged[(e.source, e.target)] = (set(e.subtypes), e.model, e.row_level)
        else:
            found[0].update(e.subtypes)
            merged[(e.source, e.target)] = (found[0], found[1], found[2] and e.row_level)
    return [Link(graph.name(s), graph.name(t), tuple(sorted(subs, key=_subtype_order)), model, row)
            for (s, t), (subs, model, row) in merged.items()]


def _subtype_order(subtype: str) -> tuple[int, str]:
    return (0 if is_direct(subtype) else 1, subtype)


def ends(sub: Subgraph) -> tuple[list[Node], list[Node]]:
    """Raw inputs reached upstream, and ports reached downstream (for summaries)."""
    raw = [n for n in sub.nodes if n.distance < 0 and n.role in ("file", "table")]
    ports = [n for n in sub.nodes if n.distance > 0 and n.role == "port" and n.kind != "rows"]
    return raw, ports
