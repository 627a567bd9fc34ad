"""Binding every model of a workspace: from the compile cache where nothing it depends on
changed, else rendered, parsed and bound, in worker processes when there are many."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sqlglot import exp

from dpsql.compile.bind import Job, compile_models
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
        product_key = digest(workspace, product.name,
                             files_digest([product.spec.yml, *product.macro_files]))
        for source in product.models:
            key = digest(product_key, str(source.path), source.text)
            entry = cache.get("bind", key)
            if entry is not None and all(env.get(k) == v for k, v in entry["env"].items()):
                models[source.id] = from_entry(product, source, entry,
                                               _model_key(key, entry["env"]))
                env_read.update(entry["env"])
            else:
                misses.append((product, source, key))
    if len(misses) >= MIN_ITEMS and workers() > 1:
        # in other processes, a few models at a time: results come back as cache entries
        # (trees are not kept)
        items = [(product.name, source.name) for product, source, _ in misses]
        batches = [items[start:start + BATCH] for start in range(0, len(items), BATCH)]
        results = [result for batch in fork_map(_bind_entries, project, batches, min_items=1)
                   for result in batch]
        for (product, source, key), (entry, found) in zip(misses, results, strict=True):
            diagnostics.extend(found)
            if entry is not None:
                env_read.update(entry["env"])
                models[source.id] = from_entry(product, source, entry,
                                               _model_key(key, entry["env"]))
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
            models[model.id] = replace(model, key=_model_key(
                key, renderer.env_read.get(source.path, {})))
            keep(model.id, tree)
            if not any(d.is_error for d in found):
                cache.put("bind", key, to_entry(model, renderer.env_read.get(source.path, {})))
    return models


def _model_key(key: str, env_read: Mapping[str, str | None]) -> str:
    """The start of `CompiledModel.key`: the bind cache key and the values of the environment
    variables the template read (which the cache key leaves out: a cached entry is checked
    against them instead)."""
    return digest(key, json.dumps(sorted(env_read.items())))


def _bind(project: Project, product: Product, source: ModelSource, renderer: Renderer,
          found: list[Diagnostic]) -> tuple[CompiledModel, exp.Query] | None:
    bound, diagnostics = _bind_all(project, [(product, source)], renderer)[0]
    found.extend(diagnostics)
    return bound


def _bind_all(project: Project, pairs: list[tuple[Product, ModelSource]], renderer: Renderer,
              tree_kept: bool = True
              ) -> list[tuple[tuple[CompiledModel, exp.Query] | None, list[Diagnostic]]]:
    """Bind models a step at a time for all of them (bind.compile_models), each with its
    diagnostics; an incremental model's incremental variant too."""
    found: list[list[Diagnostic]] = [[] for _ in pairs]
    bound = compile_models(project, [Job(p, s) for p, s in pairs], renderer, found,
                           tree_kept=tree_kept)
    incremental = [i for i, b in enumerate(bound)
                   if b is not None and b[0].config.materialized == Materialization.INCREMENTAL]
    variants = compile_models(project, [Job(*pairs[i], incremental=True) for i in incremental],
                              renderer, [found[i] for i in incremental], tree_kept=False)
    for i, variant in zip(incremental, variants, strict=True):
        model, tree = bound[i]  # type: ignore[misc]
        bound[i] = replace(model, incremental_sql=variant[0].sql if variant else None), tree
    return list(zip(bound, found, strict=True))


BATCH = 16  # models a worker binds together, a step at a time


_renderers: dict[int, Renderer] = {}


def _bind_entries(project: Project, items: list[tuple[str, str]]
                  ) -> list[tuple[dict[str, Any] | None, list[Diagnostic]]]:
    """Bind some models in a worker process; returns each one's cache entry and diagnostics."""
    renderer = _renderers.get(id(project))
    if renderer is None:
        renderer = _renderers[id(project)] = Renderer(project)
    pairs = []
    for product_name, name in items:
        product = project.by_name[product_name]
        source = product.model(name)
        assert source is not None
        pairs.append((product, source))
    with cycles_freed():  # the trees, dropped
        results = _bind_all(project, pairs, renderer, tree_kept=False)
        entries = [(None if bound is None
                    else to_entry(bound[0], renderer.env_read.get(source.path, {})), found)
                   for (bound, found), (_, source) in zip(results, pairs, strict=True)]
        del results
    return entries


def workspace_digest(project: Project) -> str:
    """What every model's binding depends on besides its own template and its own product's
    files: dpsql.yml, the shared macros, what the command line chose, and every product's
    name, models and output ports (what a `ref` or an input naming another product resolves
    against: a port's name, the model feeding it, the input it publishes). The rest of
    another product's product.yml (descriptions, contracts, tests, owners) is not read when
    binding, so an edit there rebinds nothing outside that product."""
    names = ";".join(f"{p.name}:{','.join(sorted(p.model_names))}:" + json.dumps(
        [[o.name, o.model, o.input] for o in p.spec.outputs]) for p in project.products)
    files = [project.root / "dpsql.yml", *project.macro_files]
    return digest(files_digest(files), names, _chosen(project))


def _chosen(project: Project) -> str:
    """What the command line chose and dpsql.yml alone does not say: the target's engine and
    the vars (`--vars` overrides them)."""
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


def from_entry(product: Product, source: ModelSource, entry: dict[str, Any],
               key: str | None = None) -> CompiledModel:
    """The model a bind entry describes; `key`: the model's key (`CompiledModel.key`)."""
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
        config_lines=tuple((name, line) for name, line in entry["cfg_lines"]),
        key=key,
    )
