"""One side of a comparison: a workspace loaded, compiled (errors kept, never raised) and its
lineage graph, with what the comparison asks of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlglot.schema import MappingSchema

from dpsql.compile.cache import CompileCache
from dpsql.compile.pipeline import compile_project
from dpsql.core.project import Column, CompiledModel, CompiledProject, Product
from dpsql.lineage.graph import LineageGraph, build_graph
from dpsql.load.loader import load_project


@dataclass
class Side:
    compiled: CompiledProject
    graph: LineageGraph
    memo: dict[object, str] = field(default_factory=dict)  # definitions, by key
    scopes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # model id -> tree, scope

    @property
    def products(self) -> Mapping[str, Product]:
        return self.compiled.project.by_name

    @cached_property
    def by_relation(self) -> dict[tuple[str, str], CompiledModel]:
        return {(m.relation.schema, m.relation.name): m for m in self.compiled.models.values()}

    @cached_property
    def schema(self) -> dict[str, dict[str, dict[str, str]]]:
        """Every typed relation's columns, for sqlglot: schema -> name -> column -> type."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for model in self.compiled.models.values():
            if model.columns is not None:
                out.setdefault(model.relation.schema, {})[model.relation.name] = {
                    c.name: c.type for c in model.columns}
        for (product_name, input_name), columns in self.compiled.sources.items():
            product = self.products.get(product_name)
            spec = product.spec.input(input_name) if product else None
            if product is None or spec is None or columns is None:
                continue
            rel = product.relation_of_input(spec)
            out.setdefault(rel.schema, {})[rel.name] = {c.name: c.type for c in columns}
        return out

    @cached_property
    def mapping_schema(self) -> MappingSchema:
        """The schema as sqlglot wants it, built once."""
        return MappingSchema(dict(self.schema), dialect="duckdb")

    def port_model(self, product: str, port: str) -> CompiledModel | None:
        found = self.products.get(product)
        model_id = found.port_model_id(port) if found else None
        return self.compiled.models.get(model_id) if model_id else None

    def port_columns(self, product: str, port: str) -> tuple[Column, ...] | None:
        """The port's columns as compiled; its contract's when its model does not compile."""
        model = self.port_model(product, port)
        if model is not None and model.columns is not None:
            return model.columns
        found = self.products.get(product)
        spec = found.spec.output(port) if found else None
        if spec is None or spec.columns is None:
            return None
        return tuple(Column(c.name, c.type or "") for c in spec.columns)


def share_schemas(one: Side, other: Side) -> None:
    """A relation typed on one side only (its model fails to bind on the other) takes the
    other side's columns, so that what reads it is still traced column by column; call before
    tracing anything."""
    for a, b in ((one, other), (other, one)):
        for schema, tables in b.schema.items():
            for name, columns in tables.items():
                a.schema.setdefault(schema, {}).setdefault(name, columns)


def open_side(root: Path, *, use_cache: bool) -> Side:
    """Load and compile a workspace; the compile cache is read (never written) when asked."""
    project = load_project(root)
    outputs = project.config.outputs
    cache = (CompileCache.load(project.root, outputs) if use_cache
             else CompileCache(project.root, outputs=outputs))
    compiled = compile_project(project, cache=cache)
    return Side(compiled, build_graph(compiled))


def product_files(product: Product) -> dict[str, bytes]:
    """A product's own files, relative to its folder, with their contents."""
    root = product.spec.path
    paths = [product.spec.yml, *(m.path for m in product.models), *product.test_files,
             *product.macro_files]
    out: dict[str, bytes] = {}
    for path in paths:
        try:
            rel = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            rel = path.name
        try:
            out[rel] = path.read_bytes()
        except OSError:
            out[rel] = b""
    return out
