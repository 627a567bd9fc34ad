"""dbt's data tests placed in product.yml, where dpsql runs them natively:

- on a port's column, the plain `not_null`, `unique` and `accepted_values` join its contract;
- every other test on a model (internal or a port's, on a column or the whole model) goes
  under `models:`, with its config (`severity`, `where`, `enabled`);
- the tests on a seed or source go on the input that reads it, in its home product;
- a relationships test points at a model of the product, one of its inputs, or another
  product's port (`product.port`: plan.py makes that model a port);
- custom generic tests (`{% test %}` blocks, copied with the macros) are used by their name,
  without the package namespace.

What cannot be carried is a note in IMPORT.md."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dpsql.adopt.checks import Holder
from dpsql.adopt.dbt_read import relation_named
from dpsql.adopt.dbt_tests import (
    BUILTIN,
    DbtTest,
    SingularTest,
    contract_test,
    entry,
    expression_test,
    plain_column,
    read_test,
)
from dpsql.adopt.dbt_values import DbtColumn
from dpsql.adopt.plan import Plan, PlannedProduct

_TEST_NAME = re.compile(r"{%-?\s*test\s+(\w+)\s*\(")


def generic_test_names(files: Iterable[Path]) -> set[str]:
    """The names of the `{% test name(...) %}` blocks in these files."""
    return {n for path in files for n in _TEST_NAME.findall(path.read_text(encoding="utf-8"))}


@dataclass(frozen=True)
class ProductTests:
    models: tuple[dict[str, Any], ...] = ()  # `models:` entries of product.yml
    # input name -> {"tests": [...], "columns": {column: [...]}}
    inputs: Mapping[str, dict[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    singular: tuple[SingularTest, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Collect:
    plan: Plan
    planned: PlannedProduct
    known: set[str]
    notes: list[str] = field(default_factory=list)
    singular: list[SingularTest] = field(default_factory=list)

    def convert(self, raw: Any, label: str, skip: tuple[str, ...] = ()) -> Any | None:
        """The test as a product.yml entry, or None (with a note) when it cannot be."""
        test = read_test(raw)
        if test is None:
            self.notes.append(f"test `{raw!r}` on `{label}` is not written as dbt reads a test; "
                              "it is left out")
            return None
        if test.kind not in BUILTIN and test.kind not in self.known:
            self.notes.append(f"test `{test.shown}` on `{label}` is not carried over: no "
                              f"`{{% test {test.kind} %}}` block in the project or its "
                              "installed packages")
            return None
        templated = [k for k, v in test.config.items() if isinstance(v, str) and "{" in v]
        if templated:
            self.notes.append(f"test `{test.shown}` on `{label}` is not carried over: its "
                              f"`{templated[0]}` is a Jinja template (`{test.config[templated[0]]}`"
                              "); dpsql's test config is plain SQL and words")
            return None
        to = None
        if test.kind == "relationships":
            to = self.relationship_to(test)
            if to is None:
                self.notes.append(f"relationships test on `{label}` is not carried over: "
                                  f"`{test.args.get('to')}` is not something product "
                                  f"`{self.planned.name}` can read")
                return None
        if test.dropped:
            self.notes.append(f"config {', '.join(f'`{k}`' for k in test.dropped)} of test "
                              f"`{test.shown}` on `{label}` is not carried over")
        return entry(test, to, skip)

    def whole(self, name: str, tests: Iterable[Any], columns: dict[str, list[Any]]
              ) -> list[Any]:
        """The tests on the whole of `name` (a model or input); those that name a column
        (`column_name: status`) go to `columns`, those on an expression become singular."""
        whole: list[Any] = []
        for index, raw in enumerate(tests):
            test = read_test(raw)
            named = plain_column(test) if test is not None else None
            if named is not None:
                converted = self.convert(raw, f"{name}.{named}", skip=("column_name",))
                if converted is not None:
                    columns.setdefault(named, []).append(converted)
            elif test is not None and "column_name" in test.args:
                single = expression_test(name, test, index + 1)
                if single is None:
                    self.notes.append(f"test `{test.shown}` on `{name}` over "
                                      f"`{test.args['column_name']}` is not carried over")
                else:
                    self.singular.append(single)
            else:
                converted = self.convert(raw, name)
                if converted is not None:
                    whole.append(converted)
        return whole

    def relationship_to(self, test: DbtTest) -> str | None:
        to = test.args.get("to")
        project = self.plan.project
        found = relation_named(to, {m.name for m in project.models}) if isinstance(to, str) \
            else None
        if found is None:
            return None
        kind, node = found
        planned = self.planned
        if kind == "source":
            source, _, table = node.partition(".")
            return planned.source_inputs.get((source, table))
        if node in planned.proposal.models or node in {i.name for i in planned.inputs}:
            return node
        if project.model(node) is not None:
            other = self.plan.product_of(node)
            if node in {p.model for p in other.ports}:
                return f"{other.name}.{node}"
        return None


def product_tests(plan: Plan, planned: PlannedProduct, known: set[str]) -> ProductTests:
    """The tests of `planned`'s models and of the seeds and sources it is the home of."""
    collect = _Collect(plan, planned, known)
    ports = {p.model for p in planned.ports}
    models = []
    for name in planned.proposal.models:
        found = _model_entry(collect, name, name in ports)
        if found is not None:
            models.append(found)
    inputs: dict[str, dict[str, Any]] = {}
    sources = {f"{s}.{t}": name for (s, t), name in planned.source_inputs.items()}
    for holder, home in plan.homes.items():
        if home != planned.name:
            continue
        name = holder[1] if holder[0] == "seed" else sources[holder[1]]
        found_input = _input_entry(collect, holder, name)
        if found_input is not None:
            inputs[name] = found_input
    return ProductTests(tuple(models), MappingProxyType(inputs), tuple(collect.singular),
                        tuple(collect.notes))


def _model_entry(collect: _Collect, name: str, is_port: bool) -> dict[str, Any] | None:
    model = collect.plan.project.model(name)
    assert model is not None
    columns: dict[str, list[Any]] = {c.name: [] for c in model.columns}
    whole = collect.whole(name, model.tests, columns)
    for column in model.columns:
        for raw in column.tests:
            if is_port and contract_test(raw) is not None:
                continue  # in the port's contract
            converted = collect.convert(raw, f"{name}.{column.name}")
            if converted is not None:
                columns[column.name].append(converted)
    described = {c.name: c.description for c in model.columns} if not is_port else {}
    return _entry_yaml(name, "" if is_port else model.description, whole, columns, described)


def _entry_yaml(name: str, description: str, whole: list[Any], columns: dict[str, list[Any]],
                described: Mapping[str, str]) -> dict[str, Any] | None:
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    if whole:
        out["tests"] = whole
    listed = []
    for column, tests in columns.items():
        item: dict[str, Any] = {"name": column}
        if described.get(column):
            item["description"] = described[column]
        if tests:
            item["tests"] = tests
        if len(item) > 1:
            listed.append(item)
    if listed:
        out["columns"] = listed
    return out if len(out) > 1 else None


def _input_entry(collect: _Collect, holder: Holder, name: str) -> dict[str, Any] | None:
    project = collect.plan.project
    resource: tuple[tuple[Any, ...], tuple[DbtColumn, ...]] | None = None
    if holder[0] == "seed":
        seed = project.seed(holder[1])
        resource = (seed.tests, seed.columns) if seed is not None else None
    else:
        source = next((s for s in project.sources if f"{s.source}.{s.table}" == holder[1]),
                      None)
        resource = (source.tests, source.columns) if source is not None else None
    if resource is None:
        return None
    tests, columns = resource
    by_column: dict[str, list[Any]] = {c.name: [] for c in columns}
    whole = collect.whole(name, tests, by_column)
    for column in columns:
        by_column[column.name].extend(t for t in (collect.convert(raw, f"{name}.{column.name}")
                                                  for raw in column.tests) if t is not None)
    by_column = {c: t for c, t in by_column.items() if t}
    if not whole and not by_column:
        return None
    return {"tests": whole, "columns": by_column}


def known_tests(plan: Plan) -> set[str]:
    """The custom generic tests the workspace will have: the `{% test %}` blocks of the
    project's macros, its test folders and its local packages."""
    project = plan.project
    files = [*project.macro_files, *project.generic_test_files,
             *(f for files in project.packages.values() for f in files)]
    return generic_test_names(path for path, _ in files)


def unread_notes(plan: Plan) -> list[str]:
    """Notes for the tests of seeds and sources no product reads."""
    notes = []
    project = plan.project
    for kind, name, tests, columns in (
            *(("seed", s.name, s.tests, s.columns) for s in project.seeds),
            *(("source", f"{s.source}.{s.table}", s.tests, s.columns) for s in project.sources)):
        count = len(tests) + sum(len(c.tests) for c in columns)
        if count and (kind, name) not in plan.homes:
            notes.append(f"{count} test{'s' if count != 1 else ''} on {kind} `{name}` "
                         f"{'are' if count != 1 else 'is'} not carried over: no model reads it")
    return notes


def test_counts(plan: Plan, planned: PlannedProduct, tests: ProductTests) -> dict[str, int]:
    """How many tests the product carries in port contracts, under `models:`, on inputs."""
    def enabled(tests: Iterable[Any]) -> int:
        return sum(1 for t in tests if not (isinstance(t, dict) and ((next(iter(
            t.values())) or {}).get("config") or {}).get("enabled") is False))

    def listed(entries: Iterable[Mapping[str, Any]]) -> int:
        return sum(enabled(e.get("tests") or ()) + sum(enabled(c.get("tests") or ())
                                                       for c in e.get("columns") or ())
                   for e in entries)

    contract = 0
    for port in planned.ports:
        model = plan.project.model(port.model)
        assert model is not None
        contract += sum(1 for c in model.columns for raw in c.tests
                        if contract_test(raw) is not None)
    inputs = sum(enabled(i["tests"]) + sum(enabled(t) for t in i["columns"].values())
                 for i in tests.inputs.values())
    return {"contract": contract, "models": listed(tests.models), "inputs": inputs}


# a test written in product.yml: product, model or input, column (None: the whole), kind,
# its arguments as JSON
TestKey = tuple[str, str, str | None, str, str]


def test_key(product: str, target: str, column: str | None, kind: str,
             args: Mapping[str, Any]) -> TestKey:
    return product, target, column, kind, json.dumps(dict(args), sort_keys=True, default=str)


def _written_key(product: str, target: str, column: str | None, raw: Any) -> TestKey | None:
    """The key of a product.yml test entry; None for a disabled one (never compiled)."""
    if isinstance(raw, str):
        return test_key(product, target, column, raw, {})
    ((kind, args),) = raw.items()
    args = dict(args or {})
    if (args.pop("config", None) or {}).get("enabled") is False:
        return None
    return test_key(product, target, column, str(kind), args)


def written_tests(product: str, tests: ProductTests) -> list[TestKey]:
    """Every enabled test under `models:` and on inputs."""
    keys: list[TestKey | None] = []
    for item in tests.models:
        keys += [_written_key(product, item["name"], None, raw) for raw in item.get("tests", ())]
        keys += [_written_key(product, item["name"], c["name"], raw)
                 for c in item.get("columns", ()) for raw in c.get("tests", ())]
    for name, found in tests.inputs.items():
        keys += [_written_key(product, name, None, raw) for raw in found["tests"]]
        keys += [_written_key(product, name, column, raw)
                 for column, listed in found["columns"].items() for raw in listed]
    return [k for k in keys if k is not None]


def without(product: str, tests: ProductTests, drop: Set[TestKey]) -> ProductTests:
    """`tests` less those in `drop` (they do not compile in dpsql)."""
    if not drop:
        return tests

    def kept(target: str, column: str | None, listed: Iterable[Any]) -> list[Any]:
        return [raw for raw in listed if _written_key(product, target, column, raw) not in drop]

    models = []
    for item in tests.models:
        name = item["name"]
        columns = [{k: v for k, v in {**c, "tests": kept(name, c["name"], c.get("tests", ()))
                                      }.items() if v} for c in item.get("columns", ())]
        found = {**item, "tests": kept(name, None, item.get("tests", ())),
                 "columns": [c for c in columns if len(c) > 1]}
        models.append({k: v for k, v in found.items() if v})
    inputs = {name: {"tests": kept(name, None, found["tests"]),
                     "columns": {c: kept(name, c, listed)
                                 for c, listed in found["columns"].items()}}
              for name, found in tests.inputs.items()}
    return replace(tests, models=tuple(m for m in models if len(m) > 1),
                   inputs=MappingProxyType(inputs))
