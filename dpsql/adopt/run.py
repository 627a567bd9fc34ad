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
from dpsql.adopt.testmap import TestKey, known_tests, product_tests, test_key, written_tests
from dpsql.adopt.write import check_destination, write_product, write_workspace
from dpsql.compile.pipeline import compile_project
from dpsql.core.errors import Diagnostic, DpsqlError, Location, error
from dpsql.core.project import Column, CompiledProject, model_id
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
    columns, problems, compiled = _port_columns(plan, dest)
    drop = _failing_tests(plan, compiled)
    if drop:  # take them out, and compile again for what else there is to fix
        for planned in plan.products:
            write_product(plan, planned, dest, {}, tables, drop=drop)
        first = problems
        columns, problems, _ = _port_columns(plan, dest)
        notes += _drop_notes(drop, [p for p in first if p not in problems], dest)
    for planned in plan.products:
        write_product(plan, planned, dest, columns, tables, drop=drop)
    report = import_report(plan, notes, problems, src, dest, drop)
    (dest / "IMPORT.md").write_text(report, encoding="utf-8")
    return ImportResult(plan, dest, tuple(notes), tuple(problems), report)


def _port_columns(plan: Plan, dest: Path) -> tuple[
        Mapping[str, tuple[Column, ...]], list[Diagnostic], CompiledProject | None]:
    """The columns and types of every port's model, from a compile of the written workspace,
    its errors, and what was compiled."""
    try:
        compiled = compile_project(load_project(dest))
    except DpsqlError as exc:
        return {}, [d for d in exc.diagnostics if d.is_error], None
    columns: dict[str, tuple[Column, ...]] = {}
    for planned in plan.products:
        for port in planned.ports:
            model = compiled.models.get(model_id(planned.name, port.model))
            if model is not None and model.columns is not None:
                columns[port.model] = model.columns
    return columns, list(compiled.errors), compiled


def _failing_tests(plan: Plan, compiled: CompiledProject | None) -> set[TestKey]:
    """The tests written under `models:` and on inputs that did not compile (a package's
    test that needs what dpsql's Jinja lacks), on models that did."""
    if compiled is None:
        return set()
    have = {test_key(t.product, t.input or (t.model or "").partition(".")[2], t.column, t.kind,
                     t.kwargs) for t in compiled.tests}
    known = known_tests(plan)
    inputs = {(p.name, i.name) for p in plan.products for i in p.inputs}
    failing = set()
    for planned in plan.products:
        for key in written_tests(planned.name, product_tests(plan, planned, known)):
            readable = (key[0], key[1]) in inputs or model_id(key[0], key[1]) in compiled.models
            if readable and key not in have:
                failing.add(key)
    return failing


def _drop_notes(drop: set[TestKey], reasons: list[Diagnostic], dest: Path) -> list[str]:
    shown = ", ".join(f"`{kind}` on `{target}{'.' + column if column else ''}` ({product})"
                      for product, target, column, kind, _ in sorted(drop, key=repr))
    why = "; ".join(dict.fromkeys(
        f"{p.location.render(dest) + ': ' if p.location else ''}{p.code}: {p.message}"
        for p in reasons))
    return [f"{len(drop)} test{'s' if len(drop) != 1 else ''} did not compile in dpsql and "
            f"{'are' if len(drop) != 1 else 'is'} left out of product.yml: {shown}"
            + (f". The errors: {why}" if why else "")]
