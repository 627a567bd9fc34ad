"""`dpsql import dbt SRC DEST`: read the dbt project, split it into products, write the
workspace, type the ports by compiling it, and say what was proposed and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dpsql.adopt.dbt_read import read_dbt_project
from dpsql.adopt.plan import Plan, plan_products
from dpsql.adopt.profile import source_columns
from dpsql.adopt.report import import_report
from dpsql.adopt.split import split_project
from dpsql.adopt.write import check_destination, write_product, write_workspace
from dpsql.compile.pipeline import compile_project
from dpsql.core.errors import Diagnostic, DpsqlError, Location, error
from dpsql.core.project import Column, model_id
from dpsql.load.loader import load_project


@dataclass(frozen=True)
class ImportResult:
    plan: Plan
    dest: Path
    notes: tuple[str, ...]
    problems: tuple[Diagnostic, ...]  # errors of the compile that typed the ports
    report: str  # the text of IMPORT.md


def import_dbt(src: Path, dest: Path, split: str = "auto",
               domain_of: Sequence[tuple[str, str]] = ()) -> ImportResult:
    src, dest = src.resolve(), dest.resolve()
    project = read_dbt_project(src)
    if not project.models:
        raise DpsqlError(error("DP012", f"the dbt project in {src} has no models",
                               Location(src / "dbt_project.yml"),
                               "check `model-paths` in dbt_project.yml"))
    check_destination(dest)
    plan = plan_products(project, split_project(project, split, domain_of))
    tables = source_columns(src, {i.table for p in plan.products for i in p.inputs if i.table})
    notes = [*project.notes, *write_workspace(plan, dest, tables)]
    columns, problems = _port_columns(plan, dest)
    for planned in plan.products:
        write_product(plan, planned, dest, columns, tables)
    report = import_report(plan, notes, problems, src, dest)
    (dest / "IMPORT.md").write_text(report, encoding="utf-8")
    return ImportResult(plan, dest, tuple(notes), tuple(problems), report)


def _port_columns(plan: Plan, dest: Path
                  ) -> tuple[Mapping[str, tuple[Column, ...]], list[Diagnostic]]:
    """The columns and types of every port's model, from a compile of the written workspace."""
    try:
        compiled = compile_project(load_project(dest))
    except DpsqlError as exc:
        return {}, [d for d in exc.diagnostics if d.is_error]
    columns: dict[str, tuple[Column, ...]] = {}
    for planned in plan.products:
        for port in planned.ports:
            model = compiled.models.get(model_id(planned.name, port.model))
            if model is not None and model.columns is not None:
                columns[port.model] = model.columns
    return columns, list(compiled.errors)
