"""From a loaded Project to a CompiledProject: a declared list of passes over one state.

Each pass is a function of the compile state (dpsql/compile/state.py) that reads it and adds
to it; `PASSES` is the order they run in, and adding a check means adding one entry. The
state owns one parsed tree per model (parsed once) and drops them after the last pass that
reads trees.

Pure: reads the project's files and, for schemas, an in-memory DuckDB; never the warehouse
except to read the catalog of `table:` inputs. Results of unchanged models come from the
compile cache (dpsql/compile/cache.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable

from dpsql.compile.bind import compile_model
from dpsql.compile.cache import CompileCache
from dpsql.compile.checks.contracts import check_interfaces
from dpsql.compile.checks.deprecation import check_deprecations
from dpsql.compile.checks.labels import check_labels
from dpsql.compile.checks.policies import check_policies
from dpsql.compile.datatests import singular_test
from dpsql.compile.ephemeral import check_config, inline_ephemerals
from dpsql.compile.generic_tests import product_tests
from dpsql.compile.lineage import trace_lineage
from dpsql.compile.models import bind_models
from dpsql.compile.state import CompileState, Pass
from dpsql.compile.translate import translate
from dpsql.compile.typing.infer import type_models
from dpsql.core.errors import Diagnostic, DpsqlError, Location, did_you_mean, error
from dpsql.core.graph import topological_order
from dpsql.core.project import (
    CompiledModel,
    CompiledProject,
    DataTest,
    ModelSource,
    Product,
    Project,
)
from dpsql.core.runtime import collector_paused, cycles_freed
from dpsql.load.textfile import read_text

log = logging.getLogger("dpsql")


def compile_project(project: Project, *, infer_schemas: bool = True,
                    cache: CompileCache | None = None) -> CompiledProject:
    """Compile every model; `cache` (results of earlier compiles) skips unchanged work."""
    with collector_paused():
        cache = cache or CompileCache(project.root, outputs=project.config.outputs)
        state = CompileState.start(project, cache, infer_schemas)
        run_passes(state, PASSES)
        return state.result()


def run_passes(state: CompileState, passes: Iterable[Pass]) -> None:
    """Run `passes` in order; trees are dropped after the last pass that reads them."""
    todo = [p for p in passes if state.infer_schemas or not p.needs_schemas]
    last_reader = max((i for i, p in enumerate(todo) if p.reads_trees), default=-1)
    for i, step in enumerate(todo):
        step.run(state)
        log.debug("compile pass %s done (%d trees held)", step.name, len(state.trees))
        if i == last_reader:
            state.trees.clear()
    log.debug("compile: %d trees parsed after binding (models bound from the cache)",
              state.trees.parsed)


# --- the passes --------------------------------------------------------------------------------


def check_inputs(state: CompileState) -> None:
    """Every `product:` input names an existing product and one of its output ports (DP209)."""
    state.diagnostics.extend(_input_problems(state.project))


def bind(state: CompileState) -> None:
    """Render, parse and bind every model (DP1xx, DP201-DP205); trees are kept in the state."""
    state.models = bind_models(state.project, state.renderer, state.cache, state.diagnostics,
                               state.env_read, state.trees.keep)


def order(state: CompileState) -> None:
    """Models in dependency order; cycles between models (DP206) and products (DP207)."""
    state.order, cycles = order_models(state.project, state.models)
    state.diagnostics.extend(cycles)
    state.diagnostics.extend(product_cycles(state.project, state.models))


def inline(state: CompileState) -> None:
    """Ephemeral models become CTEs in the SQL of the models that read them."""
    state.models, state.inliner = inline_ephemerals(state.models, state.order, state.trees.of)


def materializations(state: CompileState) -> None:
    """Materialization settings that cannot work (DP404-DP406)."""
    state.diagnostics.extend(check_config(state.models))


def data_tests(state: CompileState) -> None:
    """Column tests from the port contracts, and singular tests from `<product>/tests/*.sql`."""
    for product in state.project.products:
        with cycles_freed():  # the trees the tests are built from: freed product by product
            state.tests.extend(_product_tests(state, product))


def _cached_test(cache: CompileCache, key: str, build: Callable[[], tuple[str, str]]
                 ) -> tuple[str, str]:
    """A built-in test's SQL and check SQL from the cache, else built and stored."""
    found = cache.get("test", key)
    if isinstance(found, list) and len(found) == 2:
        return found[0], found[1]
    made = build()
    cache.put("test", key, list(made))
    return made


def _product_tests(state: CompileState, product: Product) -> list[DataTest]:
    assert state.inliner is not None
    tests = product_tests(state.project, product, state.models, state.renderer,
                          state.inliner.apply, state.diagnostics,
                          functools.partial(_cached_test, state.cache))
    for path in product.test_files:
        try:
            text = read_text(path)
        except DpsqlError as exc:  # not UTF-8, not a regular file: its own diagnostic
            state.diagnostics.extend(exc.diagnostics)
            continue
        source = ModelSource(product.name, path.stem, path, text)
        bound = compile_model(state.project, product, source, state.renderer, state.diagnostics)
        if bound is not None:
            tests.append(singular_test(bound[0], state.inliner.apply(bound[1])))
    return tests


PASSES: tuple[Pass, ...] = (
    Pass("inputs", check_inputs),
    Pass("bind", bind),
    Pass("order", order),
    Pass("deprecated ports", check_deprecations),
    Pass("inline ephemeral models", inline, reads_trees=True),
    Pass("types", type_models, reads_trees=True, needs_schemas=True),  # trees: DP208 positions
    Pass("materializations", materializations),
    Pass("data tests", data_tests),
    Pass("engine SQL", translate, reads_trees=True),  # Spark targets: models transpiled
    Pass("interfaces", check_interfaces, reads_trees=True),
    Pass("lineage", trace_lineage, reads_trees=True, needs_schemas=True),
    Pass("policies", check_policies),
    Pass("classifications", check_labels, needs_schemas=True),
)


# --- what the passes check -----------------------------------------------------------------------


def _input_problems(project: Project) -> Iterable[Diagnostic]:
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


