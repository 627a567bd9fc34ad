"""Materializations as small strategies, each run as write, audit, publish in one transaction.

    BEGIN
      write    the new version: CREATE OR REPLACE VIEW / TABLE ... AS, or the incremental step
      audit    data tests and other audits read the new version through the same cursor
      publish  COMMIT (or ROLLBACK when an audit fails or anything goes wrong)

Inside the transaction the new version is visible to this cursor only; every other reader
sees the previous version until the commit, which DuckDB makes atomic and durable. A build
killed at any moment therefore leaves each relation as it was or fully new, and a failed audit
leaves the previous version in place.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import duckdb

from dpsql.build import state
from dpsql.build.results import ERROR, FAIL, SUCCESS, CheckResult, ModelResult, Outcome
from dpsql.core.errors import error, error_text
from dpsql.core.project import Column, CompiledModel, CompiledProject, Materialization
from dpsql.core.relations import Relation, quote

log = logging.getLogger("dpsql")

_INCREMENT = "__dpsql_increment"  # a temporary table, private to the cursor's connection


@dataclass(frozen=True)
class Staged:
    """A new version of a model: written, not yet published.

    Read it at `relation` through the cursor handed to the audit, and only that cursor: other
    connections see the previous version until the transaction commits.
    """

    model: CompiledModel
    compiled: CompiledProject
    relation: Relation
    rows: int | None  # rows in the new table (incremental: rows inserted); None for a view
    mode: str  # "view", "table", "full" (incremental built whole) or "incremental"


class Audit(Protocol):
    """A check of a staged version; any result that is not `pass` keeps the old version."""

    def __call__(self, cursor: duckdb.DuckDBPyConnection, staged: Staged
                 ) -> Sequence[CheckResult]: ...


@dataclass(frozen=True)
class Job:
    """One model to build, with what the engine knows of its relation before the build."""

    model: CompiledModel
    existing: str | None  # "table" | "view" | None (not in the warehouse)
    existing_columns: tuple[Column, ...] | None = None  # incremental runs only
    full_refresh: bool = False
    state_row: state.Row | None = None  # written inside the transaction (incremental models)

    @property
    def mode(self) -> str:
        materialized = self.model.config.materialized
        if materialized != Materialization.INCREMENTAL:
            return materialized
        if self.existing == "table" and not self.full_refresh and self.model.incremental_sql:
            return "incremental"
        return "full"


class IncrementalSchemaError(Exception):
    """The incremental query's columns differ from the existing table's."""


def materialize(cursor: duckdb.DuckDBPyConnection, job: Job, compiled: CompiledProject,
                audits: Sequence[Audit]) -> ModelResult:
    """Write, audit and publish one model; never raises for the model's own failure."""
    model, mode = job.model, job.mode
    result = Outcome(model.id, str(model.relation), model.config.materialized, mode)

    try:
        cursor.execute("BEGIN TRANSACTION")
        try:
            rows = _WRITERS[mode](cursor, job)
            checks: list[CheckResult] = []
            staged = Staged(model, compiled, model.relation, rows, mode)
            for audit in audits:
                found = audit(cursor, staged)
                checks.extend(found)
                if any(not c.ok for c in found):
                    break  # later audits assume this one passed (tests assume the contract)
            bad = [c for c in checks if not c.ok]
            if bad:
                cursor.execute("ROLLBACK")
                code = bad[0].diagnostic.code if bad[0].diagnostic else "DP604"
                if bad[0].name == "contract":
                    return result(FAIL, rows, bad[0].message, tuple(checks), code,
                                  bad[0].diagnostic)
                failed = f"{len(bad)} of {len(checks)} test{'s' * (len(checks) != 1)} failed"
                return result(FAIL, rows, f"{failed}: not published, the previous version "
                              "stays", tuple(checks), code)
            if job.state_row is not None:
                state.write_one(cursor, job.state_row)
            cursor.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cursor.execute("ROLLBACK")
            raise
    except IncrementalSchemaError as exc:
        hint = f"rebuild it whole: `dpsql build --full-refresh --select {model.id}`"
        return result(ERROR, message=str(exc), code="DP407",
                      diagnostic=error("DP407", str(exc), model.location(), hint))
    except duckdb.Error as exc:
        text = error_text(exc)
        return result(ERROR, message=text, code="DP401",
                      diagnostic=error("DP401", f"{model.id} failed in the warehouse: {text}",
                                       model.location(), failure_hint(model, text, mode)))
    return result(SUCCESS, rows, checks=tuple(checks))


def failure_hint(model: CompiledModel, text: str, mode: str = "") -> str:
    """How to fix a model that DuckDB could not build (DP401); `mode` as in Job.mode."""
    if "Ambiguous reference to catalog or schema" in text:
        return (f"rename product `{model.product}` (`name:` in its product.yml): DuckDB also has "
                f"a database named `{model.relation.schema}`, and cannot tell the two apart")
    variant = ".incremental" if mode == "incremental" else ""
    return (f"fix the model: the SQL that ran is target/compiled/{model.product}/{model.name}"
            f"{variant}.sql; the previous version stays published")


def _count(cursor: duckdb.DuckDBPyConnection) -> int | None:
    row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _drop_other_kind(cursor: duckdb.DuckDBPyConnection, job: Job, wanted: str) -> None:
    if job.existing is not None and job.existing != wanted:
        cursor.execute(f"DROP {'VIEW' if job.existing == 'view' else 'TABLE'} "
                       f"{job.model.relation.sql}")


def _write_view(cursor: duckdb.DuckDBPyConnection, job: Job) -> int | None:
    _drop_other_kind(cursor, job, "view")
    cursor.execute(f"CREATE OR REPLACE VIEW {job.model.relation.sql} AS {job.model.sql}")
    return None


def _write_table(cursor: duckdb.DuckDBPyConnection, job: Job) -> int | None:
    _drop_other_kind(cursor, job, "table")
    cursor.execute(f"CREATE OR REPLACE TABLE {job.model.relation.sql} AS {job.model.sql}")
    return _count(cursor)


def _write_increment(cursor: duckdb.DuckDBPyConnection, job: Job) -> int | None:
    """Append the incremental query's rows; with a unique_key, replace the rows they match."""
    model = job.model
    assert model.incremental_sql is not None
    check_columns(job)
    target = model.relation.sql
    keys = model.config.unique_key
    if not keys:
        cursor.execute(f"INSERT INTO {target} BY NAME {model.incremental_sql}")
        return _count(cursor)
    increment = quote(_INCREMENT)
    cursor.execute(f"CREATE OR REPLACE TEMPORARY TABLE {increment} AS {model.incremental_sql}")
    match = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in keys)
    cursor.execute(f"DELETE FROM {target} AS t USING temp.main.{increment} AS s WHERE {match}")
    cursor.execute(f"INSERT INTO {target} BY NAME SELECT * FROM temp.main.{increment}")
    rows = _count(cursor)
    cursor.execute(f"DROP TABLE temp.main.{increment}")
    return rows


def check_columns(job: Job) -> None:
    """IncrementalSchemaError when the model's columns differ from its table's."""
    model = job.model
    if model.columns is None or job.existing_columns is None:
        return
    new = [c.name for c in model.columns]
    old = [c.name for c in job.existing_columns]
    if new == old or set(new) == set(old):
        return
    added = [c for c in new if c not in old]
    removed = [c for c in old if c not in new]
    parts = ([f"added {', '.join(added)}"] if added else []) + (
        [f"removed {', '.join(removed)}"] if removed else [])
    raise IncrementalSchemaError(
        f"the columns of incremental model {model.id} changed ({'; '.join(parts)}) "
        f"since {model.relation} was built; rebuild it with `dpsql build --full-refresh "
        f"--select {model.id}`")


_WRITERS = {  # by Job.mode
    Materialization.VIEW: _write_view,
    Materialization.TABLE: _write_table,
    "full": _write_table,
    Materialization.INCREMENTAL: _write_increment,
}
