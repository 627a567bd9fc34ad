"""Write the planned workspace: dpsql.yml, macros, package macros, data files, and one folder
per product with its product.yml, models and tests. Model SQL is copied as written; a model
whose materialization came from dbt_project.yml or a property file gets a config() line on
top that says it."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Any

import yaml

from dpsql.adopt.dbt_tests import contract_test
from dpsql.adopt.dbt_values import DbtModel
from dpsql.adopt.plan import Input, Plan, PlannedProduct
from dpsql.adopt.seeds import seed_column_types
from dpsql.adopt.testmap import (
    ProductTests,
    TestKey,
    known_tests,
    product_tests,
    unread_notes,
    without,
)
from dpsql.core.errors import DpsqlError, Location, error
from dpsql.core.project import Column

log = logging.getLogger("dpsql")

MATERIALIZATIONS = {"view": "view", "table": "table", "incremental": "incremental",
                    "ephemeral": "ephemeral"}


def check_destination(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DpsqlError(error("DP011", f"{dest} already exists and is not an empty folder",
                               Location(dest), "name a new folder for the workspace; the "
                               "import writes nothing over existing files"))


class _Dumper(yaml.SafeDumper):
    """Writes a value shared by two entries twice, never as a YAML anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                              width=100), encoding="utf-8")


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


Tables = Mapping[str, list[dict[str, str]]]  # a source table -> its columns, where known


def write_workspace(plan: Plan, dest: Path, tables: Tables) -> list[str]:
    """Every file but the contracts; returns notes on what was changed or left out."""
    project = plan.project
    notes: list[str] = []
    _dump(dest / "dpsql.yml", {"name": project.name, "warehouse": "warehouse.duckdb",
                               **({"vars": dict(project.vars)} if project.vars else {})})
    for path, rel in project.macro_files:
        _copy(path, dest / "macros" / rel)
    for path, rel in project.generic_test_files:  # `{% test %}` blocks of tests/generic/
        _copy(path, dest / "macros" / "dbt_tests" / rel)
    for namespace, files in project.packages.items():
        for path, rel in files:
            _copy(path, dest / "packages" / namespace / "macros" / rel)
    known = known_tests(plan)
    for planned in plan.products:
        folder = dest / planned.name
        ports = {p.model for p in planned.ports}
        for name in planned.proposal.models:
            model = project.model(name)
            assert model is not None
            target = folder / "models" / Path(model.rel).with_name(f"{model.name}.sql")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_model_text(model, name in ports, notes), encoding="utf-8")
        tests = product_tests(plan, planned, known)
        notes.extend(tests.notes)
        for test in tests.singular:
            _write(folder / "tests" / test.file_name, test.sql)
        for spec in planned.inputs:
            if spec.file is not None:
                _copy(spec.file, dest / data_path(spec))
        write_product(plan, planned, dest, {}, tables, tests)
    notes.extend(unread_notes(plan))
    notes.extend(_place_singular_tests(plan, dest))
    return notes


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def data_path(spec: Input) -> str:
    assert spec.file is not None
    return f"data/{spec.file.name}" if spec.seed else f"data/{spec.name}/{spec.file.name}"


def _model_text(model: DbtModel, is_port: bool, notes: list[str]) -> str:
    if is_port and model.materialized == "ephemeral":
        notes.append(f"model `{model.name}` is ephemeral in dbt, but it is a port here: it is "
                     "built as a view")
        return model.text.rstrip("\n") + "\n{{ config(materialized='view') }}\n"
    if model.config_in_file:
        return model.text
    materialized = MATERIALIZATIONS.get(model.materialized)
    if materialized is None:
        notes.append(f"model `{model.name}` is materialized `{model.materialized}` in dbt; "
                     "it is built as a table")
        materialized = "table"
    options = [f"materialized='{materialized}'"]
    if model.tags:
        options.append(f"tags={list(model.tags)!r}")
    return "{{ config(" + ", ".join(options) + ") }}\n" + model.text


def write_product(plan: Plan, planned: PlannedProduct, dest: Path,
                  columns: Mapping[str, tuple[Column, ...]], tables: Tables,
                  tests: ProductTests | None = None, drop: Set[TestKey] = frozenset()) -> None:
    """product.yml; a port whose model's columns are known gets its contract; the tests in
    `drop` (they do not compile) are left out."""
    if tests is None:
        tests = product_tests(plan, planned, known_tests(plan))
    tests = without(planned.name, tests, drop)
    proposal = planned.proposal
    data: dict[str, Any] = {"name": proposal.name, "domain": proposal.domain}
    if proposal.owner:
        data["owner"] = proposal.owner
    data["description"] = (f"Imported from dbt project `{plan.project.name}`: "
                           + ", ".join(proposal.models) + ".")
    data["version"] = "1.0.0"
    inputs = [_input_yaml(spec, tables, tests.inputs.get(spec.name)) for spec in planned.inputs]
    if inputs:
        data["inputs"] = inputs
    data["outputs"] = [_port_yaml(plan, port.model, columns.get(port.model))
                       for port in planned.ports]
    if tests.models:
        data["models"] = list(tests.models)
    _dump(dest / proposal.name / "product.yml", data)


def _input_yaml(spec: Input, tables: Tables, tests: Mapping[str, Any] | None
                ) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name}
    if spec.kind == "file":
        out["file"] = f"../{data_path(spec)}"
        if spec.seed:
            assert spec.file is not None
            out["column_types"] = seed_column_types(spec.file, spec.column_types)
    elif spec.kind == "table":
        out["table"] = spec.table
        if spec.table and spec.table in tables:
            out["columns"] = tables[spec.table]
    else:
        out.update(product=spec.product, port=spec.name, version="^1")
    if spec.description:
        out["description"] = spec.description
    if tests:
        _with_tests(out, tests)
    return out


def _with_tests(out: dict[str, Any], tests: Mapping[str, Any]) -> None:
    """An input's tests (whole and by column), its known columns keeping their types."""
    if tests["tests"]:
        out["tests"] = tests["tests"]
    columns = [dict(c) for c in out.get("columns") or ()]
    for name, found in tests["columns"].items():
        column = next((c for c in columns if c["name"].lower() == name.lower()), None)
        if column is None:
            column = {"name": name}
            columns.append(column)
        column["tests"] = found
    if columns:
        out["columns"] = columns


def _port_yaml(plan: Plan, name: str, columns: tuple[Column, ...] | None) -> dict[str, Any]:
    model = plan.project.model(name)
    assert model is not None
    out: dict[str, Any] = {"name": name}
    if model.description:
        out["description"] = model.description
    if columns is None:
        return out
    declared = {c.name.lower(): c for c in model.columns}
    contract = []
    for column in columns:
        entry: dict[str, Any] = {"name": column.name, "type": column.type.lower()}
        dbt = declared.get(column.name.lower())
        if dbt is not None and dbt.description:
            entry["description"] = dbt.description
        tests = [t for t in (contract_test(raw) for raw in (dbt.tests if dbt else ())) if t]
        if tests:
            entry["tests"] = tests
        contract.append(entry)
    out["columns"] = contract
    return out


def _place_singular_tests(plan: Plan, dest: Path) -> list[str]:
    """Each singular test goes to the first product that can read everything it refs."""
    notes = []
    for path, rel, refs in plan.project.singular_tests:
        home = next((p for p in plan.products if set(refs) <= {
            *p.proposal.models, *(i.name for i in p.inputs)}), None)
        if home is None or not refs:
            notes.append(f"singular test {rel} is not carried over: no product reads all of "
                         f"{', '.join(refs) or 'its relations'}")
            continue
        _copy(path, dest / home.name / "tests" / Path(rel).name)
    return notes
