"""Column lineage as values: columns, subtypes and one model's lineage (no tracing here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from dpsql.core.relations import Relation

# subtypes, by their OpenLineage type
IDENTITY, TRANSFORMATION, AGGREGATION = "IDENTITY", "TRANSFORMATION", "AGGREGATION"
JOIN, FILTER, GROUP_BY, SORT, WINDOW, CONDITIONAL = (
    "JOIN", "FILTER", "GROUP_BY", "SORT", "WINDOW", "CONDITIONAL")
DIRECT_SUBTYPES = (IDENTITY, TRANSFORMATION, AGGREGATION)  # weakest first
INDIRECT_SUBTYPES = (JOIN, FILTER, GROUP_BY, SORT, WINDOW, CONDITIONAL)
DIRECT_RANK = {s: i for i, s in enumerate(DIRECT_SUBTYPES)}


def kind_of(subtype: str) -> str:
    """`DIRECT` or `INDIRECT`: OpenLineage's transformation type of a subtype."""
    return "DIRECT" if subtype in DIRECT_RANK else "INDIRECT"


def is_direct(subtype: str) -> bool:
    return subtype in DIRECT_RANK


def compose(outer: str, inner: str) -> str:
    """The subtype of an input reached through two nested steps."""
    if outer in DIRECT_RANK:
        if inner in DIRECT_RANK:
            return outer if DIRECT_RANK[outer] >= DIRECT_RANK[inner] else inner
        return inner
    return outer


ROWS = "*"  # the column name of a relation's rows node


class Col(NamedTuple):
    """A column of a relation in the warehouse: `schema.name.column`; the column `*` stands for
    the relation's rows (which rows exist), not for a value."""

    schema: str
    name: str
    column: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}.{self.column}"

    @property
    def is_rows(self) -> bool:
        return self.column == ROWS


def rows_of(schema: str, name: str) -> Col:
    """The rows node of a relation."""
    return Col(schema, name, ROWS)


Frozen = Mapping[Col, frozenset[str]]


@dataclass(frozen=True)
class ModelLineage:
    """The column lineage of one model: what each output column is computed from."""

    model: str  # the model's id, `product.model`
    relation: Relation  # where the model's output lives
    fields: Mapping[str, Frozen]  # output column -> input column -> subtypes (DIRECT or per column)
    dataset: Frozen  # input columns that shape the rows (filters, joins, grouping, sorting)
    problems: tuple[str, ...] = ()  # why some of the lineage is missing, if it is
    # output column -> what decides the rows its values sit in: the row-deciding input columns
    # that reach this column (not the join keys of an outer join's other side, for a column of
    # the preserved side) and the rows nodes (`Col(..., "*")`) of the relations it reads
    row_fields: Mapping[str, Frozen] = field(default_factory=lambda: MappingProxyType({}))
    rows: Frozen = field(default_factory=lambda: MappingProxyType({}))  # what decides which rows exist

    @property
    def complete(self) -> bool:
        return not self.problems

    def inputs(self) -> set[tuple[str, str]]:
        """The relations read, as (schema, name)."""
        found = {(c.schema, c.name) for cols in self.fields.values() for c in cols}
        found.update((c.schema, c.name) for c in self.dataset)
        found.update((c.schema, c.name) for c in self.rows)
        return found
