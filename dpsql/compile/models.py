"""Binding every model of a workspace: from the compile cache where nothing it depends on
changed, else rendered, parsed and bound, in worker processes when there are many."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlglot import exp

from dpsql.compile.bind import compile_model
from dpsql.compile.cache import CompileCache, digest, files_digest
from dpsql.compile.parallel import MIN_ITEMS, fork_map, workers
from dpsql.compile.templating import Renderer
from dpsql.core.errors import Diagnostic
from dpsql.core.project import (
    CompiledModel,
    Materialization,
    ModelConfig,
    ModelSource,
    Product,
    Project,
)
from dpsql.core.runtime import cycles_freed


def bind_models(project: Project, renderer: Renderer, cache: CompileCache,
                diagnostics: list[Diagnostic], env_read: dict[str, str | None],
                keep: Callable[[str, exp.Query], None]) -> dict[str, CompiledModel]:
    """Render, parse and bind every model, or take the result from the cache; `env_read`
    collects the environment variables the templates read, `keep` takes each tree parsed
    here (trees parsed in worker processes stay there)."""
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
        bound = _bind(project, product, source, renderer, found)
        diagnostics.extend(found)
        env_read.update(renderer.env_read.get(source.path, {}))
        if bound is not None:
            model, tree = bound
            models[model.id] = model
            keep(model.id, tree)
            if not any(d.is_error for d in found):
                cache.put("bind", key, to_entry(model, renderer.env_read.get(source.path, {})))
    return models


def _bind(project: Project, product: Product, source: ModelSource, renderer: Renderer,
          found: list[Diagnostic], tree_kept: bool = True
          ) -> tuple[CompiledModel, exp.Query] | None:
    bound = compile_model(project, product, source, renderer, found, tree_kept=tree_kept)
    if bound is not None and bound[0].config.materialized == Materialization.INCREMENTAL:
        variant = compile_model(project, product, source, renderer, found, incremental=True,
                                tree_kept=False)
        bound = replace(bound[0], incremental_sql=variant[0].sql if variant else None), bound[1]
    return bound


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
    with cycles_freed():  # the tree, dropped
        bound = _bind(project, product, source, renderer, found, tree_kept=False)
        model = bound[0] if bound is not None else None
        del bound  # the tree must be unreachable before the collection at the end of the block
    if model is None:
        return None, found
    return to_entry(model, renderer.env_read.get(source.path, {})), found


def workspace_digest(project: Project) -> str:
    """What every model's binding depends on besides its own template."""
    files = [project.root / "dpsql.yml", *project.macro_files,
             *(p.spec.yml for p in project.products)]
    names = ";".join(f"{p.name}:{','.join(sorted(p.model_names))}" for p in project.products)
    return digest(files_digest(files), names, _chosen(project))


def _chosen(project: Project) -> str:
    """What the command line chose and dpsql.yml alone does not say: the target's engine and
    the vars (`--vars` overrides them)."""
    import json

    config = project.config
    return json.dumps([config.engine, dict(config.vars)], sort_keys=True, default=str)


def to_entry(model: CompiledModel, env_read: dict[str, str | None]) -> dict[str, Any]:
    config = model.config
    return {"rendered": model.rendered_sql, "sql": model.sql, "inc": model.incremental_sql,
            "cfg": [config.materialized, list(config.tags), list(config.unique_key),
                    config.description],
            "deps": list(model.depends_on), "inputs": list(model.inputs),
            "lines": list(model.line_map), "env": env_read,
            "cfg_lines": [list(item) for item in model.config_lines]}


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
        config_lines=tuple((key, line) for key, line in entry["cfg_lines"]),
    )
