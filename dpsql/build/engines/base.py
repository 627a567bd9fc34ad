"""The interface every engine gives: what a build, the data tests and a query need of the
database a target builds into.

An engine is made for one workspace's configuration (`registry.engine_for`), and knows its
target from it. The rest of `build/` (selection, preflight, what to rebuild, fingerprints,
which tests audit which model, results) is shared, and an engine's build uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from dpsql.build.engine import BuildOptions, Reporter
from dpsql.build.engines.duckdb import Catalog
from dpsql.build.plan import Plan
from dpsql.build.readonly import Rows
from dpsql.build.results import CheckResult, RunResult, TestRun
from dpsql.build.state import Stored
from dpsql.core.project import Column, CompiledProject, DataTest
from dpsql.core.relations import Relation
from dpsql.core.specs import WorkspaceConfig

OnResult = Callable[[CheckResult], None]


@runtime_checkable
class Engine(Protocol):
    """One engine, bound to a workspace's chosen target (`config`).

    Errors are DpsqlError diagnostics: the warehouse cannot be opened or is missing (DP402),
    the engine cannot start (DP414), preflight; a model's own failure is a result, never an
    exception."""

    @property
    def name(self) -> str:
        """The target `type:` it serves."""
        ...

    @property
    def config(self) -> WorkspaceConfig:
        """The workspace, with its chosen target."""
        ...

    def build(self, compiled: CompiledProject, plan: Plan, options: BuildOptions,
              reporter: Reporter | None = None) -> RunResult:
        """Connect, create the missing schemas, and write, audit and publish each model of the
        plan that needs it, recording its fingerprint; BuildInterrupted on Ctrl-C."""
        ...

    def run_tests(self, compiled: CompiledProject, tests: Sequence[DataTest], threads: int = 1,
                  on_result: OnResult | None = None, *, fail_fast: bool = False) -> TestRun:
        """Run data tests on what is published; with `fail_fast`, none after a failure."""
        ...

    def run_query(self, sql: str, limit: int) -> Rows:
        """One read-only statement written in DuckDB SQL (DP412 otherwise), up to `limit` rows."""
        ...

    def catalog(self) -> Catalog:
        """The published relations ("table" | "view") and schemas."""
        ...

    def columns(self, relations: Iterable[Relation]) -> dict[Relation, tuple[Column, ...]]:
        """The columns of published relations, in DuckDB types (absent relations left out)."""
        ...

    def stored(self) -> dict[str, Stored]:
        """The recorded fingerprints: model or file input id -> what was published."""
        ...

    def type_name(self, duckdb_type: str) -> str:
        """The engine's spelling of a DuckDB type, as it publishes a column of that type."""
        ...
