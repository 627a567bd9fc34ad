"""Before anything is built: what the selected models read from outside the build must be there.

`dpsql build --select revenue` builds `revenue` against the ports its upstream products have
already published. Each relation read from outside the selection must exist; an upstream port
must also have the columns (and types) the consumer declares under `inputs: ... columns:`, and
the version it was published with must be in the consumer's `version:` range. Every problem is
reported at once, before the first model is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from dpsql.build.engines.duckdb import Catalog
from dpsql.build.state import Stored
from dpsql.compile.ephemeral import reads_through
from dpsql.core.dtypes import canonical, widens
from dpsql.core.errors import Diagnostic, error
from dpsql.core.project import Column, CompiledModel, CompiledProject, Materialization
from dpsql.core.relations import Relation
from dpsql.core.specs import InputSpec
from dpsql.core.versions import parse_version


def outside_reads(compiled: CompiledProject, planned: Iterable[str]
                  ) -> dict[str, list[tuple[CompiledModel, InputSpec | None]]]:
    """Models read from outside the plan -> the consumers reading them, each with the input
    port it reads them through (None for a model of its own product).

    An ephemeral model outside the plan is inlined in its consumers, so what it reads counts.
    """
    inside = set(planned)
    found: dict[str, list[tuple[CompiledModel, InputSpec | None]]] = {}
    for mid in sorted(inside):
        consumer = compiled.models[mid]
        if consumer.config.materialized == Materialization.EPHEMERAL:
            continue  # its readers carry it
        deps, ports = reads_through(compiled, consumer.depends_on, consumer.product,
                                    consumer.inputs)
        for dep in sorted(deps - inside):
            found.setdefault(dep, []).append((consumer, _input_reading(compiled, ports, dep)))
    return found


def _input_reading(compiled: CompiledProject, ports: Iterable[tuple[str, str]], dep: str
                   ) -> InputSpec | None:
    """The input port, among `ports`, that reads model `dep`, if any."""
    for product_name, name in sorted(ports):
        spec = compiled.project.by_name[product_name].spec.input(name)
        if spec is None or spec.kind != "product":
            continue
        producer = compiled.project.product(spec.product or "")
        if producer is not None and producer.port_model_id(spec.port or "") == dep:
            return spec
    return None


ColumnsOf = Callable[[Iterable[Relation]], Mapping[Relation, tuple[Column, ...]]]


def check(compiled: CompiledProject, planned: Iterable[str], catalog: Catalog,
          stored: Mapping[str, Stored], read_columns: ColumnsOf) -> list[Diagnostic]:
    """Every problem with what the plan reads from outside itself (an empty list: go ahead).
    `read_columns` gives the published columns of relations (in DuckDB types)."""
    reads = outside_reads(compiled, planned)
    problems: list[Diagnostic] = missing_tables(compiled, planned, catalog)
    present: dict[str, Relation] = {}
    for dep in sorted(reads):
        upstream = compiled.models[dep]
        consumer, _ = reads[dep][0]
        if catalog.kind(upstream.relation) is None:
            what = (f"port `{upstream.relation}`" if upstream.port else
                    f"model `{upstream.id}` ({upstream.relation})")
            problems.append(error(
                "DP408", f"`{consumer.id}` reads {what}, which is not in the warehouse and not "
                "selected to be built", consumer.location(),
                f"build it first (`dpsql build --select {_selector(upstream)}`), or add it to "
                "the selection"))
        else:
            present[dep] = upstream.relation
    columns = read_columns([present[d] for d in present if any(spec for _, spec in reads[d])])
    for dep, relation in sorted(present.items()):
        for consumer, spec in reads[dep]:
            if spec is None:
                continue
            problems.extend(_expectations(consumer, spec, relation, columns.get(relation, ())))
            problems.extend(_version(consumer, spec, relation, stored.get(dep)))
    return _dedupe(problems)


def missing_tables(compiled: CompiledProject, planned: Iterable[str], catalog: Catalog
                   ) -> list[Diagnostic]:
    """DP408 for each `table:` input read by the plan that is not in the warehouse."""
    readers: dict[tuple[str, str], list[str]] = {}
    for mid in sorted(planned):
        model = compiled.models[mid]
        if model.config.materialized == Materialization.EPHEMERAL:
            continue  # its readers carry it
        _, ports = reads_through(compiled, model.depends_on, model.product, model.inputs)
        for port in ports:
            readers.setdefault(port, []).append(mid)
    problems = []
    for (product_name, name), mids in sorted(readers.items()):
        product = compiled.project.by_name[product_name]
        spec = product.spec.input(name)
        if spec is None or spec.kind != "table" or catalog.kind(
                product.relation_of_input(spec)) is not None:
            continue
        more = f" (and {len(mids) - 1} more)" if len(mids) > 1 else ""
        problems.append(error(
            "DP408", f"`{mids[0]}`{more} reads table `{spec.table}` (input `{name}` of "
            f"`{product_name}`), which is not in the warehouse", spec.location,
            f"create `{spec.table}` in the warehouse first (load it, or build what writes it), "
            "or fix `table:` in this product.yml"))
    return problems


def _selector(model: CompiledModel) -> str:
    return model.product if model.port else model.id


def _expectations(consumer: CompiledModel, spec: InputSpec, relation: Relation,
                  published: tuple[Column, ...]) -> list[Diagnostic]:
    have = {c.name: c.type for c in published}
    where = spec.location
    out = []
    for expected in spec.columns:
        found = have.get(expected.name)
        if found is None:
            out.append(error(
                "DP409", f"product `{consumer.product}` expects column `{expected.name}` in "
                f"`{relation}`, but the published port has no such column",
                expected.location or where,
                f"published columns: {', '.join(have) or '(none)'}; rebuild `{relation.schema}` "
                "or update the expectation"))
        elif expected.type and not satisfies(found, expected.type):
            out.append(error(
                "DP409", f"product `{consumer.product}` expects `{relation}.{expected.name}` to "
                f"be {expected.type}, but the published port has {found}",
                expected.location or where,
                f"rebuild `{relation.schema}` so it publishes the type its contract declares, "
                "or update the expectation"))
    return out


def _version(consumer: CompiledModel, spec: InputSpec, relation: Relation,
             stored: Stored | None) -> list[Diagnostic]:
    if spec.version is None or stored is None or not stored.version:
        return []
    try:
        published = parse_version(stored.version)
    except ValueError:
        return []
    if spec.version.allows(published):
        return []
    return [error(
        "DP410", f"product `{consumer.product}` accepts `{relation}` {spec.version}, but the "
        f"published port is version {published}", spec.location,
        f"rebuild `{relation.schema}` at a version in range, or widen `version:` of input "
        f"`{spec.name}`")]


def _dedupe(found: list[Diagnostic]) -> list[Diagnostic]:
    return list(dict.fromkeys(found))


def satisfies(published: str, expected: str) -> bool:
    """The published type fits the consumer's expectation: the same rule as the static check
    (dtypes.widens: the values of the published type are values of the expected one)."""
    try:
        return widens(canonical(published), canonical(expected))
    except ValueError:
        return published.strip().lower() == expected.strip().lower()
