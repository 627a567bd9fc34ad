"""Classification labels flowing through column lineage, across products (DP808, DP809).

Labels start on the columns of inputs and ports that declare `classification:` in
product.yml. For each model in DAG order, an output column carries a label when a column it is
computed from along a DIRECT edge carries it and the path keeps the values: not through an
aggregate that computes a new value (`count`, `sum`), not through a `masked_by` function
(`dpsql/lineage/values.py`). Row-level edges (filters, joins, grouping) never carry labels.
A port column that carries a label its contract does not declare is an error; a declared
label that nothing carries is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlglot import exp
from sqlglot.schema import MappingSchema

from dpsql.compile import sql as sqlmod
from dpsql.compile.state import CompileState
from dpsql.core.errors import Diagnostic, error, warning
from dpsql.core.lineage import Col, is_direct
from dpsql.core.project import Column, CompiledModel, Product, Project
from dpsql.core.relations import INTERNAL_SUFFIX, Relation
from dpsql.core.specs import Classification, ColumnSpec
from dpsql.lineage.model import model_lineage
from dpsql.lineage.values import keeping_tree

Path = tuple[Col, ...]  # from the labelled source column to the column that carries the label
Labels = dict[str, Path]


def check_labels(state: CompileState) -> None:
    """Pass: labels carried by every model's columns; port columns checked (DP808, DP809)."""
    project = state.project
    if not project.config.policies.classifications or not _any_label(project):
        return
    flow = _Flow(state)
    for mid in state.order:
        model = state.models[mid]
        if model.lineage is None:
            continue
        carried = flow.model(model)
        if model.port is not None:
            product = project.by_name[model.product]
            state.diagnostics.extend(_port_problems(product, model, carried, flow.classes))
            flow.declare(product, model)


def _any_label(project: Project) -> bool:
    return any(c.classifications for p in project.products
               for cols in (*(i.columns for i in p.spec.inputs),
                            *(o.columns or () for o in p.spec.outputs)) for c in cols)


class _Flow:
    """The labels every column carries so far, and the seeds declared in product.yml."""

    def __init__(self, state: CompileState):
        self.state = state
        self.classes = state.project.config.policies.classifications
        self.carried: dict[Col, Labels] = {}
        self.by_product: dict[str, dict[Col, Labels]] = {}  # labels a consumer's inputs declare
        self._schema: MappingSchema | None = None
        for product in state.project.products:
            mine = self.by_product.setdefault(product.name, {})
            for inp in product.spec.inputs:
                rel = product.relation_of_input(inp)
                target = mine if inp.kind == "product" else self.carried
                for col in inp.columns:
                    self._seed(target, rel, col)

    def _seed(self, target: dict[Col, Labels], rel: Relation, col: ColumnSpec) -> None:
        at = Col(rel.schema, rel.name, col.name)
        for label in col.classifications:
            if label in self.classes:
                target.setdefault(at, {}).setdefault(label, (at,))

    def labels_of(self, product: str, col: Col) -> Labels:
        found = dict(self.by_product.get(product, {}).get(col, {}))
        found.update(self.carried.get(col, {}))
        return found

    def model(self, model: CompiledModel) -> dict[str, Labels]:
        """The labels each output column of `model` carries (recorded for its readers)."""
        assert model.lineage is not None
        out: dict[str, Labels] = {}
        kept: dict[frozenset[str], Mapping[str, Mapping[Col, frozenset[str]]] | None] = {}
        for name, sources in model.lineage.fields.items():
            for src in sorted(sources):
                if not any(is_direct(s) for s in sources[src]):
                    continue
                for label, path in sorted(self.labels_of(model.product, src).items()):
                    masks = self.classes[label].masks
                    if masks not in kept:
                        kept[masks] = self._keeping(model, masks)
                    through = kept[masks]
                    if through is not None and not any(
                            is_direct(s) for s in through.get(name, {}).get(src, ())):
                        continue
                    here = Col(model.relation.schema, model.relation.name, name)
                    out.setdefault(name, {}).setdefault(label, (*path, here))
        for name, labels in out.items():
            self.carried[Col(model.relation.schema, model.relation.name, name)] = labels
        return out

    def _keeping(self, model: CompiledModel, masks: frozenset[str]
                 ) -> Mapping[str, Mapping[Col, frozenset[str]]] | None:
        """The lineage of the model with every masking call and non-keeping aggregate made
        NULL; None when it cannot be traced (then every DIRECT edge carries)."""
        mapping = self._mapping()
        try:
            tree = keeping_tree(sqlmod.parse_query(model.sql), masks)
        except Exception:  # the model's own diagnostics say why it does not parse
            return None
        qualified = sqlmod.qualify_columns(tree, mapping, copy=False)
        found = model_lineage(model, qualified, mapping)
        return found.fields if found.complete else None

    def _mapping(self) -> MappingSchema:
        """The columns of every relation a model may read, as the typing pass knew them; built
        from the state, not from the typing pass's catalog, which holds only the relations of
        the models typed in this compile (a warm cache types none)."""
        if self._schema is None:
            known: dict[Relation, tuple[Column, ...]] = {}
            for (product, name), columns in self.state.sources.items():
                spec = self.state.project.by_name[product].spec.input(name)
                if columns is not None and spec is not None:
                    known[self.state.project.by_name[product].relation_of_input(spec)] = columns
            for model in self.state.models.values():
                if model.columns is not None:
                    known[model.relation] = model.columns
            known.update(self.state.interfaces)  # readers of a port see its contract
            self._schema = MappingSchema(dialect="duckdb", normalize=False)
            for rel, columns in known.items():
                self._schema.add_table(
                    exp.Table(this=exp.to_identifier(rel.name), db=exp.to_identifier(rel.schema)),
                    {c.name: c.type for c in columns}, dialect="duckdb")
        return self._schema

    def declare(self, product: Product, model: CompiledModel) -> None:
        """A port's declared labels flow on to its readers, carried or not."""
        spec = product.spec.output(model.port or "")
        for col in (spec.columns or ()) if spec is not None else ():
            self._seed(self.carried, model.relation, col)


def shown(col: Col) -> str:
    """`product.relation.column`, as `dpsql lineage` names columns."""
    schema = col.schema
    if schema.endswith(INTERNAL_SUFFIX):
        schema = schema[: -len(INTERNAL_SUFFIX)]
    return f"{schema}.{col.name}.{col.column}"


def _port_problems(product: Product, model: CompiledModel, carried: dict[str, Labels],
                   classes: Mapping[str, Classification]) -> Iterator[Diagnostic]:
    port = product.spec.output(model.port or "")
    if port is None or model.lineage is None:
        return
    declared = {c.name: c for c in port.columns or ()}
    for name, labels in carried.items():
        col = declared.get(name)
        for label, path in labels.items():
            if col is not None and label in col.classifications:
                continue
            where = (col.location if col is not None else None) or port.location
            masks = ", ".join(sorted(classes[label].masks)) or "a masking function"
            yield error(
                "DP808", f"port column `{product.name}.{port.name}.{name}` carries `{label}` "
                f"from `{shown(path[0])}` but does not declare it: "
                + " -> ".join(shown(c) for c in path), where,
                f"declare `classification: {label}` on the column `{name}` of port "
                f"`{port.name}`, or mask the value ({masks})")
    if not model.lineage.complete:
        return
    for col in port.columns or ():
        for label in col.classifications:
            if label not in carried.get(col.name, {}):
                yield warning(
                    "DP809", f"port column `{product.name}.{port.name}.{col.name}` declares "
                    f"`classification: {label}`, but nothing it is computed from carries it",
                    col.label_location or col.location,
                    f"remove `{label}` from the column, or label the input column it comes from")
