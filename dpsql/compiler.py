"""From a loaded Project to a CompiledProject, as a short list of passes.

    render -> parse -> resolve relations -> order (DAG, cycles) -> inline ephemeral models
    -> infer schemas -> check materializations -> data tests

Pure: reads the project's files and, for schemas, an in-memory DuckDB; never the warehouse
except to read the catalog of `table:` inputs.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import MappingProxyType

from dpsql import sql as sqlmod
from dpsql import typing_pass
from dpsql.contracts import check_interfaces
from dpsql.dag import topological_order
from dpsql.dbtests import column_tests, singular_test
from dpsql.ephemeral import Inliner, check_config, inline_ephemerals
from dpsql.errors import Diagnostic, Location, error
from dpsql.project import (
    INTERNAL_SUFFIX,
    Column,
    CompiledModel,
    CompiledProject,
    DataTest,
    ModelSource,
    Product,
    Project,
    Relation,
    table_relation,
)
from dpsql.schema import BindError, SchemaCatalog, warehouse_columns
from dpsql.templating import Renderer, model_config

log = logging.getLogger("dpsql")


def compile_project(project: Project, *, infer_schemas: bool = True) -> CompiledProject:
    diagnostics: list[Diagnostic] = list(check_inputs(project))
    renderer = Renderer(project)
    models: dict[str, CompiledModel] = {}
    for product in project.products:
        for source in product.models:
            model = compile_model(project, product, source, renderer, diagnostics)
            if model is not None and model.config.materialized == "incremental":
                variant = compile_model(project, product, source, renderer, diagnostics,
                                        incremental=True)
                model = replace(model, incremental_sql=variant.sql if variant else None)
            if model is not None:
                models[model.id] = model
    order, cycle_diagnostics = order_models(project, models)
    diagnostics.extend(cycle_diagnostics)
    diagnostics.extend(product_cycles(project, models))
    models, inliner = inline_ephemerals(models, order)
    sources: dict[tuple[str, str], tuple[Column, ...] | None] = {}
    if infer_schemas:  # also past errors: models whose upstream failed are skipped below
        models, sources = infer(project, models, order, diagnostics)
    diagnostics.extend(check_config(models))
    tests = compile_tests(project, renderer, models, inliner, diagnostics)
    return check_interfaces(CompiledProject(
        project=project,
        models=MappingProxyType(models),
        order=tuple(order),
        diagnostics=tuple(_dedupe(diagnostics)),
        sources=MappingProxyType(sources),
        tests=tests,
    ))


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
                            _did_you_mean(spec.product, list(project.by_name)))
            elif producer.spec.output(spec.port) is None:
                yield error("DP209", f"input `{spec.name}` of `{product.name}` reads port "
                            f"`{spec.port}`, which product `{spec.product}` does not publish",
                            spec.location,
                            _did_you_mean(spec.port, [o.name for o in producer.spec.outputs]))


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"known: {', '.join(sorted(options))}" if options else "there are none"


# --- one model: render, parse, resolve ------------------------------------------------------


@dataclass(frozen=True)
class _Binding:
    relation: Relation
    model_id: str | None = None  # the model read, if any
    input: str | None = None  # the input port read, if any


def compile_model(project: Project, product: Product, source: ModelSource, renderer: Renderer,
                  diagnostics: list[Diagnostic], *, incremental: bool = False
                  ) -> CompiledModel | None:
    """Render, parse and resolve one model; `incremental` renders is_incremental() as true."""
    rendered = renderer.render(product, source, incremental=incremental)
    diagnostics.extend(rendered.diagnostics)
    if any(d.is_error for d in rendered.diagnostics):
        return None
    port = product.port_of_model.get(source.name)
    config = model_config(rendered.config, is_port=port is not None)
    try:
        tree = sqlmod.parse_query(rendered.sql)
    except sqlmod.SqlProblem as problem:
        line, col = _template_position(source.text, rendered.sql, rendered.line_map,
                                       problem.line, problem.col, problem.token)
        code = "DP202" if "one SELECT" in problem.message else "DP201"
        hint = ("a model is a single SELECT statement; move other statements out"
                if code == "DP202" else "fix the SQL near this position (DuckDB dialect)")
        diagnostics.append(error(code, problem.message, Location(source.path, line, col), hint))
        return None
    depends: dict[str, None] = {}
    inputs: dict[str, None] = {}
    ok = True
    for ref in sqlmod.table_refs(tree):
        binding, unresolved = resolve(project, product, ref)
        if unresolved is not None:
            code, message, hint = unresolved
            where = _locate(source.text, rendered.sql, rendered.line_map, ref)
            diagnostics.append(error(code, message, Location(source.path, *where), hint))
            ok = False
            continue
        assert binding is not None
        if binding.model_id and not (incremental and binding.model_id == source.id):
            depends[binding.model_id] = None  # an incremental model may read itself
        if binding.input:
            inputs[binding.input] = None
        sqlmod.qualify_table(ref, binding.relation.schema, binding.relation.name)
    if not ok:
        return None
    return CompiledModel(
        source=source,
        config=config,
        relation=product.relation_of_model(source.name),
        rendered_sql=rendered.sql,
        sql=sqlmod.generate(tree),
        depends_on=tuple(depends),
        inputs=tuple(inputs),
        line_map=rendered.line_map,
        port=port.name if port else None,
        tree=tree,
    )


def _locate(template: str, rendered: str, line_map: tuple[int, ...],
            ref: sqlmod.TableRef) -> tuple[int, int]:
    """Template line and column of a relation reference found in the rendered SQL."""
    r_line, r_col = sqlmod.position(rendered, ref.offset)
    return _template_position(template, rendered, line_map, r_line, r_col, ref.text, ref.name)


def _template_position(template: str, rendered: str, line_map: tuple[int, ...], r_line: int,
                       r_col: int, *needles: str) -> tuple[int, int]:
    """Map a rendered line and column back to the template: exact where the line was not
    changed by rendering, else the column where one of `needles` appears on the line."""
    t_line = line_map[r_line - 1] if 0 < r_line <= len(line_map) else r_line
    t_lines = template.splitlines()
    r_lines = rendered.splitlines()
    if 0 < t_line <= len(t_lines):
        text = t_lines[t_line - 1]
        if r_line <= len(r_lines) and text == r_lines[r_line - 1]:
            return t_line, r_col
        for needle in needles:
            match = re.search(r"\b" + re.escape(needle) + r"\b", text) if needle else None
            if match:
                return t_line, match.start() + 1
    return t_line, 0


def resolve(project: Project, product: Product, ref: sqlmod.TableRef
            ) -> tuple[_Binding | None, tuple[str, str, str] | None]:
    """Bind a relation named in a model to a model of the product or one of its inputs."""
    spec = product.spec
    db, name = ref.db, ref.name
    own_schemas = {product.name, product.name + INTERNAL_SUFFIX}
    if ref.catalog:
        return None, ("DP203", f"`{ref.text}` names a database; models read relations as "
                      "`name` or `product.port`", "drop the database part")
    # a table input, named as it is in the warehouse
    for inp in spec.inputs:
        if inp.kind == "table" and inp.table:
            rel = table_relation(inp.table)
            if ((db or "main") == rel.schema and name == rel.name) or (not db and name == inp.name):
                return _Binding(rel, input=inp.name), None
    if not db or db in own_schemas:
        if name in product.model_names:
            return _Binding(product.relation_of_model(name), model_id=f"{product.name}.{name}"), None
        port = spec.output(name)
        if port is not None and db != product.name + INTERNAL_SUFFIX and port.model in product.model_names:
            return _Binding(product.relation_of_model(port.model),
                            model_id=f"{product.name}.{port.model}"), None
        declared = spec.input(name)
        if declared is not None and db != product.name:
            return _bind_input(project, product, declared.name), None
        if not db:
            options = sorted(product.model_names | {i.name for i in spec.inputs})
            return None, ("DP203", f"`{name}` is neither a model of `{product.name}` nor one of its "
                          "inputs", _did_you_mean(name, options) + "; declare external data under "
                          f"`inputs:` in {product.name}/product.yml")
        return None, ("DP203", f"`{ref.text}` is not a model, port or input of `{product.name}`",
                      _did_you_mean(name, sorted(product.model_names)))
    if db.endswith(INTERNAL_SUFFIX) and project.product(db[: -len(INTERNAL_SUFFIX)]) is not None:
        owner = db[: -len(INTERNAL_SUFFIX)]
        return None, ("DP204", f"`{ref.text}` is an internal relation of product `{owner}`; "
                      "other products may read only its output ports", _ports_hint(project, owner))
    other = project.product(db)
    if other is None:
        return None, ("DP203", f"`{ref.text}` is neither a model of `{product.name}` nor a declared "
                      "input", f"declare it under `inputs:` in {product.name}/product.yml "
                      "(`table:` for a warehouse table, `product:`/`port:` for a data product)")
    if other.spec.output(name) is None:
        if name in other.model_names:
            return None, ("DP204", f"`{ref.text}` reads model `{name}`, an internal model of "
                          f"`{db}`, not one of its output ports", _ports_hint(project, db))
        return None, ("DP203", f"product `{db}` has no output port `{name}`",
                      _ports_hint(project, db))
    for inp in spec.inputs:
        if inp.kind == "product" and inp.product == db and inp.port == name:
            return _bind_input(project, product, inp.name), None
    return None, ("DP205", f"`{ref.text}` is a port of `{db}` that `{product.name}` does not "
                  "declare as an input", f"add to {product.name}'s product.yml inputs: "
                  f"`- {{name: {name}, product: {db}, port: {name}}}`")


def _ports_hint(project: Project, owner: str) -> str:
    other = project.product(owner)
    ports = [f"{owner}.{o.name}" for o in other.spec.outputs] if other else []
    if not ports:
        return f"`{owner}` publishes no output ports; ask its owner to add one"
    return f"read an output port instead ({', '.join(ports)}), or ask `{owner}` to publish one"


def _bind_input(project: Project, product: Product, name: str) -> _Binding:
    spec = product.spec.input(name)
    assert spec is not None
    relation = product.relation_of_input(spec)
    model_id = None
    if spec.kind == "product":
        producer = project.product(spec.product or "")
        port = producer.spec.output(spec.port or "") if producer else None
        if producer is not None and port is not None and port.model in producer.model_names:
            model_id = f"{producer.name}.{port.model}"
    return _Binding(relation, model_id=model_id, input=name)


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


# --- schemas ---------------------------------------------------------------------------------


def infer(project: Project, models: dict[str, CompiledModel], order: list[str],
          diagnostics: list[Diagnostic]
          ) -> tuple[dict[str, CompiledModel], dict[tuple[str, str], tuple[Column, ...] | None]]:
    catalog = SchemaCatalog()
    try:
        sources = _infer_sources(project, catalog, diagnostics)
        known: set[Relation] = {
            project.by_name[p].relation_of_input(project.by_name[p].spec.input(i))  # type: ignore[arg-type]
            for (p, i), cols in sources.items() if cols is not None
        }
        interfaces = typing_pass.interfaces(project)  # consumers see a port's contract
        for relation, contract in interfaces.items():
            catalog.add(relation, contract)
        known.update(interfaces)
        out = dict(models)
        for mid in order:
            model = models[mid]
            product = project.by_name[model.product]
            needed = [product.relation_of_input(product.spec.input(i))  # type: ignore[arg-type]
                      for i in model.inputs]
            needed += [typing_pass.relation_of_model(project, d) for d in model.depends_on]
            if any(rel not in known for rel in needed):
                continue  # an upstream could not be typed; its own diagnostic says why
            try:
                columns = catalog.describe(model.sql)
            except BindError as exc:
                diagnostics.append(error(
                    "DP208", f"model `{mid}` does not bind: {exc}",
                    _bind_location(model, str(exc)),
                    "fix the column or function named here; upstream columns are listed by "
                    "`dpsql ls --columns`"))
                continue
            if model.relation not in interfaces:
                catalog.add(model.relation, columns)
            known.add(model.relation)
            out[mid] = replace(model, columns=columns,
                               qualified=sqlmod.qualify_columns(model.tree, catalog.mapping),
                               typed_by=typing_pass.note(project, model, models, interfaces))
            typing_pass.log_typed(out[mid])
        return out, sources
    finally:
        catalog.close()


def _infer_sources(project: Project, catalog: SchemaCatalog, diagnostics: list[Diagnostic]
                   ) -> dict[tuple[str, str], tuple[Column, ...] | None]:
    sources: dict[tuple[str, str], tuple[Column, ...] | None] = {}
    tables = [table_relation(i.table) for p in project.products for i in p.spec.inputs
              if i.kind == "table" and i.table]
    in_warehouse = warehouse_columns(project.config.warehouse, tables)
    for product in project.products:
        for spec in product.spec.inputs:
            relation = product.relation_of_input(spec)
            columns: tuple[Column, ...] | None = None
            if spec.kind == "file" and spec.file is not None and spec.file_format:
                try:
                    columns = catalog.describe_file(spec.file, spec.file_format)
                except BindError as exc:
                    diagnostics.append(error(
                        "DP007", f"input `{spec.name}` cannot be read: {exc}", spec.location,
                        "check that the file is a valid " + spec.file_format + " file"))
            elif spec.kind == "table":
                columns = in_warehouse.get(relation)
                if columns is None and spec.columns and all(c.type for c in spec.columns):
                    columns = tuple(Column(c.name, c.type or "") for c in spec.columns)
                if columns is None:
                    log.info("columns of table input %s.%s are unknown (not in the warehouse, "
                             "no `columns:` declared)", product.name, spec.name)
            else:
                continue  # product inputs are typed when their producer's model is
            if columns is not None:
                catalog.add(relation, columns)
            sources[(product.name, spec.name)] = columns
    return sources


_QUOTED = re.compile(r'"([^"]+)"')


def _bind_location(model: CompiledModel, message: str) -> Location:
    """Point at the first word DuckDB names in its message, found in the template."""
    for word in _QUOTED.findall(message):
        leaf = word.split(".")[-1]
        for i, line in enumerate(model.source.text.splitlines(), 1):
            match = re.search(r"\b" + re.escape(leaf) + r"\b", line)
            if match:
                return Location(model.source.path, i, match.start() + 1)
    return Location(model.source.path, 1)
