"""Typing in worker processes, a group of products each: the typing pass's cold-compile path.

A consumer sees a port with a complete contract through its contract (standins.py), never
through the producer's typed model; so products that read each other only through such ports
can be typed independently, each in its own in-memory DuckDB. `units()` groups products that
depend on each other in any other way (a port without a complete contract), and the groups are
typed in forked workers (compile/parallel.py), each running the same per-model step as the
sequential pass, in DAG order, against the same stand-ins. What a worker found comes back as
plain data: each model's cache entry, its diagnostics, and the cache reads and writes to
replay here, so the result is the sequential pass's.

The sequential pass stays for small compiles, warm caches (few models to type) and workspaces
with incremental models (an incremental run may name relations beyond its declared reads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlglot.schema import MappingSchema

from dpsql.compile.parallel import fork_map, workers
from dpsql.compile.state import CompileState
from dpsql.compile.typing.schema import add_to_mapping
from dpsql.core.project import Column
from dpsql.core.relations import Relation
from dpsql.core.runtime import fast_paths_enabled

MIN_MODELS = 200  # models to type at least, before starting processes pays
# models a batch holds at most, about: each batch is typed in a process of its own, which
# grows with what it parses (memory Python does not give back), so this bounds a worker's peak
BATCH_MODELS = 600


def units(state: CompileState, needed: Callable[[str], list[Relation]], to_type: int
          ) -> list[list[str]] | None:
    """Batches of models that can be typed apart (each in DAG order: it holds whole groups of
    products that read each other); None when the sequential pass should run."""
    if (not fast_paths_enabled() or workers() < 2 or to_type < MIN_MODELS
            or any(m.incremental_sql is not None for m in state.models.values())):
        return None
    owner = {m.relation: m.product for m in state.models.values()}
    parent = {p.name: p.name for p in state.project.products}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for mid in state.order:
        model = state.models[mid]
        for relation in needed(mid):
            producer = owner.get(relation)
            if producer is not None and relation not in state.interfaces:
                parent[root(producer)] = root(model.product)
    groups: dict[str, list[str]] = {}
    for mid in state.order:
        groups.setdefault(root(state.models[mid].product), []).append(mid)
    if len(groups) < 2:
        return None
    batches = max(workers() * 2, -(-len(state.models) // BATCH_MODELS))
    return _batches(list(groups.values()), batches)


def _batches(groups: list[list[str]], count: int) -> list[list[str]]:
    """Groups dealt into `count` batches of about the same size, the largest first (each batch
    is typed in one DuckDB, in a process of its own: opening one costs 15 ms, starting one a
    few); a batch keeps each group in DAG order."""
    batches: list[list[str]] = [[] for _ in range(min(count, len(groups)))]
    for group in sorted(groups, key=len, reverse=True):
        min(batches, key=len).extend(group)
    return sorted(batches, key=len, reverse=True)


class _Recorder:
    """The compile cache as a worker sees it: reads and writes noted, to replay in the parent."""

    def __init__(self, cache: Any):
        self.cache = cache
        self.log: list[tuple[str, str, Any]] = []  # ("get", key, None) | ("put", key, value)

    def get(self, stage: str, key: str) -> Any | None:
        value = self.cache.get(stage, key)
        if value is not None:
            self.log.append(("get", key, None))
        return value

    def put(self, stage: str, key: str, value: Any) -> None:
        self.log.append(("put", key, value))


def type_in_workers(state: CompileState, groups: list[list[str]],
                    known: dict[Relation, tuple[Column, ...]],
                    type_group: Callable[[CompileState, list[str], dict[Relation, Any]], None],
                    needed: Callable[[str], list[Relation]]) -> None:
    """Type (and trace) each group in a worker; merge the results into `state` in DAG order,
    and set `state.mapping` to the columns of what the models typed now and not traced read
    (for the lineage pass to trace them)."""
    results = fork_map(_type_group, (state, known, type_group), groups, min_items=2,
                       fresh=True)
    found: dict[str, tuple[dict[str, Any], str | None]] = {}
    for typed, fresh, keys, diagnostics, log in results:
        state.diagnostics.extend(diagnostics)
        state.type_keys.update(keys)
        for op, key, value in log:
            if op == "get":
                state.cache.get("type", key)
            else:
                state.cache.put("type", key, value)
        for mid, entry in typed.items():
            found[mid] = (entry, fresh.get(mid))
    relations = dict(known)
    for mid in state.order:  # DAG order, as the sequential pass fills them
        if mid in found:
            entry, fresh_key = found[mid]
            state.typed[mid] = entry
            if fresh_key is not None:
                state.fresh[mid] = fresh_key
            relation = state.models[mid].relation
            if relation not in state.interfaces:
                relations[relation] = tuple(Column(n, t) for n, t in entry["columns"])
    state.mapping = MappingSchema(dialect="duckdb", normalize=False)
    staged: set[Relation] = set()
    for mid in state.fresh:
        if "lineage" in state.typed[mid]:
            continue  # traced in its worker: the lineage pass does not trace it again
        for relation in needed(mid):
            if relation not in staged and relation in relations:
                staged.add(relation)
                add_to_mapping(state.mapping, relation, relations[relation])


def _type_group(shared: tuple[CompileState, dict[Relation, tuple[Column, ...]],
                              Callable[[CompileState, list[str], dict[Relation, Any]], None]],
                group: list[str]) -> tuple[dict[str, Any], dict[str, str], dict[str, str],
                                           list[Any], list[tuple[str, str, Any]]]:
    state, known, type_group = shared
    recorder = _Recorder(state.cache)
    mine = replace(state, cache=recorder, diagnostics=[], typed={}, fresh={},  # type: ignore[arg-type]
                   type_keys={})
    type_group(mine, group, known)
    return mine.typed, mine.fresh, mine.type_keys, mine.diagnostics, recorder.log
