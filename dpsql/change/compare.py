"""Changes, port by port and column by column, between the base and the current workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dpsql.change.define import MISSING, column_definition, model_text, rows_definition
from dpsql.change.side import Side, product_files
from dpsql.core.dtypes import canonical, widens
from dpsql.core.lineage import Col
from dpsql.core.project import Column, CompiledModel

COLUMN_ADDED, COLUMN_REMOVED, COLUMN_RENAMED = "column_added", "column_removed", "column_renamed"
TYPE_WIDENED, TYPE_NARROWED, TYPE_CHANGED = "type_widened", "type_narrowed", "type_changed"
LOGIC_CHANGED, ROWS_CHANGED = "logic_changed", "rows_changed"
PORT_ADDED, PORT_REMOVED = "port_added", "port_removed"
KINDS = (COLUMN_ADDED, COLUMN_REMOVED, COLUMN_RENAMED, TYPE_WIDENED, TYPE_NARROWED, TYPE_CHANGED,
         LOGIC_CHANGED, ROWS_CHANGED, PORT_ADDED, PORT_REMOVED)


@dataclass
class Change:
    product: str
    port: str
    kind: str
    column: str | None = None
    before: str | None = None
    after: str | None = None
    renamed_from: str | None = None
    consumers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def read_column(self) -> str | None:
        """The column of the base that consumers read, for a column kind."""
        return self.renamed_from or self.column

    def where(self) -> str:
        return ".".join(p for p in (self.product, self.port, self.column) if p)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"product": self.product, "port": self.port, "column": self.column,
                               "kind": self.kind, "before": _lower(self.before),
                               "after": _lower(self.after)}
        if self.kind == COLUMN_RENAMED:
            out["renamed_from"] = self.renamed_from
        out["consumers"] = self.consumers
        return out


def sql_changed(before: Side, after: Side, product: str, *, rendered: bool = False) -> bool:
    """Whether any model of the product compiles (or, `rendered`, renders: before relations
    are resolved, so what other products did is left out) to different SQL, normalised."""
    def texts(side: Side, other: Side) -> dict[str, str]:
        # rendered: a model that did not compile on one side is a problem, not an edit
        return {m.id: model_text(m, rendered=rendered) for m in side.compiled.models.values()
                if m.product == product and (not rendered or m.id in other.compiled.models)}

    return texts(before, after) != texts(after, before)


def _lower(type_text: str | None) -> str | None:
    return type_text.lower() if type_text else type_text


def edited_products(before: Side, after: Side) -> set[str]:
    """Products whose own files differ, whose SQL renders differently (a shared macro or a var
    they use changed), or that exist on one side only."""
    names = set(before.products) | set(after.products)
    return {n for n in names if n not in before.products or n not in after.products
            or product_files(before.products[n]) != product_files(after.products[n])
            or sql_changed(before, after, n, rendered=True)}


def _canonical(type_text: str) -> str:
    try:
        return canonical(type_text)
    except (ValueError, TypeError):
        return type_text.lower()


def _type_kind(before: str, after: str) -> str | None:
    b, a = _canonical(before), _canonical(after)
    if b == a:
        return None
    if widens(b, a):
        return TYPE_WIDENED
    if widens(a, b):
        return TYPE_NARROWED
    return TYPE_CHANGED


def _traced(side: Side, model: CompiledModel) -> bool:
    """Whether the model and the models of its product it reads have lineage."""
    todo, seen = [model], set()
    while todo:
        current = todo.pop()
        if current.lineage is None:
            return False
        seen.add(current.id)
        todo.extend(m for d in current.depends_on if (m := side.compiled.models.get(d))
                    and m.product == model.product and m.id not in seen)
    return True


def _definitions(side: Side, model: CompiledModel | None, columns: dict[str, str]) -> dict[str, str]:
    if model is None:
        return {}
    return {c: column_definition(side, model, c) for c in columns}


def _sources(side: Side, product: str, port: str, column: str) -> frozenset[Col]:
    """The columns a port column's value is read from (value edges only)."""
    edges = side.graph.up.get(Col(product, port, column), ())
    return frozenset(e.source for e in edges if not e.row_level)


def _renames(before: Side, after: Side, product: str, port: str,
             removed: list[str], added: list[str],
             defs: tuple[dict[str, str], dict[str, str]]) -> dict[str, str]:
    """new name -> old name, for removed columns whose definition (else sources) reappears
    under exactly one new name."""
    found: dict[str, str] = {}
    for old in removed:
        free = [a for a in added if a not in found]
        same = [a for a in free if old in defs[0] and defs[0][old] == defs[1].get(a)]
        if not same:
            src = _sources(before, product, port, old)
            same = [a for a in free if src and src == _sources(after, product, port, a)]
        if len(same) == 1:
            found[same[0]] = old
    return found


def _as_dict(columns: tuple[Column, ...] | None) -> dict[str, str]:
    return {c.name: c.type for c in columns or ()}


def compare_port(before: Side, after: Side, product: str, port: str) -> list[Change]:
    bcols = _as_dict(before.port_columns(product, port))
    acols = _as_dict(after.port_columns(product, port))
    bmodel, amodel = before.port_model(product, port), after.port_model(product, port)
    defs = (_definitions(before, bmodel, bcols), _definitions(after, amodel, acols))
    removed = [c for c in bcols if c not in acols]
    added = [c for c in acols if c not in bcols]
    renames = _renames(before, after, product, port, removed, added, defs)
    changes: list[Change] = []
    for old in removed:
        if old not in renames.values():
            changes.append(Change(product, port, COLUMN_REMOVED, old, bcols[old], None))
    for new in added:
        if new in renames:
            old = renames[new]
            changes.append(Change(product, port, COLUMN_RENAMED, new, bcols[old], acols[new],
                                  renamed_from=old))
        else:
            changes.append(Change(product, port, COLUMN_ADDED, new, None, acols[new]))
    for name in (c for c in acols if c in bcols):
        if MISSING in defs[1].get(name, "") and MISSING not in defs[0].get(name, MISSING):
            # the port's SQL still names it, but nothing upstream provides it any more
            changes.append(Change(product, port, COLUMN_REMOVED, name, bcols[name], None))
            continue
        kind = _type_kind(bcols[name], acols[name])
        if kind is None and name in defs[0] and name in defs[1] and defs[0][name] != defs[1][name]:
            kind = LOGIC_CHANGED
        if kind is not None:
            changes.append(Change(product, port, kind, name, bcols[name], acols[name]))
    if bmodel is not None and amodel is not None:
        traced = _traced(before, bmodel) and _traced(after, amodel)
        if rows_definition(before, bmodel, traced) != rows_definition(after, amodel, traced):
            changes.append(Change(product, port, ROWS_CHANGED))
    return changes


def _ports(side: Side, product: str) -> list[str]:
    found = side.products.get(product)
    return [o.name for o in found.spec.outputs] if found else []


def compare(before: Side, after: Side, products: set[str]) -> list[Change]:
    """Every change of the ports of `products` (the edited ones)."""
    changes: list[Change] = []
    for product in sorted(products):
        bports, aports = _ports(before, product), _ports(after, product)
        for port in bports:
            if port not in aports:
                changes.append(Change(product, port, PORT_REMOVED))
        for port in aports:
            if port not in bports:
                changes.append(Change(product, port, PORT_ADDED))
            else:
                changes.extend(compare_port(before, after, product, port))
    return changes
