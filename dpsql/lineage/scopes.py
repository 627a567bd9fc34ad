"""What one traced scope gives, and how the branches of a set operation combine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlglot import exp

from dpsql.core.lineage import DIRECT_RANK, FILTER, GROUP_BY, SORT, Col, Frozen, compose

Sources = dict[Col, set[str]]  # input column -> subtypes, while collecting


def freeze(sources: Sources) -> Frozen:
    return MappingProxyType({c: frozenset(s) for c, s in sources.items()})


def merge(into: Sources, sources: Mapping[Col, Iterable[str]], outer: str | None = None) -> None:
    for col, subtypes in sources.items():
        bucket = into.get(col)
        if bucket is None:
            bucket = into[col] = set()
        if outer is None:
            bucket.update(subtypes)
        else:
            for s in subtypes:
                bucket.add(compose(outer, s))


def push(ctx: str, step: str) -> str:
    """The context inside a nested step: indirect steps win; direct ones take the strongest."""
    if ctx not in DIRECT_RANK:
        return ctx
    return compose(ctx, step)


@dataclass
class ScopeResult:
    """What one scope produces: per output column (in order) its value sources and what decides
    the rows it sits in, the scope's row-level input columns (`rows`, OpenLineage's dataset
    list) and what decides which rows exist (`row_set`, with the rows nodes of what it reads)."""

    names: list[str]
    columns: list[Sources]
    rows: Sources = field(default_factory=dict)
    col_rows: list[Sources] = field(default_factory=list)
    row_set: Sources = field(default_factory=dict)
    by_name: dict[str, Sources] = field(default_factory=dict)
    rows_by_name: dict[str, Sources] = field(default_factory=dict)
    default: Sources | None = None  # for table functions: what any of their columns reads

    def __post_init__(self) -> None:
        if not self.col_rows:
            self.col_rows = [dict(self.row_set) for _ in self.names]
        for name, sources, rows in zip(self.names, self.columns, self.col_rows, strict=True):
            self.by_name.setdefault(name, sources)
            self.rows_by_name.setdefault(name, rows)

    def everything(self, index: int | None = None) -> Sources:
        """Sources of one output column (all if None) plus the row-level ones."""
        out: Sources = {}
        for i, sources in enumerate(self.columns):
            if index is None or i == index:
                merge(out, sources)
        merge(out, self.rows)
        return out

    def signature(self) -> tuple[object, ...]:
        return (self.names, self.columns, self.rows, self.col_rows, self.row_set)


@dataclass
class RowsSoFar:
    """What decides the rows of a select while it is traced."""

    base: Sources = field(default_factory=dict)  # every column's rows and the row set
    dataset: Sources = field(default_factory=dict)  # every row-level input column
    # (aliases, sources): what decides the rows of the columns read from those aliases only
    # (the other side of an outer join)
    sided: list[tuple[set[str], Sources]] = field(default_factory=list)

    def add(self, sources: Sources, subtype: str | None = None, *, everywhere: bool = True) -> None:
        merge(self.dataset, {c: s for c, s in sources.items() if not c.is_rows}, subtype)
        if everywhere:
            merge(self.base, sources, subtype)


def set_operation(node: exp.SetOperation, parts: list[ScopeResult], problems: list[str]
                  ) -> ScopeResult:
    """UNION [ALL] [BY NAME], EXCEPT and INTERSECT of traced branches: values from the branches
    that give them (EXCEPT, INTERSECT: the first), rows decided by every branch."""
    if not parts:
        return ScopeResult([], [])
    filtering = isinstance(node, exp.Except | exp.Intersect)
    values = parts[:1] if filtering else parts
    names = _set_names(node, parts)
    columns: list[Sources] = [{} for _ in names]
    col_rows: list[Sources] = [{} for _ in names]
    rows: Sources = {}
    row_set: Sources = {}
    for part in values:
        picks = _pick(node, names, part)
        if picks is None:
            problems.append("the branches of a UNION have different numbers of columns")
            picks = list(range(min(len(names), len(part.columns))))
        for i, j in enumerate(picks):
            if j is not None:
                merge(columns[i], part.columns[j])
                merge(col_rows[i], part.col_rows[j])
            else:  # UNION BY NAME: a branch without the column gives NULLs on its rows
                merge(col_rows[i], part.row_set)
        merge(rows, part.rows)
        merge(row_set, part.row_set)
    decide: Sources = {}  # what decides which rows of the first branch are kept
    for part in parts[1:] if filtering else ():  # EXCEPT, INTERSECT: the rest filter
        merge(decide, part.everything(), FILTER)
        merge(decide, part.row_set, FILTER)
    if node.args.get("distinct"):  # duplicates removed: every value decides the rows
        for sources in columns:
            merge(decide, sources, GROUP_BY)
    if node.args.get("order"):
        ordered: Sources = {}
        aliases = dict(zip(names, columns, strict=True))
        for col in node.args["order"].find_all(exp.Column):
            merge(ordered, aliases.get(col.name, {}), SORT)
        merge(rows, ordered)
        if node.args.get("limit") or node.args.get("offset"):
            merge(decide, ordered)
    merge(rows, {c: s for c, s in decide.items() if not c.is_rows})
    merge(row_set, decide)
    for sources in col_rows:
        merge(sources, decide)
    return ScopeResult(names, columns, rows, col_rows, row_set)



def _set_names(node: exp.SetOperation, parts: list[ScopeResult]) -> list[str]:
    if not node.args.get("by_name"):
        return list(parts[0].names)
    names: dict[str, None] = {}
    for part in parts:
        names.update(dict.fromkeys(part.names))
    return list(names)


def _pick(node: exp.SetOperation, names: list[str], part: ScopeResult) -> list[int | None] | None:
    """For each output column, the index of the branch's column that fills it (None: none)."""
    if node.args.get("by_name"):
        index = {n.lower(): i for i, n in enumerate(part.names)}
        return [index.get(n.lower()) for n in names]
    if len(part.columns) != len(names):
        return None
    return list(range(len(names)))


