"""What the commands run, on the chosen target's engine (engines/registry.py): a build, the
data tests, a query."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dpsql.build.engine import BuildOptions, Reporter
from dpsql.build.engines.registry import engine_for
from dpsql.build.plan import Plan
from dpsql.build.readonly import Rows
from dpsql.build.results import CheckResult, RunResult, TestRun
from dpsql.core.project import CompiledProject, DataTest
from dpsql.core.specs import WorkspaceConfig


def build(compiled: CompiledProject, plan: Plan, options: BuildOptions,
          reporter: Reporter | None = None) -> RunResult:
    return engine_for(compiled.project.config).build(compiled, plan, options, reporter)


def run_tests(compiled: CompiledProject, tests: Sequence[DataTest], threads: int = 1,
              on_result: Callable[[CheckResult], None] | None = None, *,
              fail_fast: bool = False) -> TestRun:
    return engine_for(compiled.project.config).run_tests(compiled, tests, threads, on_result,
                                                         fail_fast=fail_fast)


def run_query(config: WorkspaceConfig, sql: str, limit: int) -> Rows:
    return engine_for(config).run_query(sql, limit)
