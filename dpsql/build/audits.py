"""The audits a staged model passes before it is published, and which data tests each one runs.

An audit reads the staged version through the cursor it is given (see materialize.Staged):

- ContractAudit: a port's real column types against its contract (built_port_problem);
- DataTestAudit: the data tests attached to the model (attach_tests), run by testing.run_test.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import duckdb

from dpsql.build.engines.duckdb import Catalog
from dpsql.build.materialize import Audit, Staged
from dpsql.build.results import CheckResult
from dpsql.build.testing import run_test
from dpsql.compile.checks.contracts import Difference, differences
from dpsql.compile.ephemeral import reads_through
from dpsql.core.errors import error
from dpsql.core.project import Column, CompiledProject, DataTest, ModelId
from dpsql.core.specs import OutputSpec


class DataTestAudit:
    """Runs the data tests attached to a model on its staged version."""

    def __init__(self, tests: Mapping[ModelId, Sequence[DataTest]]):
        self.tests = tests

    def __call__(self, cursor: duckdb.DuckDBPyConnection, staged: Staged) -> list[CheckResult]:
        return [run_test(cursor, test) for test in self.tests.get(staged.model.id, ())]


class ContractAudit:
    """Compares a staged port's real column types with its contract (before the data tests)."""

    def __init__(self, compiled: CompiledProject):
        self.project = compiled.project

    def __call__(self, cursor: duckdb.DuckDBPyConnection, staged: Staged) -> list[CheckResult]:
        model = staged.model
        port = (self.project.by_name[model.product].spec.output(model.port)
                if model.port else None)
        if port is None or not port.columns:
            return []
        started = time.perf_counter()
        rows = cursor.execute(f"DESCRIBE {staged.relation.sql}").fetchall()
        problem = built_port_problem(port, model.product,
                                     [Column(str(r[0]), str(r[1])) for r in rows])
        if problem is None:
            return []
        hint = ("the warehouse changed since compile (a `table:` input?): run `dpsql check`, "
                "then fix the model or the contract")
        return [CheckResult("contract", "fail", message=problem,
                            seconds=time.perf_counter() - started,
                            diagnostic=error("DP411", problem, port.location, hint))]


def standard_audits(compiled: CompiledProject, tests: Mapping[ModelId, Sequence[DataTest]]
                    ) -> list[Audit]:
    """The audits every new version passes before it is published, in this order.

    The check of a port's materialized columns against its contract belongs first (a wrong
    shape makes the data tests meaningless), then the data tests. An audit reads the staged
    version through the cursor it is given (see materialize.Staged).
    """
    return [ContractAudit(compiled), DataTestAudit(tests)]


def built_port_problem(port: OutputSpec, product: str, built: Sequence[Column]) -> str | None:
    """What a built port's real columns break of its contract, or None when they match."""
    if not port.columns:
        return None
    diffs = differences(port.columns, list(built))
    if not diffs:
        return None
    return (f"port {product}.{port.name} does not match its contract, so it was not "
            "published (the previous version stays): " + "; ".join(map(_say, diffs)))


def _say(diff: Difference) -> str:
    spec, column = diff.expected, diff.actual
    if diff.kind == "missing" and spec:
        return f"column `{spec.name}` is missing"
    if diff.kind == "extra" and column:
        return f"column `{column.name}` ({column.type}) is not in the contract"
    if diff.kind == "renamed" and spec and column:
        return f"column {diff.position} is `{column.name}`, the contract says `{spec.name}`"
    if diff.kind == "reordered" and column:
        return f"column `{column.name}` is out of the contract's order"
    assert column is not None
    return f"column `{column.name}` is {column.type} in the built table, {diff.expected_type} in the contract"


def attach_tests(compiled: CompiledProject, rebuild: AbstractSet[str], catalog: Catalog
                 ) -> tuple[dict[ModelId, list[DataTest]], dict[ModelId, set[ModelId]]]:
    """Which rebuilt model runs each data test before it is published, and the waits that adds.

    A test runs with the last (in dependency order) of the models it reads that are rebuilt;
    that model then waits for the others, so the test sees all of them new. A test that also
    reads a relation which is neither rebuilt nor in the warehouse is left to `dpsql test`.
    """
    position = {mid: i for i, mid in enumerate(compiled.order)}
    attached: dict[ModelId, list[DataTest]] = {}
    waits: dict[ModelId, set[ModelId]] = {}

    def present(mid: str) -> bool:
        return mid in rebuild or catalog.kind(compiled.models[mid].relation) is not None

    for test in compiled.tests:
        models, _ = reads_through(compiled, test.depends_on, test.product, ())
        rebuilt = [ModelId(d) for d in models if d in rebuild]
        if not rebuilt or not all(present(d) for d in models):
            continue
        host = max(rebuilt, key=lambda m: position.get(m, -1))
        attached.setdefault(host, []).append(test)
        waits.setdefault(host, set()).update(d for d in rebuilt if d != host)
    return attached, waits
