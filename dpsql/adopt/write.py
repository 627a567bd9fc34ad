"""Write the planned workspace: dpsql.yml, macros, package macros, data files, and one folder
per product with its product.yml, models and tests. Model SQL is copied as written; a model
whose materialization came from dbt_project.yml or a property file gets a config() line on
top that says it."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dpsql.adopt.dbt_tests import contract_test, singular_test
from dpsql.adopt.dbt_values import DbtModel
from dpsql.adopt.plan import Input, Plan, PlannedProduct
from dpsql.adopt.seeds import seed_column_types
from dpsql.core.errors import DpsqlError, Location, error
from dpsql.core.project import Column

log = logging.getLogger("dpsql")

MATERIALIZATIONS = {"view": "view", "table": "table", "incremental": "incremental",
                    "ephemeral": "ephemeral"}
_PARENT = re.compile(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)")


def check_destination(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DpsqlError(error("DP011", f"{dest} already exists and is not an empty folder",
                               Location(dest), "name a new folder for the workspace; the "
                               "import writes nothing over existing files"))


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100),
                    encoding="utf-8")


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
        _copy_macros(path, dest / "macros" / rel, notes)
    for namespace, files in project.packages.items():
        for path, rel in files:
            _copy_macros(path, dest / "packages" / namespace / "macros" / rel, notes)
    for planned in plan.products:
        folder = dest / planned.name
        ports = {p.model for p in planned.ports}
        for name in planned.proposal.models:
            model = project.model(name)
            assert model is not None
            target = folder / "models" / Path(model.rel).with_name(f"{model.name}.sql")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_model_text(model, name in ports, notes), encoding="utf-8")
        notes.extend(_write_tests(plan, planned, folder))
        for spec in planned.inputs:
            if spec.file is not None:
                _copy(spec.file, dest / data_path(spec))
        write_product(plan, planned, dest, {}, tables)
    notes.extend(_place_singular_tests(plan, dest))
    return notes


_TEST_BLOCK = re.compile(r"{%-?\s*test\s+(\w+).*?{%-?\s*endtest\s*-?%}", re.S)


def _copy_macros(source: Path, target: Path, notes: list[str]) -> None:
    """A macro file, without its generic `{% test %}` blocks (not carried over)."""
    text = source.read_text(encoding="utf-8")
    kept = _TEST_BLOCK.sub("", text)
    if kept != text:
        names = ", ".join(f"`{n}`" for n in _TEST_BLOCK.findall(text))
        notes.append(f"generic test {names} of {source.name} is not carried over")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(kept, encoding="utf-8")


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
                  columns: Mapping[str, tuple[Column, ...]], tables: Tables) -> None:
    """product.yml; a port whose model's columns are known gets its contract."""
    proposal = planned.proposal
    data: dict[str, Any] = {"name": proposal.name, "domain": proposal.domain}
    if proposal.owner:
        data["owner"] = proposal.owner
    data["description"] = (f"Imported from dbt project `{plan.project.name}`: "
                           + ", ".join(proposal.models) + ".")
    data["version"] = "1.0.0"
    inputs = [_input_yaml(spec, tables) for spec in planned.inputs]
    if inputs:
        data["inputs"] = inputs
    data["outputs"] = [_port_yaml(plan, port.model, columns.get(port.model))
                       for port in planned.ports]
    _dump(dest / proposal.name / "product.yml", data)


def _input_yaml(spec: Input, tables: Tables) -> dict[str, Any]:
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
    return out


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


def _write_tests(plan: Plan, planned: PlannedProduct, folder: Path) -> list[str]:
    """Singular tests for column tests a contract does not hold; notes for those left out."""
    notes = []
    ports = {p.model for p in planned.ports}
    readable = {*planned.proposal.models, *(i.name for i in planned.inputs)}
    for name in planned.proposal.models:
        model = plan.project.model(name)
        assert model is not None
        for column in model.columns:
            for raw in column.tests:
                if name in ports and contract_test(raw) is not None:
                    continue
                parent = _parent(raw)
                test = singular_test(name, column.name, raw,
                                     parent if parent in readable else None)
                if test is None:
                    notes.append(f"test {_shown(raw)} on `{name}.{column.name}` is not carried "
                                 "over")
                    continue
                path = folder / "tests" / test.file_name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(test.sql, encoding="utf-8")
    return notes


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


def _parent(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("relationships"), dict):
        args = raw["relationships"]
        target = (args.get("arguments") or {}).get("to") or args.get("to")
        found = _PARENT.search(str(target or ""))
        return found.group(1) if found else None
    return None


def _shown(raw: Any) -> str:
    return f"`{raw}`" if isinstance(raw, str) else f"`{next(iter(raw), raw)}`" \
        if isinstance(raw, dict) else "`?`"
