"""Who a change reaches: every consumer of the changed port, by the columns it reads (found by
lineage, row-deciding reads included), then consumers of consumers (the ripple)."""

from __future__ import annotations

from collections import deque
from typing import Any

from dpsql.change.compare import (
    COLUMN_REMOVED,
    COLUMN_RENAMED,
    LOGIC_CHANGED,
    PORT_ADDED,
    PORT_REMOVED,
    ROWS_CHANGED,
    TYPE_CHANGED,
    TYPE_NARROWED,
    TYPE_WIDENED,
    Change,
)
from dpsql.change.side import Side
from dpsql.core.lineage import IDENTITY, ROWS, Col

BREAKING_KINDS = frozenset({COLUMN_REMOVED, COLUMN_RENAMED, TYPE_NARROWED, TYPE_CHANGED})
AFFECTING_KINDS = frozenset({TYPE_WIDENED, LOGIC_CHANGED})
MAX_DEPTH = 50


def consumers_of(side: Side, product: str, port: str) -> list[str]:
    """Products declaring the port as an input."""
    return sorted(p.name for p in side.products.values()
                  if any(i.kind == "product" and i.product == product and i.port == port
                         for i in p.spec.inputs))


def _port_columns(side: Side, product: str, port: str) -> set[str]:
    return {c.name for c in side.port_columns(product, port) or ()} | {ROWS}


def _model_product(side: Side, model_id: str) -> str:
    model = side.compiled.models.get(model_id)
    return model.product if model is not None else model_id.split(".")[0]


def reads(sides: tuple[Side, ...], consumer: str, product: str, port: str) -> set[str]:
    """The port's columns (and `*`, its rows) that the consumer's SQL reads, on either side,
    and the columns its input declares."""
    found: set[str] = set()
    for side in sides:
        for column in _port_columns(side, product, port):
            edges = side.graph.down.get(Col(product, port, column), ())
            if any(_model_product(side, e.model) == consumer for e in edges):
                found.add(column)
        spec = side.products.get(consumer)
        for inp in spec.spec.inputs if spec else ():
            if inp.kind == "product" and inp.product == product and inp.port == port:
                found.update(c.name for c in inp.columns)
    return found


def _direct(change: Change, read: set[str]) -> tuple[str, set[str]]:
    """The impact on a consumer reading `read`, and the columns through which it is hit."""
    if change.kind == PORT_REMOVED:
        return "breaking", read
    if change.kind == ROWS_CHANGED:
        return ("affected", read) if read else ("none", set())
    column = change.read_column
    if column is None or column not in read:
        return "none", set()
    if change.kind in BREAKING_KINDS:
        return "breaking", {column}
    if change.kind in AFFECTING_KINDS:
        return "affected", {column}
    return "none", set()


def _walk(side: Side, through: str, starts: set[Col], identity: bool) -> set[Col]:
    """Columns computed in product `through` from `starts`; with `identity`, only those that
    are copies of them (their value and type follow the start's)."""
    seen, todo = set(starts), deque(starts)
    while todo:
        for edge in side.graph.down.get(todo.popleft(), ()):
            if _model_product(side, edge.model) != through or edge.target in seen:
                continue
            if identity and (edge.row_level or edge.subtypes != {IDENTITY}):
                continue
            seen.add(edge.target)
            todo.append(edge.target)
    return seen - starts


def _reached(sides: tuple[Side, ...], through: str, starts: set[Col],
             identity: bool = False) -> dict[str, set[str]]:
    """Port columns of product `through` computed (values or rows) from `starts`, by port."""
    out: dict[str, set[str]] = {}
    for side in sides:
        for col in _walk(side, through, starts, identity):
            owner = side.graph.owners.get((col.schema, col.name))
            if owner is not None and owner.port and owner.product == through:
                out.setdefault(owner.port, set()).add(col.column)
    return out


def _disappears(before: Side, after: Side, product: str, port: str, columns: set[str]) -> bool:
    """Whether a column of a port disappears or changes type between the sides."""
    model = after.port_model(product, port)
    if model is None or model.columns is None:
        return True  # the port no longer compiles
    old = {c.name: c.type for c in before.port_columns(product, port) or ()}
    new = {c.name: c.type for c in model.columns}
    return any(c != ROWS and (c not in new or (c in old and old[c] != new[c])) for c in columns)


def _ripple(before: Side, after: Side, change: Change, direct: dict[str, tuple[set[str], set[str]]],
            seen: set[str]) -> list[dict[str, Any]]:
    """Consumers of consumers, breadth first, from the direct consumers hit: each step carries
    the port columns through which the change arrives and those of them that disappear or
    change type (a copy of a broken column is broken too)."""
    sides = (after, before)
    found: list[dict[str, Any]] = []
    todo = deque((change.product, change.port, hit, broken, consumer, 2)
                 for consumer, (hit, broken) in sorted(direct.items()))
    while todo:
        product, port, hit, broken, through, depth = todo.popleft()
        if depth > MAX_DEPTH:
            continue
        reached = _reached(sides, through, {Col(product, port, c) for c in hit})
        copied = _reached(sides, through, {Col(product, port, c) for c in broken}, identity=True)
        for dport, cols in sorted(reached.items()):
            for consumer in consumers_of(after, through, dport):
                got = reads(sides, consumer, through, dport)
                hit2 = got if ROWS in cols else got & cols
                if not hit2 or consumer in seen:
                    continue
                seen.add(consumer)
                broken2 = hit2 & copied.get(dport, set())
                if _disappears(before, after, through, dport, hit2):
                    broken2 = hit2
                found.append({"product": consumer, "impact": "breaking" if broken2 else "affected",
                              "reads": sorted(hit2), "depth": depth,
                              "via": sorted(f"{through}.{dport}.{c}" for c in hit2)})
                todo.append((through, dport, hit2, broken2, consumer, depth + 1))
    return found


def consumer_impacts(before: Side, after: Side, change: Change) -> list[dict[str, Any]]:
    """Every direct consumer of the changed port with its impact (`none` included), then the
    ripple of those it reaches."""
    if change.kind == PORT_ADDED:
        return []
    sides = (after, before)
    out: list[dict[str, Any]] = []
    direct: dict[str, tuple[set[str], set[str]]] = {}
    names = set(consumers_of(after, change.product, change.port))
    if change.kind == PORT_REMOVED:
        names |= {n for n in consumers_of(before, change.product, change.port)
                  if n in after.products}
    for consumer in sorted(names):
        read = reads(sides, consumer, change.product, change.port)
        impact, hit = _direct(change, read)
        out.append({"product": consumer, "impact": impact, "reads": sorted(hit), "depth": 1,
                    "via": []})
        if impact != "none":
            direct[consumer] = (hit, hit if impact == "breaking" else set())
    return out + _ripple(before, after, change, direct, {change.product, *names})
