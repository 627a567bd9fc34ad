"""One model: render its template, parse the SQL, and bind every relation it names.

A relation binds to a model of the product or to one of its declared inputs (a file, a
warehouse table, another product's output port); anything else is a diagnostic with the
template's file, line and column. Bound relations are rewritten in the tree to their
warehouse names, and the compiled SQL is generated from the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from dpsql.compile import sql as sqlmod
from dpsql.compile.templating import Rendered, Renderer, model_config
from dpsql.core.errors import Diagnostic, did_you_mean, error
from dpsql.core.project import (
    CompiledModel,
    ModelConfig,
    ModelId,
    ModelSource,
    Product,
    Project,
    model_id,
)
from dpsql.core.relations import INTERNAL_SUFFIX, Relation, table_relation
from dpsql.core.sourcemap import TemplateMap


@dataclass(frozen=True)
class _Binding:
    relation: Relation
    model_id: ModelId | None = None  # the model read, if any
    input: str | None = None  # the input port read, if any


@dataclass(frozen=True)
class Job:
    """One model to bind: `incremental` renders is_incremental() as true."""

    product: Product
    source: ModelSource
    incremental: bool = False


def compile_model(project: Project, product: Product, source: ModelSource, renderer: Renderer,
                  diagnostics: list[Diagnostic], *, incremental: bool = False,
                  tree_kept: bool = True) -> tuple[CompiledModel, exp.Query] | None:
    """Render, parse and resolve one model, and give its tree with the relations bound;
    `incremental` renders is_incremental() as true. Without `tree_kept` (the caller drops the
    tree) the SQL is generated from the tree itself rather than from a copy."""
    found: list[Diagnostic] = []
    bound = compile_models(project, [Job(product, source, incremental)], renderer, [found],
                           tree_kept=tree_kept)[0]
    diagnostics.extend(found)
    return bound


def compile_models(project: Project, jobs: list[Job], renderer: Renderer,
                   diagnostics: list[list[Diagnostic]], *, tree_kept: bool = True
                   ) -> list[tuple[CompiledModel, exp.Query] | None]:
    """`compile_model` of each job (its diagnostics into the list of the same index), a step
    at a time for all of them (render, parse, resolve, generate): each step's code stays in
    the processor's caches, which saves a sixth of the CPU of one model at a time."""
    rendered = [renderer.render(job.product, job.source, incremental=job.incremental)
                for job in jobs]
    parsed: list[tuple[exp.Query, TemplateMap, ModelConfig] | None] = []
    for rendering, job, found in zip(rendered, jobs, diagnostics, strict=True):
        found.extend(rendering.diagnostics)
        if any(d.is_error for d in rendering.diagnostics):
            parsed.append(None)
            continue
        config = model_config(rendering.config,
                              is_port=job.product.port_of_model.get(job.source.name) is not None)
        where = TemplateMap(job.source.path, job.source.text, rendering.sql,
                            rendering.line_map)
        tree = _parse(rendering.sql, where, found)
        parsed.append(None if tree is None else (tree, where, config))
    resolved = [None if item is None else _resolve_all(project, job, item[0], item[1], found)
                for item, job, found in zip(parsed, jobs, diagnostics, strict=True)]
    return [None if item is None or links is None
            else (_model(job, rendering, item[0], item[2], links, tree_kept), item[0])
            for job, rendering, item, links in zip(jobs, rendered, parsed, resolved,
                                                     strict=True)]


def _parse(sql: str, where: TemplateMap, diagnostics: list[Diagnostic]) -> exp.Query | None:
    try:
        return sqlmod.parse_query(sql)
    except sqlmod.SqlProblem as problem:
        code = "DP202" if "one SELECT" in problem.message else "DP201"
        hint = ("a model is a single SELECT statement; move other statements out"
                if code == "DP202" else "fix the SQL near this position (DuckDB dialect)")
        diagnostics.append(error(code, problem.message,
                                 where.position(problem.line, problem.col, problem.token), hint))
        return None


def _resolve_all(project: Project, job: Job, tree: exp.Query, where: TemplateMap,
                 diagnostics: list[Diagnostic]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Bind every relation the tree names, in place; the models and inputs it reads (None
    when one does not resolve)."""
    depends: dict[str, None] = {}
    inputs: dict[str, None] = {}
    ok = True
    for ref in sqlmod.table_refs(tree):
        binding, unresolved = resolve(project, job.product, ref)
        if unresolved is not None:
            code, message, hint = unresolved
            diagnostics.append(error(code, message, where.offset(ref.offset, ref.text, ref.name),
                                     hint))
            ok = False
            continue
        assert binding is not None
        if binding.model_id and not (job.incremental and binding.model_id == job.source.id):
            depends[binding.model_id] = None  # an incremental model may read itself
        if binding.input:
            inputs[binding.input] = None
        sqlmod.qualify_table(ref, binding.relation.schema, binding.relation.name)
    return (tuple(depends), tuple(inputs)) if ok else None


def _model(job: Job, rendered: Rendered, tree: exp.Query, config: ModelConfig,
           links: tuple[tuple[str, ...], tuple[str, ...]], tree_kept: bool) -> CompiledModel:
    product, source = job.product, job.source
    port = product.port_of_model.get(source.name)
    return CompiledModel(
        source=source,
        config=config,
        relation=product.relation_of_model(source.name),
        rendered_sql=rendered.sql,
        sql=sqlmod.generate(tree, copy=tree_kept),
        depends_on=links[0],
        inputs=links[1],
        line_map=rendered.line_map,
        port=port.name if port else None,
        config_lines=tuple(rendered.config_lines.items()),
    )


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
            return _Binding(product.relation_of_model(name), model_id=model_id(product.name, name)), None
        port, feeder = spec.output(name), product.port_model_id(name)
        if port is not None and feeder is not None and db != product.name + INTERNAL_SUFFIX:
            return _Binding(product.relation_of_model(port.model), model_id=feeder), None
        declared = spec.input(name)
        if declared is not None and db != product.name:
            return _bind_input(project, product, declared.name), None
        if not db:
            options = sorted(product.model_names | {i.name for i in spec.inputs})
            return None, ("DP203", f"`{name}` is neither a model of `{product.name}` nor one of its "
                          "inputs", did_you_mean(name, options) + "; declare external data under "
                          f"`inputs:` in {product.name}/product.yml")
        return None, ("DP203", f"`{ref.text}` is not a model, port or input of `{product.name}`",
                      did_you_mean(name, sorted(product.model_names)))
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
    feeder = None
    if spec.kind == "product":
        producer = project.product(spec.product or "")
        feeder = producer.port_model_id(spec.port or "") if producer else None
    return _Binding(relation, model_id=feeder, input=name)


def bind_tree(project: Project, model: CompiledModel) -> exp.Query:
    """The tree of a model whose binding came from the cache: parsed from its rendered SQL,
    relations bound as in a fresh compile (so positions are those of the rendered SQL)."""
    product = project.by_name[model.product]
    tree = sqlmod.parse_query(model.rendered_sql)
    for ref in sqlmod.table_refs(tree):
        binding, _ = resolve(project, product, ref)
        if binding is not None:
            sqlmod.qualify_table(ref, binding.relation.schema, binding.relation.name)
    return tree
