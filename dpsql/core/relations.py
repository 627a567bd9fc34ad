"""Relations in the warehouse and how they are named and quoted."""

from __future__ import annotations

from dataclasses import dataclass

INTERNAL_SUFFIX = "_internal"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, order=True)
class Relation:
    """A relation in the warehouse: `schema.name`."""

    schema: str
    name: str

    @property
    def sql(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}"

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def identifier(self) -> str:
        return self.name


class RenderedRelation(Relation):
    """A relation as templates see it: prints as quoted SQL."""

    def __str__(self) -> str:
        return self.sql


def internal_schema(product: str) -> str:
    return product + INTERNAL_SUFFIX


def table_relation(text: str) -> Relation:
    parts = [p.strip('"') for p in text.split(".")]
    if len(parts) == 1:
        return Relation("main", parts[0])
    return Relation(parts[-2], parts[-1])
