"""Every data test of a dbt project with what it is declared on, and where a relationships
test points: the importer places each test in the product that holds what it tests, and
makes a model another product's relationships test points at a port of its product."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dpsql.adopt.dbt_read import relation_named
from dpsql.adopt.dbt_tests import read_test
from dpsql.adopt.dbt_values import DbtColumn, DbtProject

# what a test is declared on: ("model", name), ("seed", name) or ("source", "source.table")
Holder = tuple[str, str]


def all_tests(project: DbtProject) -> Iterator[tuple[Holder, str | None, Any]]:
    """(holder, column or None for a test on the whole resource, the test as written)."""
    resources: list[tuple[Holder, tuple[Any, ...], tuple[DbtColumn, ...]]] = [
        *((("model", m.name), m.tests, m.columns) for m in project.models),
        *((("seed", s.name), s.tests, s.columns) for s in project.seeds),
        *((("source", f"{s.source}.{s.table}"), s.tests, s.columns) for s in project.sources)]
    for holder, tests, columns in resources:
        for raw in tests:
            yield holder, None, raw
        for column in columns:
            for raw in column.tests:
                yield holder, column.name, raw


def relationship_parent(project: DbtProject, raw: Any) -> tuple[str, str] | None:
    """What a relationships test's `to` names: ("ref", model or seed) or ("source", "s.t")."""
    test = read_test(raw)
    if test is None or test.kind != "relationships" or test.namespace:
        return None
    to = test.args.get("to")
    return relation_named(to, {m.name for m in project.models}) if isinstance(to, str) else None
