"""Spark, through PySpark: a build (sparkbuild.py, sparkwap.py), the data tests and a query
(sparkread.py), and the registry (spark.py). PySpark is loaded only when Spark is started."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dpsql.build.engine import BuildOptions, Reporter
from dpsql.build.engines.base import OnResult
from dpsql.build.engines.duckdb import Catalog
from dpsql.build.plan import Plan
from dpsql.build.readonly import Rows
from dpsql.build.results import RunResult, TestRun
from dpsql.build.state import Stored
from dpsql.compile.typing.sparktypes import to_spark
from dpsql.core.project import Column, CompiledProject, DataTest
from dpsql.core.relations import Relation
from dpsql.core.specs import Target, WorkspaceConfig


@dataclass(frozen=True)
class SparkEngine:
    config: WorkspaceConfig
    name: str = "spark"

    @property
    def target(self) -> Target:
        assert self.config.target is not None  # a Spark engine is made for a Spark target
        return self.config.target

    def build(self, compiled: CompiledProject, plan: Plan, options: BuildOptions,
              reporter: Reporter | None = None) -> RunResult:
        from dpsql.build.engines import sparkbuild

        return sparkbuild.run(compiled, plan, options.full_refresh, reporter)

    def run_tests(self, compiled: CompiledProject, tests: Sequence[DataTest], threads: int = 1,
                  on_result: OnResult | None = None, *, fail_fast: bool = False) -> TestRun:
        from dpsql.build.engines import sparkread

        # Spark runs each query on all its cores: the tests run one after the other
        return sparkread.run_tests(compiled, tests, on_result, fail_fast=fail_fast)

    def run_query(self, sql: str, limit: int) -> Rows:
        from dpsql.build.engines import sparkread

        return sparkread.run_query(self.target, sql, limit)

    def catalog(self) -> Catalog:
        from dpsql.build.engines.spark import Warehouse

        return Warehouse.open(self.target).catalog()

    def columns(self, relations: Iterable[Relation]) -> dict[Relation, tuple[Column, ...]]:
        from dpsql.build.engines.spark import Warehouse

        return Warehouse.open(self.target).columns(relations)

    def stored(self) -> dict[str, Stored]:
        from dpsql.build.engines.spark import Warehouse

        return Warehouse.open(self.target).stored()

    def type_name(self, duckdb_type: str) -> str:
        return to_spark(duckdb_type)
