"""What the commands run, on the chosen target's engine: a build, the data tests, a query.

DuckDB (engine.py, testing.py, readonly.py) is the default; a Spark target goes to
sparkbuild.py and sparkread.py, which load PySpark only when they are used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dpsql.build import engine, readonly, testing
from dpsql.build.plan import Plan
from dpsql.build.results import CheckResult, RunResult, TestRun
from dpsql.core.project import CompiledProject, DataTest
from dpsql.core.specs import WorkspaceConfig

SPARK = "spark"


def build(compiled: CompiledProject, plan: Plan, options: engine.BuildOptions,
          reporter: engine.Reporter | None = None) -> RunResult:
    if compiled.project.config.engine == SPARK:
        from dpsql.build import sparkbuild

        return sparkbuild.run(compiled, plan, options.full_refresh, reporter)
    return engine.run(compiled, plan, options, reporter)


def run_tests(compiled: CompiledProject, tests: Sequence[DataTest], threads: int = 1,
              on_result: Callable[[CheckResult], None] | None = None, *,
              fail_fast: bool = False) -> TestRun:
    if compiled.project.config.engine == SPARK:
        from dpsql.build import sparkread

        return sparkread.run_tests(compiled, tests, on_result, fail_fast=fail_fast)
    return testing.run_tests(compiled, tests, threads, on_result, fail_fast=fail_fast)


def run_query(config: WorkspaceConfig, sql: str, limit: int) -> readonly.Rows:
    if config.engine == SPARK and config.target is not None:
        from dpsql.build import sparkread

        return sparkread.run_query(config.target, sql, limit)
    return readonly.run_query(config.warehouse, sql, limit)
