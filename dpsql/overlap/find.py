"""`dpsql overlap`: the same transformation written more than once, found by grouping the
fingerprints of every model's units (near-linear: one pass, one dictionary, no pairwise diff)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify

from dpsql.change.side import Side, open_side
from dpsql.core.lineage import IDENTITY
from dpsql.core.project import CompiledModel
from dpsql.lineage.graph import LineageGraph
from dpsql.overlap.normal import DIALECT, EXPRESSION, MODEL, QUERY_PART, Env, Normaliser, Unit

log = logging.getLogger("dpsql")


@dataclass(frozen=True)
class Member:
    product: str
    model: str
    column: str | None
    location: str
    part: str | None = None  # the CTE or subquery, for part of a model

    def as_dict(self) -> dict[str, str | None]:
        return {"product": self.product, "model": self.model, "column": self.column,
                "location": self.location, "part": self.part}


@dataclass(frozen=True)
class Finding:
    kind: str
    similarity: float
    members: tuple[Member, ...]
    sources: tuple[str, ...]
    suggestion: str

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "similarity": self.similarity,
                "members": [m.as_dict() for m in self.members], "sources": list(self.sources),
                "suggestion": self.suggestion}


class Workspace:
    """A compiled workspace, and each relation's ultimate source through re-publishes."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.graph = side.graph
        self.root = side.compiled.project.root
        self._canonical: dict[tuple[str, str], tuple[str, str]] = {}

    def relation(self, schema: str, name: str, depth: int = 0) -> tuple[str, str]:
        key = (schema, name)
        if key not in self._canonical:
            model = self.side.by_relation.get(key)
            upstream = _republished(model) if model is not None else None
            self._canonical[key] = (self.relation(*upstream, depth=depth + 1)
                                    if upstream is not None and depth < 50 else key)
        return self._canonical[key]

    def label(self, schema: str, name: str) -> str:
        return self.graph.label((schema, name))


def _republished(model: CompiledModel) -> tuple[str, str] | None:
    """The relation a model only re-publishes (each column taken as it is from one relation,
    every row kept), or None."""
    lineage = model.lineage
    if lineage is None or not lineage.complete or lineage.dataset or not lineage.fields:
        return None
    read: set[tuple[str, str]] = set()
    for column, inputs in lineage.fields.items():
        if len(inputs) != 1:
            return None
        (col, subtypes), = inputs.items()
        if col.column != column or set(subtypes) != {IDENTITY}:
            return None
        read.add((col.schema, col.name))
    rows = {(c.schema, c.name) for c in lineage.rows}
    if len(read) != 1 or not rows <= read:
        return None
    return read.pop()


def model_units(ws: Workspace, model: CompiledModel) -> list[Unit]:
    try:
        tree = qualify(sqlglot.parse_one(model.sql, read=DIALECT), dialect=DIALECT,
                       schema=ws.side.mapping_schema, validate_qualify_columns=False,
                       identify=False)
        normaliser = Normaliser(ws.relation, ws.label)
        normaliser.query(tree, Env({}, {}))
    except (SqlglotError, RecursionError, ValueError, KeyError, TypeError) as exc:
        log.info("overlap: %s skipped: %s", model.id, exc)
        return []
    return normaliser.finish()


def _line(text: str, pattern: str) -> int:
    found = re.search(pattern, text, re.IGNORECASE)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _member(ws: Workspace, model: CompiledModel, unit: Unit) -> Member:
    source = model.source
    try:
        path = source.path.resolve().relative_to(ws.root.resolve()).as_posix()
    except ValueError:
        path = source.path.as_posix()
    line = 1
    if unit.kind == EXPRESSION and unit.column:
        line = _line(source.text, rf"\bas\s+\"?{re.escape(unit.column)}\"?\b")
    elif unit.kind == QUERY_PART and unit.name:
        line = _line(source.text, rf"\b{re.escape(unit.name)}\"?\s+as\s*\(|\)\s*(as\s+)?"
                                  rf"{re.escape(unit.name)}\b")
    elif unit.kind == MODEL:
        line = _line(source.text, r"^\s*(select|with|from)\b".replace("^", "(?m)^"))
    part = unit.name or None if unit.kind == QUERY_PART else None
    return Member(model.product, model.source.name, unit.column, f"{path}:{line}", part)


def suggestion(members: tuple[Member, ...], sources: tuple[str, ...]) -> str:
    owners = sorted({s.split(".", 1)[0] for s in sources})
    products = sorted({m.product for m in members})
    what = "this column expression" if members[0].column else "this transformation"
    written = f"written {len(members)} times in {', '.join(products)}"
    if len(owners) == 1:
        return (f"{what} is {written}: publish it once as a port of {owners[0]}, which owns "
                f"its sources, and read that port instead")
    if not owners:
        return f"{what} is {written}: keep one copy and read it from the others"
    return (f"{what} is {written} over sources of {', '.join(owners)}: publish it once as a "
            f"port of a new intermediary product reading {', '.join(owners)}, and read that "
            f"port instead")


def find_overlap(root: Path, min_similarity: float = 0.8) -> list[Finding]:
    """Every transformation written more than once in a workspace, largest units first."""
    return overlap_of(open_side(root, use_cache=True), min_similarity)


def overlap_of_graph(graph: LineageGraph, min_similarity: float = 0.8) -> list[Finding]:
    """The same, for a workspace already compiled (its lineage graph)."""
    return overlap_of(Side(graph.compiled, graph), min_similarity)


def overlap_of(side: Side, min_similarity: float = 0.8) -> list[Finding]:
    ws = Workspace(side)
    groups: dict[str, list[tuple[CompiledModel, Unit]]] = {}
    for model_id in ws.side.compiled.order:
        model = ws.side.compiled.models[model_id]
        for unit in model_units(ws, model):
            key = ("expr:" if unit.kind == EXPRESSION else "query:") + unit.fingerprint
            groups.setdefault(key, []).append((model, unit))
    reported = {key.split(":", 1)[1] for key, found in groups.items()
                if key.startswith("query:") and _distinct(found)}
    findings: list[Finding] = []
    for found in groups.values():
        if not _distinct(found):
            continue
        common = set.intersection(*(u.ancestor_prints() for _, u in found))
        if common & reported:
            continue  # inside a larger unit already reported
        kinds = {u.kind for _, u in found}
        kind = EXPRESSION if EXPRESSION in kinds else QUERY_PART if QUERY_PART in kinds else MODEL
        members = tuple(sorted({_member(ws, m, u) for m, u in found},
                               key=lambda m: (m.product, m.model, m.location, m.column or "")))
        sources = tuple(sorted(frozenset().union(*(u.sources for _, u in found))))
        if min_similarity <= 1.0:
            findings.append(Finding(kind, 1.0, members, sources, suggestion(members, sources)))
    order = {MODEL: 0, QUERY_PART: 1, EXPRESSION: 2}
    return sorted(findings, key=lambda f: (order[f.kind], f.members[0].product,
                                           f.members[0].model, f.members[0].location))


def _distinct(found: list[tuple[CompiledModel, Unit]]) -> bool:
    """Written at least twice: in two models, or twice in one."""
    return len(found) > 1


def as_json(findings: list[Finding]) -> str:
    return json.dumps({"findings": [f.as_dict() for f in findings]}, indent=2)


def as_text(findings: list[Finding]) -> str:
    if not findings:
        return "No transformation is written more than once."
    lines = [f"{len(findings)} transformation(s) written more than once:"]
    for i, finding in enumerate(findings, 1):
        lines.append("")
        lines.append(f"{i}. {finding.kind}, similarity {finding.similarity:.2f}")
        for member in finding.members:
            where = (f" column {member.column}" if member.column
                     else f" ({member.part})" if member.part else " (whole model)")
            lines.append(f"   - {member.product}.{member.model}{where}  {member.location}")
        if finding.sources:
            lines.append(f"   sources: {', '.join(finding.sources)}")
        lines.append(f"   suggestion: {finding.suggestion}")
    return "\n".join(lines)
