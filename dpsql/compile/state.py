"""What a compile works on: one state that every pass reads and adds to.

The state owns the parsed trees: one per model, parsed once, by the bind pass or, for a model
whose binding came from the cache, the first time a pass asks for it; the pipeline drops
them after the last pass that reads trees. Passes never parse a model's SQL themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlglot import exp
from sqlglot.schema import MappingSchema

from dpsql.compile.bind import bind_tree
from dpsql.compile.cache import CompileCache
from dpsql.compile.ephemeral import Inliner
from dpsql.compile.templating import Renderer
from dpsql.core.errors import Diagnostic
from dpsql.core.project import (
    Column,
    CompiledModel,
    CompiledProject,
    DataTest,
    EngineSql,
    Project,
)
from dpsql.core.relations import Relation


class Trees:
    """The parsed tree of each model, with its relations bound (positions: the rendered SQL)."""

    def __init__(self, project: Project):
        self._project = project
        self._trees: dict[str, exp.Query] = {}
        self.parsed = 0  # trees parsed here (not handed over by the bind pass)

    def keep(self, model_id: str, tree: exp.Query) -> None:
        self._trees[model_id] = tree

    def of(self, model: CompiledModel) -> exp.Query:
        """The model's tree; parsed now if no pass has needed it yet. Readers must not change
        it, except the last one (lineage), which qualifies it in place."""
        tree = self._trees.get(model.id)
        if tree is None:
            tree = self._trees[model.id] = bind_tree(self._project, model)
            self.parsed += 1
        return tree

    def drop(self, model_id: str) -> None:
        self._trees.pop(model_id, None)

    def clear(self) -> None:
        self._trees.clear()

    def __len__(self) -> int:
        return len(self._trees)


@dataclass
class CompileState:
    """Everything passes share during one compile; `result()` freezes it."""

    project: Project
    cache: CompileCache
    infer_schemas: bool
    renderer: Renderer
    trees: Trees
    models: dict[str, CompiledModel] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[tuple[str, str], tuple[Column, ...] | None] = field(default_factory=dict)
    tests: list[DataTest] = field(default_factory=list)
    env_read: dict[str, str | None] = field(default_factory=dict)
    inliner: Inliner | None = None
    # the typing pass's results (a model's columns and, once traced, its lineage), as cached
    typed: dict[str, dict[str, Any]] = field(default_factory=dict)
    fresh: dict[str, str] = field(default_factory=dict)  # typed now: model id -> cache key
    type_keys: dict[str, str] = field(default_factory=dict)  # every typed model's cache key
    schemas: dict[Relation, tuple[Column, ...]] = field(default_factory=dict)  # for lineage
    interfaces: dict[Relation, tuple[Column, ...]] = field(default_factory=dict)
    mapping: MappingSchema | None = None  # what the models typed now read, for tracing them
    engine_sql: EngineSql | None = None  # a Spark target's SQL (the `engine SQL` pass)

    @classmethod
    def start(cls, project: Project, cache: CompileCache, infer_schemas: bool) -> CompileState:
        return cls(project, cache, infer_schemas, Renderer(project), Trees(project))

    def result(self) -> CompiledProject:
        return CompiledProject(
            project=self.project,
            models=MappingProxyType(self.models),
            order=tuple(self.order),
            diagnostics=tuple(_dedupe(self.diagnostics)),
            sources=MappingProxyType(self.sources),
            tests=tuple(self.tests),
            env_read=MappingProxyType(self.env_read),
            engine_sql=self.engine_sql,
        )


@dataclass(frozen=True)
class Pass:
    """One step of a compile: `run(state)` reads the state and adds to it."""

    name: str
    run: Callable[[CompileState], None]
    reads_trees: bool = False  # trees are dropped after the last pass that reads them
    needs_schemas: bool = False  # skipped when the compile does not infer schemas


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[Diagnostic] = set()
    out = []
    for d in diagnostics:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out
