"""From a loaded Project to a CompiledProject, as a short list of passes.

    render -> parse -> resolve relations -> order (DAG, cycles) -> inline ephemeral models
    -> infer schemas -> check materializations -> data tests

Pure: reads the project's files and, for schemas, an in-memory DuckDB; never the warehouse
except to read the catalog of `table:` inputs. Results of unchanged models come from the
compile cache (dpsql/cache.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from dpsql.compile.bind import compile_model
from dpsql.compile.cache import CompileCache, digest, files_digest
from dpsql.compile.checks.contracts import check_interfaces
from dpsql.compile.datatests import column_tests, singular_test
from dpsql.compile.ephemeral import Inliner, check_config, inline_ephemerals
from dpsql.compile.parallel import MIN_ITEMS, fork_map, workers
from dpsql.compile.templating import Renderer
from dpsql.compile.typing.infer import infer
from dpsql.core.errors import Diagnostic, Location, did_you_mean, error
from dpsql.core.graph import topological_order
from dpsql.core.project import (
    Column,
    CompiledModel,
    CompiledProject,
    DataTest,
    Materialization,
    ModelConfig,
    ModelSource,
    Product,
    Project,
)
from dpsql.core.runtime import collector_paused

log = logging.getLogger("dpsql")


def compile_project(project: Project, *, infer_schemas: bool = True,
                    cache: CompileCache | None = None) -> CompiledProject:
    """Compile every model; `cache` (results of earlier compiles) skips unchanged work."""
    with collector_paused():
        return _compile_project(project, infer_schemas, cache or CompileCache(project.root))


def _compile_project(project: Project, infer_schemas: bool, cache: CompileCache
                     ) -> CompiledProject:
    diagnostics: list[Diagnostic] = list(check_inputs(project))
    renderer = Renderer(project)
    env_read: dict[str, str | None] = {}
    models = bind_models(project, renderer, cache, diagnostics, env_read)
    order, cycle_diagnostics = order_models(project, models)
    diagnostics.extend(cycle_diagnostics)
    diagnostics.extend(product_cycles(project, models))
    models, inliner = inline_ephemerals(project, models, order)
    sources: dict[tuple[str, str], tuple[Column, ...] | None] = {}
    if infer_schemas:  # also past errors: models whose upstream failed are skipped below
        models, sources = infer(project, models, order, diagnostics, cache)
    diagnostics.extend(check_config(models))
    tests = compile_tests(project, renderer, models, inliner, diagnostics)
    return check_interfaces(CompiledProject(
        project=project,
        models=MappingProxyType(models),
        order=tuple(order),
        diagnostics=tuple(_dedupe(diagnostics)),
        sources=MappingProxyType(sources),
        tests=tests,
        env_read=MappingProxyType(env_read),
    ))


def bind_models(project: Project, renderer: Renderer, cache: CompileCache,
                diagnostics: list[Diagnostic], env_read: dict[str, str | None]
                ) -> dict[str, CompiledModel]:
    """Render, parse and bind every model, or take the result from the cache; `env_read`
    collects the environment variables the templates read."""
    workspace = workspace_digest(project)
    env = project.config.env
    models: dict[str, CompiledModel] = {}
    misses: list[tuple[Product, ModelSource, str]] = []
    for product in project.products:
        product_key = digest(workspace, product.name, files_digest(product.macro_files))
        for source in product.models:
            key = digest(product_key, str(source.path), source.text)
            entry = cache.get("bind", key)
            if entry is not None and all(env.get(k) == v for k, v in entry["env"].items()):
                models[source.id] = from_entry(product, source, entry)
                env_read.update(entry["env"])
            else:
                misses.append((product, source, key))
    if len(misses) >= MIN_ITEMS and workers() > 1:
        # in other processes: results come back as cache entries (trees are not kept)
        items = [(product.name, source.name) for product, source, _ in misses]
        for (product, source, key), (entry, found) in zip(
                misses, fork_map(_bind_entry, project, items), strict=True):
            diagnostics.extend(found)
            if entry is not None:
                env_read.update(entry["env"])
                models[source.id] = from_entry(product, source, entry)
                if not any(d.is_error for d in found):
                    cache.put("bind", key, entry)
        return models
    for product, source, key in misses:
        found = []
        model = _bind(project, product, source, renderer, found)
        diagnostics.extend(found)
        env_read.update(renderer.env_read.get(source.path, {}))
        if model is not None:
            models[model.id] = model
            if not any(d.is_error for d in found):
                cache.put("bind", key, to_entry(model, renderer.env_read.get(source.path, {})))
    return models


def _bind(project: Project, product: Product, source: ModelSource, renderer: Renderer,
          found: list[Diagnostic]) -> CompiledModel | None:
    model = compile_model(project, product, source, renderer, found)
    if model is not None and model.config.materialized == "incremental":
        variant = compile_model(project, product, source, renderer, found, incremental=True)
        model = replace(model, incremental_sql=variant.sql if variant else None)
    return model


_renderers: dict[int, Renderer] = {}


def _bind_entry(project: Project, item: tuple[str, str]
                ) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """Bind one model in a worker process; returns its cache entry and diagnostics."""
    renderer = _renderers.get(id(project))
    if renderer is None:
        renderer = _renderers[id(project)] = Renderer(project)
    product = project.by_name[item[0]]
    source = product.model(item[1])
    assert source is not None
    found: list[Diagnostic] = []
    model = _bind(project, product, source, renderer, found)
    if model is None:
        return None, found
    return to_entry(model, renderer.env_read.get(source.path, {})), found


def workspace_digest(project: Project) -> str:
    """What every model's binding depends on besides its own template."""
    files = [project.root / "dpsql.yml", *project.macro_files,
             *(p.spec.yml for p in project.products)]
    names = ";".join(f"{p.name}:{','.join(sorted(p.model_names))}" for p in project.products)
    return digest(files_digest(files), names)


def to_entry(model: CompiledModel, env_read: dict[str, str | None]) -> dict[str, Any]:
    config = model.config
    return {"rendered": model.rendered_sql, "sql": model.sql, "inc": model.incremental_sql,
            "cfg": [config.materialized, list(config.tags), list(config.unique_key),
                    config.description],
            "deps": list(model.depends_on), "inputs": list(model.inputs),
            "lines": list(model.line_map), "env": env_read}


def from_entry(product: Product, source: ModelSource, entry: dict[str, Any]) -> CompiledModel:
    materialized, tags, unique_key, description = entry["cfg"]
    port = product.port_of_model.get(source.name)
    return CompiledModel(
        source=source,
        config=ModelConfig(Materialization(materialized), tuple(tags), tuple(unique_key), description),
        relation=product.relation_of_model(source.name),
        rendered_sql=entry["rendered"],
        sql=entry["sql"],
        depends_on=tuple(entry["deps"]),
        inputs=tuple(entry["inputs"]),
        line_map=tuple(entry["lines"]),
        port=port.name if port else None,
        incremental_sql=entry["inc"],
    )


def compile_tests(project: Project, renderer: Renderer, models: dict[str, CompiledModel],
                  inliner: Inliner, diagnostics: list[Diagnostic]) -> tuple[DataTest, ...]:
    """Column tests from the port contracts, and singular tests from `<product>/tests/*.sql`."""
    tests: list[DataTest] = []
    for product in project.products:
        found, problems = column_tests(project, product, models)
        tests.extend(found)
        diagnostics.extend(problems)
        for path in product.test_files:
            source = ModelSource(product.name, path.stem, path, path.read_text(encoding="utf-8"))
            compiled = compile_model(project, product, source, renderer, diagnostics)
            if compiled is not None and compiled.tree is not None:
                tests.append(singular_test(compiled, inliner.apply(compiled.tree)))
    return tuple(tests)


def _dedupe(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: set[Diagnostic] = set()
    out = []
    for d in diagnostics:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def check_inputs(project: Project) -> Iterable[Diagnostic]:
    """Every `product:` input names an existing product and one of its output ports."""
    for product in project.products:
        for spec in product.spec.inputs:
            if spec.kind != "product":
                continue
            assert spec.product is not None and spec.port is not None
            producer = project.product(spec.product)
            if producer is None:
                yield error("DP209", f"input `{spec.name}` of `{product.name}` reads product "
                            f"`{spec.product}`, which does not exist", spec.location,
                            did_you_mean(spec.product, list(project.by_name)))
            elif producer.spec.output(spec.port) is None:
                yield error("DP209", f"input `{spec.name}` of `{product.name}` reads port "
                            f"`{spec.port}`, which product `{spec.product}` does not publish",
                            spec.location,
                            did_you_mean(spec.port, [o.name for o in producer.spec.outputs]))


# --- the DAG ---------------------------------------------------------------------------------


def order_models(project: Project, models: dict[str, CompiledModel]
                 ) -> tuple[list[str], list[Diagnostic]]:
    edges = {mid: [d for d in m.depends_on if d in models] for mid, m in models.items()}
    order, cycles = topological_order(edges)
    diagnostics = []
    for cycle in cycles:
        first = models[cycle[0]]
        diagnostics.append(error(
            "DP206", "cycle between models: " + " -> ".join(cycle) + " (each reads the one before)",
            Location(first.source.path, 1), "break the cycle: one of these models must stop "
            "reading the next"))
    return order, diagnostics


def product_cycles(project: Project, models: dict[str, CompiledModel]) -> list[Diagnostic]:
    """Products may not read each other in a circle, even through different ports."""
    edges: dict[str, set[str]] = {p.name: set() for p in project.products}
    for product in project.products:
        for spec in product.spec.inputs:
            if spec.kind == "product" and spec.product in edges and spec.product != product.name:
                edges[product.name].add(spec.product)
    for model in models.values():
        for dep in model.depends_on:
            producer = dep.split(".", 1)[0]
            if producer != model.product:
                edges[model.product].add(producer)
    _, cycles = topological_order(edges)
    out = []
    for cycle in cycles:
        first = project.by_name[cycle[0]].spec
        out.append(error(
            "DP207", "cycle between products: " + " -> ".join(cycle) + " (each reads the one "
            "before)", first.location, "data products form a DAG: move the shared logic into "
            "one product, or split a product in two"))
    return out


