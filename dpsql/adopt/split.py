"""Partition a dbt project's models into products.

- `groups`: one product per dbt group; models outside every group by top-level folder.
- `folders`: one product per top-level model folder.
- `auto`: Louvain community detection (networkx, several resolutions, a fixed seed) on the
  ref graph, so that tightly connected models stay together and few refs are cut. A dbt group
  is one unit the method never splits; refs between models of the same (non-layer) folder
  weigh double, so folders hold together where the graph allows. Models with no ref to
  another model join their folder's product.

Whatever the mode, products that would read each other in a circle are merged: a product
graph must have no cycle.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch

import networkx as nx

from dpsql.adopt.dbt_values import DbtModel, DbtProject
from dpsql.load.names import reserved_product_name

SPLITS = ("auto", "folders", "groups")
# folder names that say a layer of the pipeline rather than a part of the business
LAYERS = {"staging", "stg", "intermediate", "int", "marts", "mart", "base", "prep", "models",
          "transform", "transforms", "sources", "src", "raw", "core", "ods", "wh", "dw", "edw",
          "warehouse", "reports", "metrics", "aggregates", "facts", "dims", "dimensions",
          "utils", "utilities", "common", "shared", "_source", "_sources"}


# Louvain's resolution: below 1 it prefers fewer, larger communities. Each is tried; the
# partition with the best modularity (at resolution 1) whose products hold MIN_MODELS models
# or more is kept: a data product is a business area, not a single model.
RESOLUTIONS = (1.0, 0.8, 0.6, 0.4)
_FOLDERS_TAKEN = {"data", "macros", "packages", "target", "tests", "models"}
MIN_MODELS = 3
FOLDER_AFFINITY = 0.5  # the weight of the ring through a folder's models (a ref weighs 1)


@dataclass(frozen=True)
class Proposal:
    """One proposed product: its models (dbt's order), domain, owner, and why."""

    name: str
    models: tuple[str, ...]
    domain: str
    owner: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Split:
    mode: str
    products: tuple[Proposal, ...]
    modularity: float | None  # of the partition, on the undirected ref graph (None: no refs)
    resolution: float | None = None  # Louvain's, for `auto`


def folder_key(model: DbtModel) -> str:
    """The first folder of a model that is not a layer word (`marts/finance` -> finance)."""
    return next((f for f in model.folders if f.lower() not in LAYERS), "")


def model_edges(project: DbtProject) -> list[tuple[str, str]]:
    """(upstream, downstream) for every ref between two models."""
    names = {m.name for m in project.models}
    return [(r, m.name) for m in project.models for r in m.refs if r in names]


def split_project(project: DbtProject, mode: str,
                  domain_of: Sequence[tuple[str, str]] = ()) -> Split:
    edges = model_edges(project)
    resolution: float | None = None
    labels: dict[int, str] = {}
    if mode == "groups":
        parts, why, labels = _by(project, lambda m: m.group or (m.folders[:1] or ("",))[0])
    elif mode == "folders":
        parts, why, labels = _by(project, lambda m: (m.folders[:1] or ("",))[0])
    else:
        parts, why, resolution = _best_communities(project, edges)
    parts, why, labels = _merge_cycles(parts, why, labels, edges)
    products = _proposals(project, parts, why, labels, domain_of)
    return Split(mode, products, _modularity(project, parts, edges), resolution)


def _best_communities(project: DbtProject, edges: Sequence[tuple[str, str]]
                      ) -> tuple[list[set[str]], dict[int, list[str]], float]:
    """Louvain at each of RESOLUTIONS, made acyclic; the partition kept is the one with the
    highest modularity among those whose products all hold MIN_MODELS models or more (else
    among all), fewer products first on a tie."""
    best: tuple[tuple[bool, float, int], list[set[str]], dict[int, list[str]], float] | None
    best = None
    for resolution in RESOLUTIONS:
        parts, why = _communities(project, edges, resolution)
        parts, why = _pull_up(parts, why, edges)
        parts, why, _ = _merge_cycles(parts, why, {}, edges)
        big = len(parts) == 1 or min(len(p) for p in parts) >= MIN_MODELS
        key = (big, round(_modularity(project, parts, edges) or 0.0, 6), -len(parts))
        if best is None or key > best[0]:
            best = (key, parts, why, resolution)
    assert best is not None
    return best[1], best[2], best[3]


def _merge_cycles(parts: list[set[str]], why: Mapping[int, list[str]], labels: Mapping[int, str],
                  edges: Sequence[tuple[str, str]]
                  ) -> tuple[list[set[str]], dict[int, list[str]], dict[int, str]]:
    new_parts, new_why, new_labels = [], {}, {}
    for index, members in enumerate(_acyclic(parts, edges)):
        new_parts.append(set().union(*(parts[i] for i in members)))
        new_why[index] = list(dict.fromkeys(w for i in members for w in why.get(i, [])))
        named = [labels[i] for i in members if labels.get(i)]
        if named:
            new_labels[index] = named[0]
        if len(members) > 1:
            new_why[index].append(f"merged {len(members)} parts that would otherwise read "
                                  "each other in a circle")
    return new_parts, new_why, new_labels


def _by(project: DbtProject, key: Callable[[DbtModel], str]
        ) -> tuple[list[set[str]], dict[int, list[str]], dict[int, str]]:
    grouped: dict[str, set[str]] = {}
    for model in project.models:
        grouped.setdefault(key(model), set()).add(model.name)
    parts = list(grouped.values())
    why, labels = {}, {}
    for i, label in enumerate(grouped):
        kind = "dbt group" if label in project.groups else "top-level folder"
        why[i] = [f"{kind} `{label}`" if label else "the models at the top of the model folder"]
        labels[i] = label or project.name
    return parts, why, labels


def _communities(project: DbtProject, edges: Sequence[tuple[str, str]], resolution: float
                 ) -> tuple[list[set[str]], dict[int, list[str]]]:
    by_name = {m.name: m for m in project.models}

    def unit(name: str) -> str:
        group = by_name[name].group
        return f"group:{group}" if group else name

    graph = nx.Graph()
    graph.add_nodes_from(unit(m.name) for m in project.models)
    for up, down in edges:
        a, b = unit(up), unit(down)
        if a == b:
            continue
        same = folder_key(by_name[up]) and folder_key(by_name[up]) == folder_key(by_name[down])
        weight = graph.get_edge_data(a, b, {}).get("weight", 0) + (2 if same else 1)
        graph.add_edge(a, b, weight=weight)
    _folder_rings(project, unit, graph)
    for model in project.models:  # models that read the same data belong together too
        for data in (*(r for r in model.refs if project.seed(r)), *map(".".join, model.sources)):
            weight = graph.get_edge_data(unit(model.name), f"data:{data}", {}).get("weight", 0)
            graph.add_edge(unit(model.name), f"data:{data}", weight=weight + 1)
    connected = graph.subgraph([n for n in graph if graph.degree(n) > 0])
    found = nx.community.louvain_communities(connected, weight="weight", seed=0,
                                             resolution=resolution) \
        if connected.number_of_nodes() else []
    members = {u: [m.name for m in project.models if unit(m.name) == u] for u in graph}
    parts = [p for p in (set().union(*(members[u] for u in c)) for c in found) if p]
    why = {i: ["a community of the ref graph (Louvain modularity): its models ref each other, "
               "and read the same seeds and sources, more than they do the rest"]
           for i in range(len(parts))}
    _place_loose(project, [n for n in graph if graph.degree(n) == 0], members, parts, why)
    for i, part in enumerate(parts):
        groups = sorted({by_name[m].group for m in part if by_name[m].group})
        if groups:
            why[i].append(f"keeps dbt group{'s' if len(groups) > 1 else ''} "
                          f"{', '.join(f'`{g}`' for g in groups)} whole")
    return parts, why


def _folder_rings(project: DbtProject, unit: Callable[[str], str], graph: nx.Graph) -> None:
    """Models of one (non-layer) folder attract each other a little, whether or not they ref
    each other: a ring of weak edges through each folder's models."""
    folders: dict[str, list[str]] = {}
    for model in project.models:
        if folder_key(model):
            folders.setdefault(folder_key(model), []).append(unit(model.name))
    for units in folders.values():
        ring = list(dict.fromkeys(units))
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            if a != b:
                weight = graph.get_edge_data(a, b, {}).get("weight", 0) + FOLDER_AFFINITY
                graph.add_edge(a, b, weight=weight)


def _place_loose(project: DbtProject, loose: Iterable[str], members: Mapping[str, list[str]],
                 parts: list[set[str]], why: dict[int, list[str]]) -> None:
    """Units with no ref to or from another model: into the part holding most of their folder,
    else one part per folder."""
    by_name = {m.name: m for m in project.models}
    for unit in loose:
        names = members[unit]
        key = folder_key(by_name[names[0]])
        scores = [sum(1 for m in part if key and folder_key(by_name[m]) == key) for part in parts]
        best = max(range(len(parts)), key=lambda i: scores[i], default=None)
        if best is not None and scores[best] > 0:
            parts[best].update(names)
            continue
        parts.append(set(names))
        why[len(parts) - 1] = [f"models that ref no other model, from folder `{key}`" if key
                               else "a model that refs no other model"]


def _pull_up(parts: list[set[str]], why: dict[int, list[str]], edges: Sequence[tuple[str, str]]
             ) -> tuple[list[set[str]], dict[int, list[str]]]:
    """Order the parts from upstream to downstream (by the mean depth of their models in the
    ref graph); a model read by a part earlier in that order moves into that part, with what
    it reads from later parts, until every cut ref runs downstream: then no two products
    read each other in a circle. A model only ever moves to an earlier part, so this ends."""
    graph = nx.DiGraph(list(edges))
    depth = {m: d for d, layer in enumerate(nx.topological_generations(graph)) for m in layer}
    order = sorted(range(len(parts)), key=lambda i: (
        sum(depth.get(m, 0) for m in parts[i]) / max(len(parts[i]), 1), min(parts[i])))
    rank = {part: r for r, part in enumerate(order)}
    where = {m: rank[i] for i, part in enumerate(parts) for m in part}
    moved: dict[int, int] = {}
    changed = True
    while changed:
        changed = False
        for up, down in edges:
            if where[up] > where[down]:
                where[up] = where[down]
                moved[where[down]] = moved.get(where[down], 0) + 1
                changed = True
    new_parts = [{m for m, r in where.items() if r == rank[i]} for i in range(len(parts))]
    new_why = {}
    for i in range(len(parts)):
        new_why[i] = list(why.get(i, []))
        if moved.get(rank[i]):
            new_why[i].append(f"took {moved[rank[i]]} model(s) that products downstream of it "
                              "also read, so that every cut ref runs downstream")
    keep = [i for i, part in enumerate(new_parts) if part]
    return [new_parts[i] for i in keep], {n: new_why[i] for n, i in enumerate(keep)}


def _acyclic(parts: list[set[str]], edges: Sequence[tuple[str, str]]) -> list[list[int]]:
    """The parts to merge so that none reads another in a circle: the strongly connected
    components of the part graph, each as the indices of its parts."""
    index = {m: i for i, part in enumerate(parts) for m in part}
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(parts)))
    graph.add_edges_from((index[a], index[b]) for a, b in edges if index[a] != index[b])
    return [sorted(c) for c in sorted(nx.strongly_connected_components(graph), key=min)]


def _modularity(project: DbtProject, parts: list[set[str]],
                edges: Sequence[tuple[str, str]]) -> float | None:
    graph = nx.Graph()
    graph.add_nodes_from(m.name for m in project.models)
    graph.add_edges_from(edges)
    if not graph.number_of_edges():
        return None
    return float(nx.community.modularity(graph, parts))


def _proposals(project: DbtProject, parts: list[set[str]], why: Mapping[int, list[str]],
               labels: Mapping[int, str], domain_of: Sequence[tuple[str, str]]
               ) -> tuple[Proposal, ...]:
    order = [m.name for m in project.models]
    by_name = {m.name: m for m in project.models}
    taken: set[str] = set()
    out = []
    for i, part in sorted(enumerate(parts), key=lambda p: min(order.index(m) for m in p[1])):
        models = [by_name[n] for n in order if n in part]
        whole = project.name if len(parts) == 1 else ""
        name = _unique(labels.get(i) or whole or _name_of(project, models), taken)
        groups = Counter(m.group for m in models if m.group)
        group = groups.most_common(1)[0][0] if groups else ""
        owner = project.groups[group].owner if group in project.groups else ""
        out.append(Proposal(name, tuple(m.name for m in models),
                            _domain(project, name, models, domain_of), owner,
                            tuple(why.get(i, []))))
    return tuple(out)


# words of model names that say a layer or a kind of model, not what the model is about
_NAME_NOISE = {"base", "stg", "staging", "int", "fct", "fact", "dim", "rpt", "agg", "mart",
               "metrics", "report", "xrf", "summary", "analysis", "by", "per", "and", "of",
               "the", "daily", "monthly", "weekly", "model", "models", "raw", "src", "day",
               "week", "month", "year", "hour", "date", "time", "all", "top"}


def _name_of(project: DbtProject, models: Sequence[DbtModel]) -> str:
    """A group all models share, else the folder most of them are in, else the word most of
    their names share (`customer` for customer_rfm_segments, dim_customer, ...)."""
    groups = {m.group for m in models}
    if len(groups) == 1 and "" not in groups:
        return groups.pop()
    keys = Counter(folder_key(m) for m in models if folder_key(m))
    if keys and keys.most_common(1)[0][1] * 2 > len(models):
        return keys.most_common(1)[0][0]
    words: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for model in models:
        seen = set()
        for word in re.split(r"[_\W]+", model.name.lower()):
            stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
            if stem and stem not in _NAME_NOISE and not re.fullmatch(r"v?\d+", stem):
                seen.add(stem)
                spelled.setdefault(stem, word)
        words.update(seen)
    if words:
        return spelled[words.most_common(1)[0][0]]
    return project.name


def _unique(name: str, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", name).lower() or "models"
    if name[0].isdigit() or reserved_product_name(name, "warehouse"):
        name = f"p_{name}"
    if name in _FOLDERS_TAKEN:  # the workspace's own folders
        name = f"{name}_product"
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _domain(project: DbtProject, name: str, models: Sequence[DbtModel],
            domain_of: Sequence[tuple[str, str]]) -> str:
    for pattern, domain in domain_of:
        if fnmatch(name, pattern) or any(fnmatch(m.rel, pattern) or fnmatch(m.name, pattern)
                                         for m in models):
            return domain
    keys = Counter(folder_key(m) for m in models if folder_key(m))
    if keys:
        return keys.most_common(1)[0][0]
    groups = Counter(m.group for m in models if m.group)
    return groups.most_common(1)[0][0] if groups else name
