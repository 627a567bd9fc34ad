"""Interfaces that fit: port contracts, consumer expectations and versions, checked statically.

Pure functions from a CompiledProject to diagnostics (codes DP301-DP399, docs/diagnostics.md):

- a port's model against the port's contract (missing, extra, renamed, reordered, retyped);
- a consumer's SQL reading a column that the contract of a port it reads does not have;
- a consumer's `columns` expectations and `version` range against the producer;
- a declared input never read, and a port without a contract (warnings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlglot import exp

from dpsql.compile import sql as sqlmod
from dpsql.compile.checks import reads as readmod
from dpsql.compile.state import CompileState
from dpsql.compile.typing.standins import interfaces
from dpsql.core.dtypes import canonical, widens
from dpsql.core.errors import Diagnostic, Location, closest, error, warning
from dpsql.core.project import Column, CompiledModel, CompiledProject, Product
from dpsql.core.relations import Relation
from dpsql.core.specs import ColumnSpec, InputSpec, OutputSpec

TreeOf = Callable[[CompiledModel], exp.Query]  # a model's parsed tree, from the compile state


def check_interfaces(state: CompileState) -> None:
    """Pass: add every interface diagnostic.

    A consumer that reads a column missing from a port's contract also fails to bind in DuckDB
    (DP208); the precise DP307 supersedes that diagnostic for the model.
    """
    compiled = state.result()
    found = list(interface_diagnostics(compiled, state.trees.of))
    precise = {d.location.path for d in found if d.code == "DP307" and d.location}
    state.diagnostics[:] = [d for d in compiled.diagnostics
                            if not (d.code == "DP208" and d.location
                                    and d.location.path in precise)] + found


def interface_diagnostics(compiled: CompiledProject, tree_of: TreeOf) -> Iterable[Diagnostic]:
    project = compiled.project
    by_path = {m.source.path: m for m in compiled.models.values()}
    for product in project.products:
        for port in product.spec.outputs:
            model_id = product.port_model_id(port.name)
            model = compiled.models.get(model_id) if model_id else None
            if not port.columns:
                yield _no_contract(product, port, model)
            elif model is not None and model.columns is not None:
                yield from check_port(product, port, model, tree_of)
        for spec in product.spec.inputs:
            yield from check_version(compiled, product, spec)
            yield from check_expectations(compiled, product, spec)
        yield from unread_inputs(compiled, product)
    unbound = [by_path[d.location.path] for d in compiled.diagnostics
               if d.code == "DP208" and d.location and d.location.path in by_path]
    if unbound:
        yield from missing_columns(compiled, [(m, tree_of(m)) for m in unbound])


# --- a port's model against its contract -----------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One way a relation's columns differ from a contract."""

    kind: str  # "missing" | "extra" | "renamed" | "reordered" | "type"
    expected: ColumnSpec | None  # the contract's column
    actual: Column | None  # the relation's column
    position: int  # 1-based, in the relation (in the contract for "missing")
    expected_type: str = ""  # canonical, for "type" and "renamed"


def differences(contract: Sequence[ColumnSpec], actual: Sequence[Column]) -> list[Difference]:
    """How `actual` differs from `contract`: names, order and DuckDB types (canonical)."""
    c_index = {c.name.lower(): i for i, c in enumerate(contract)}
    a_index = {c.name.lower(): i for i, c in enumerate(actual)}
    missing = [i for i, c in enumerate(contract) if c.name.lower() not in a_index]
    extra = {j for j, c in enumerate(actual) if c.name.lower() not in c_index}
    out: list[Difference] = []
    for i in missing:
        spec = contract[i]
        if i in extra:  # the same place, another name: a rename
            extra.discard(i)
            out.append(Difference("renamed", spec, actual[i], i + 1, _type(spec)))
        else:
            out.append(Difference("missing", spec, None, i + 1, _type(spec)))
    out.extend(Difference("extra", None, actual[j], j + 1) for j in sorted(extra))
    in_contract = [c.name.lower() for c in contract if c.name.lower() in a_index]
    in_actual = [c.name.lower() for c in actual if c.name.lower() in c_index]
    for want, have in zip(in_contract, in_actual, strict=True):
        if want != have:
            out.append(Difference("reordered", contract[c_index[have]], actual[a_index[have]],
                                  a_index[have] + 1))
            break
    for j, column in enumerate(actual):
        found = c_index.get(column.name.lower())
        if found is None:
            continue
        want_type = _type(contract[found])
        if want_type and canonical_or_self(column.type) != want_type:
            out.append(Difference("type", contract[found], column, j + 1, want_type))
    return out


def _type(spec: ColumnSpec) -> str:
    return canonical_or_self(spec.type) if spec.type else ""


def canonical_or_self(type_text: str) -> str:
    try:
        return canonical(type_text)
    except ValueError:
        return type_text


def check_port(product: Product, port: OutputSpec, model: CompiledModel, tree_of: TreeOf
               ) -> list[Diagnostic]:
    assert port.columns is not None and model.columns is not None
    name = f"{product.name}.{port.name}"
    out = []
    found = differences(port.columns, model.columns)
    sql = _Sql(model, tree_of(model)) if found else None
    for diff in found:
        assert sql is not None
        where = (diff.expected.location if diff.kind == "missing" and diff.expected else
                 model.template_map.node(sql.projection(diff.actual.name if diff.actual else "")))
        out.append(_port_diagnostic(name, port, sql, diff, where, [c.name for c in port.columns]))
    return out


def _port_diagnostic(name: str, port: OutputSpec, sql: _Sql, diff: Difference,
                     where: Location | None, order: list[str]) -> Diagnostic:
    model = sql.model
    file = f"models/{model.source.path.name}"
    spec, column = diff.expected, diff.actual
    yml = _yml_line(spec.location if spec else port.location)
    if diff.kind == "missing":
        assert spec is not None
        return error(
            "DP301", f"port `{name}` declares column `{spec.name}`"
            f"{f' ({diff.expected_type})' if diff.expected_type else ''}, which model "
            f"`{model.name}` does not produce", where,
            f"add `... AS {spec.name}` to the select list of {file}, or remove the column from "
            "the contract (removing a column breaks consumers: bump the major version)")
    assert column is not None
    if diff.kind == "extra":
        return error(
            "DP302", f"model `{model.name}` produces column `{column.name}` ({column.type}), which "
            f"the contract of port `{name}` does not declare", where,
            f"declare it in the port's columns ({yml}): `- {{name: {column.name}, type: "
            f"{column.type.lower()}}}`, or drop it from the select list of {file}")
    if diff.kind == "renamed":
        assert spec is not None
        cast = (sql.cast(column.name, diff.expected_type, spec.name)
                if diff.expected_type and canonical_or_self(column.type) != diff.expected_type
                else f"{sql.expression(column.name, strip_cast=False)} AS {spec.name}")
        return error(
            "DP303", f"column {diff.position} of port `{name}` is `{column.name}` in model "
            f"`{model.name}` but `{spec.name}` in the contract", where,
            f"write `{cast}` in {file}, or rename the column in the contract ({yml}); renaming "
            "breaks consumers")
    if diff.kind == "reordered":
        return error(
            "DP304", f"columns of model `{model.name}` are not in the order of the contract of "
            f"port `{name}`: `{column.name}` comes too early", where,
            f"list the columns in the contract's order: {', '.join(order)}")
    assert spec is not None
    return error(
        "DP305", f"column `{column.name}` of port `{name}` is {column.type} in model "
        f"`{model.name}`, but the contract says {diff.expected_type}", where,
        f"write `{sql.cast(column.name, diff.expected_type, column.name)}` in {file}, or "
        f"change the contract ({yml}) to `type: {column.type.lower()}`")


@dataclass(frozen=True)
class _Sql:
    """A port's model and its parsed tree: what a hint quotes from the model's SQL."""

    model: CompiledModel
    tree: exp.Query

    def cast(self, column: str, type_text: str, alias: str) -> str:
        return f"CAST({self.expression(column)} AS {type_text}) AS {alias}"

    def expression(self, column: str, strip_cast: bool = True) -> str:
        node = self.projection(column)
        if isinstance(node, exp.Alias):
            node = node.this
        while strip_cast and isinstance(node, exp.Cast):  # the cast to write replaces this one
            node = node.this
        if node is None or isinstance(node, exp.Star) or (
                isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            return column
        text = _source_text(self.model.rendered_sql, node) or node.sql(dialect=sqlmod.DIALECT)
        return text if len(text) <= 60 else "<expression>"

    def projection(self, column: str) -> exp.Expr | None:
        """The select-list item of the outer query that makes `column` (or its `*`)."""
        tree: exp.Expr | None = self.tree
        while isinstance(tree, exp.SetOperation):
            tree = tree.left
        if not isinstance(tree, exp.Select):
            return None
        star = None
        for item in tree.selects:
            if item.alias_or_name.lower() == column.lower() and not isinstance(item, exp.Star):
                return item
            if star is None and (isinstance(item, exp.Star) or isinstance(item.this, exp.Star)):
                star = item
        return star


def _source_text(sql: str, node: exp.Expr) -> str | None:
    """The expression as the user wrote it (after Jinja), with its parentheses balanced."""
    spans = [(int(n.meta["start"]), int(n.meta["end"])) for n in node.walk() if "start" in n.meta]
    if not spans:
        return None
    start, end = min(s for s, _ in spans), max(e for _, e in spans) + 1
    depth, quoted, i = 0, False, start
    while i < len(sql) and (i < end or depth > 0):
        char = sql[i]
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
            if depth < 0:
                return None
        i += 1
    text = sql[start:i]
    return " ".join(text.split()) if depth == 0 and not quoted else None


def _no_contract(product: Product, port: OutputSpec, model: CompiledModel | None) -> Diagnostic:
    columns = model.columns if model is not None and model.columns else ()
    shown = ", ".join(f"{{name: {c.name}, type: {c.type.lower()}}}" for c in columns[:4])
    more = ", ..." if len(columns) > 4 else ""
    example = f" (the model produces: {shown}{more})" if columns else ""
    return warning(
        "DP306", f"port `{product.name}.{port.name}` has no contract: consumers cannot be "
        "checked against it", port.location,
        f"declare its `columns:` with a name and type each{example}")


# --- what consumers read and expect --------------------------------------------------------


def missing_columns(compiled: CompiledProject,
                    models: Iterable[tuple[CompiledModel, exp.Query]]) -> list[Diagnostic]:
    """DP307: columns a model's SQL reads from a port whose contract does not have them."""
    contracts = interfaces(compiled.project)
    known: dict[Relation, Sequence[Column]] = dict(contracts)
    for model in compiled.models.values():
        if model.columns is not None and model.relation not in contracts:
            known[model.relation] = model.columns
    for (product_name, input_name), columns in compiled.sources.items():
        product = compiled.project.by_name[product_name]
        spec = product.spec.input(input_name)
        if columns is not None and spec is not None:
            known[product.relation_of_input(spec)] = columns
    schemas = readmod.schemas_of(known)
    out = []
    for model, tree in models:
        for read in readmod.column_reads(tree, schemas):
            ports = [r for r in read.relations if r in contracts]
            if read.found or not ports:
                continue
            port = ports[0]
            names = [c.name for c in contracts[port]]
            close = closest(read.name, [n.lower() for n in names])
            guess = f"did you mean `{close}`? " if close else ""
            others = ("" if len(read.relations) == 1 else
                      f" (nor does {', '.join(f'`{r}`' for r in read.relations if r != port)})")
            out.append(error(
                "DP307", f"model `{model.id}` reads column `{read.column.name}` of port "
                f"`{port}`, which its contract does not have{others}",
                model.template_map.node(read.column),
                f"{guess}the contract of `{port}` has: {', '.join(names)}; if `{model.product}` "
                f"needs `{read.column.name}`, ask the owner of `{port.schema}` to add it to the port"))
    return out


def check_expectations(compiled: CompiledProject, product: Product, spec: InputSpec
                       ) -> list[Diagnostic]:
    """DP308/DP309: the `columns` an input expects against what its producer provides."""
    if not spec.columns:
        return []
    given, what = _provided(compiled, product, spec)
    if given is None:
        return []
    by_name = {c.name.lower(): c for c in given}
    out = []
    for want in spec.columns:
        have = by_name.get(want.name.lower())
        if have is None:
            close = closest(want.name, list(by_name))
            out.append(error(
                "DP308", f"input `{spec.name}` of `{product.name}` expects column `{want.name}`, "
                f"which {what} does not have", want.location,
                (f"did you mean `{close}`? " if close else "") +
                f"{what} has: {', '.join(c.name for c in given)}"))
            continue
        if not want.type:
            continue
        expected = canonical_or_self(want.type)
        actual = canonical_or_self(have.type)
        if not widens(actual, expected):
            out.append(error(
                "DP309", f"input `{spec.name}` of `{product.name}` expects `{want.name}` as "
                f"{expected}, but {what} gives {actual}, which does not fit in it", want.location,
                f"expect `type: {actual.lower()}` or a wider type; only widening is compatible "
                "(integer to bigint, decimal(10,2) to decimal(18,2))"))
    return out


def _provided(compiled: CompiledProject, product: Product, spec: InputSpec
              ) -> tuple[Sequence[Column] | None, str]:
    """What an input really offers: a port's contract (or its model's columns), a file's schema."""
    if spec.kind != "product":
        columns = compiled.sources.get((product.name, spec.name))
        return columns, f"the {spec.kind} `{spec.file.name if spec.file else spec.table}`"
    producer = compiled.project.product(spec.product or "")
    port = producer.spec.output(spec.port or "") if producer else None
    if producer is None or port is None:
        return None, ""  # DP209
    name = f"port `{producer.name}.{port.name}`"
    if port.columns:
        return ([Column(c.name, c.type or "") for c in port.columns if c.type]
                if all(c.type for c in port.columns) else None), name
    model_id = producer.port_model_id(port.name)
    model = compiled.models.get(model_id) if model_id else None
    return (model.columns if model else None), f"{name} (no contract; its model)"


def check_version(compiled: CompiledProject, product: Product, spec: InputSpec
                  ) -> list[Diagnostic]:
    """DP310: the producer's version is outside the range the consumer accepts."""
    if spec.kind != "product" or spec.version is None:
        return []
    producer = compiled.project.product(spec.product or "")
    if producer is None or spec.version.allows(producer.spec.version):
        return []
    version = producer.spec.version
    older = any(op in (">=", ">", "=") and version < bound for op, bound in spec.version.terms)
    accept = (f"^{version.major}.{version.minor}" if older or version.major == 0
              else f"^{version.major}")
    hint = (f"`{producer.name}` has not reached that version yet: accept the one it publishes "
            f"(`version: {accept}`) if `{product.name}` works with it" if older else
            f"check what changed in `{producer.name}` and, if `{product.name}` still fits, "
            f"accept it: `version: {accept}`")
    return [error(
        "DP310", f"input `{spec.name}` of `{product.name}` accepts versions `{spec.version}` of "
        f"`{producer.name}`, which is at {version}", spec.key_location("version"),
        hint)]


def unread_inputs(compiled: CompiledProject, product: Product) -> list[Diagnostic]:
    """DP311 (warning): a declared input that no model of the product reads."""
    ids = [f"{product.name}.{m.name}" for m in product.models]
    if not ids or any(mid not in compiled.models for mid in ids):
        return []  # a model did not compile: what it reads is unknown
    read = {name for mid in ids for name in compiled.models[mid].inputs}
    return [warning(
        "DP311", f"input `{spec.name}` of `{product.name}` is declared but no model reads it",
        spec.location, f"remove it from `inputs:` in {product.name}/product.yml, or read it with "
        f"`{{{{ input('{spec.name}') }}}}`") for spec in product.spec.inputs if spec.name not in read]


# --- locations ---------------------------------------------------------------------------------


def _yml_line(location: Location | None) -> str:
    if location is None:
        return "product.yml"
    return f"{location.path.parent.name}/{location.path.name}:{location.line}"
