"""DuckDB, the default engine: a build (build/engine.py, build/materialize.py), the data tests
(build/testing.py) and a query (build/readonly.py) on the warehouse file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dpsql.build import engine, readonly, state, testing
from dpsql.build.engines.base import OnResult
from dpsql.build.engines.duckdb import Catalog, connect, read_catalog, read_columns
from dpsql.build.plan import Plan
from dpsql.build.results import RunResult, TestRun
from dpsql.core.project import Column, CompiledProject, DataTest
from dpsql.core.relations import Relation
from dpsql.core.specs import WorkspaceConfig


@dataclass(frozen=True)
class DuckDBEngine:
    config: WorkspaceConfig
    name: str = "duckdb"

    def build(self, compiled: CompiledProject, plan: Plan, options: engine.BuildOptions,
              reporter: engine.Reporter | None = None) -> RunResult:
        return engine.run(compiled, plan, options, reporter)

    def run_tests(self, compiled: CompiledProject, tests: Sequence[DataTest], threads: int = 1,
                  on_result: OnResult | None = None, *, fail_fast: bool = False) -> TestRun:
        return testing.run_tests(compiled, tests, threads, on_result, fail_fast=fail_fast)

    def run_query(self, sql: str, limit: int) -> readonly.Rows:
        return readonly.run_query(self.config.warehouse, sql, limit)

    def catalog(self) -> Catalog:
        con = connect(self.config.warehouse, read_only=True)
        try:
            return read_catalog(con)
        finally:
            con.close()

    def columns(self, relations: Iterable[Relation]) -> dict[Relation, tuple[Column, ...]]:
        con = connect(self.config.warehouse, read_only=True)
        try:
            return read_columns(con, relations)
        finally:
            con.close()

    def stored(self) -> dict[str, state.Stored]:
        con = connect(self.config.warehouse, read_only=True)
        try:
            if read_catalog(con).kind(state.TABLE) is None:
                return {}
            return state.read(con)
        finally:
            con.close()

    def type_name(self, duckdb_type: str) -> str:
        return duckdb_type
