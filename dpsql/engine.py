"""Run a plan against the DuckDB warehouse: the only stage that writes to the database.

Every relation is replaced atomically: a table is built under a staging name and swapped in
with a rename inside one transaction, a view is replaced inside one transaction. A failure
leaves the previous relation as it was, skips what depends on it, and builds the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dpsql.errors import DpsqlError, Location, error
from dpsql.plan import Plan
from dpsql.project import CompiledModel, CompiledProject, Relation, quote
from dpsql.schema import file_reader_sql

log = logging.getLogger("dpsql")

STAGING_PREFIX = "__dpsql_new_"


@dataclass(frozen=True)
class ModelResult:
    id: str
    status: str  # "success" | "error" | "skipped"
    seconds: float = 0.0
    rows: int | None = None
    message: str = ""
    relation: str = ""
    materialized: str = ""


@dataclass(frozen=True)
class RunResult:
    results: tuple[ModelResult, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.status == "success" for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


Listener = Callable[[ModelResult, int, int], None]
# checks a built relation before it is published; returns why it must not be, or None
Audit = Callable[[duckdb.DuckDBPyConnection, CompiledModel, Relation], "str | None"]


class AuditFailed(Exception):
    """A built relation failed its audit: it is not published, the previous one stays."""


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, with a clear message when that is not possible."""
    where = Location(warehouse)
    if not warehouse.parent.is_dir():
        raise DpsqlError(error("DP402", f"the warehouse folder {warehouse.parent} does not exist",
                               where, "create it, or change `warehouse:` in dpsql.yml"))
    try:
        return duckdb.connect(str(warehouse))
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            hint = "another dpsql build or a DuckDB session has it open; wait for it or close it"
            return _fail(f"the warehouse {warehouse.name} is in use by another process", where, hint)
        return _fail(f"cannot open the warehouse {warehouse.name}: {text.splitlines()[0]}", where,
                     "check that the file and its folder are writable")
    except duckdb.Error as exc:
        return _fail(f"cannot open the warehouse {warehouse.name}: {str(exc).splitlines()[0]}",
                     where, "check that the file is a DuckDB database")


def _fail(message: str, where: Location, hint: str) -> duckdb.DuckDBPyConnection:
    raise DpsqlError(error("DP402", message, where, hint))


class Warehouse:
    """The few catalog operations the engine needs, on one connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._schemas: set[str] = set()

    def ensure_schema(self, schema: str) -> None:
        if schema not in self._schemas:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            self._schemas.add(schema)

    def kind(self, relation: Relation) -> str | None:
        row = self.con.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
            [relation.schema, relation.name],
        ).fetchone()
        if row is None:
            return None
        return "view" if row[0] == "VIEW" else "table"

    def drop(self, relation: Relation) -> None:
        kind = self.kind(relation)
        if kind is not None:
            self.con.execute(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} {relation.sql}")

    def sweep_staging(self) -> None:
        """Remove staging tables left behind by an interrupted build."""
        rows = self.con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_name LIKE ? ESCAPE '\\'",
            [STAGING_PREFIX.replace("_", "\\_") + "%"],
        ).fetchall()
        for schema, name in rows:
            self.con.execute(f"DROP TABLE IF EXISTS {Relation(schema, name).sql}")

    def replace_view(self, relation: Relation, select_sql: str,
                     audit: Callable[[Relation], str | None] | None = None) -> None:
        self.ensure_schema(relation.schema)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.drop(relation)
            self.con.execute(f"CREATE VIEW {relation.sql} AS {select_sql}")
            problem = audit(relation) if audit else None
            if problem:
                raise AuditFailed(problem)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def replace_table(self, relation: Relation, select_sql: str,
                      audit: Callable[[Relation], str | None] | None = None) -> int:
        """Build under a staging name, audit it, then swap it in; returns the row count."""
        self.ensure_schema(relation.schema)
        staging = Relation(relation.schema, STAGING_PREFIX + relation.name)
        self.con.execute(f"DROP TABLE IF EXISTS {staging.sql}")
        try:
            self.con.execute(f"CREATE TABLE {staging.sql} AS {select_sql}")
            row = self.con.execute(f"SELECT count(*) FROM {staging.sql}").fetchone()
            problem = audit(staging) if audit else None
            if problem:
                raise AuditFailed(problem)
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.drop(relation)
                self.con.execute(f"ALTER TABLE {staging.sql} RENAME TO {quote(relation.name)}")
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
        except BaseException:
            self.con.execute(f"DROP TABLE IF EXISTS {staging.sql}")
            raise
        return int(row[0]) if row else 0


def run(compiled: CompiledProject, plan: Plan, listener: Listener | None = None,
        audit: Audit | None = None) -> RunResult:
    """Build the plan's models in order; never raises for a model's own failure.

    `audit` sees each built relation before it is published (contracts.port_audit).
    """
    started = time.perf_counter()
    con = connect(compiled.project.config.warehouse)
    try:
        warehouse = Warehouse(con)
        warehouse.sweep_staging()
        broken_inputs = _publish_inputs(compiled, plan, warehouse)
        results: list[ModelResult] = []
        failed: set[str] = set()
        total = len(plan.models)
        for index, mid in enumerate(plan.models, 1):
            model = compiled.models[mid]
            blocked = [d for d in model.depends_on if d in failed]
            bad_inputs = [i for i in model.inputs if (model.product, i) in broken_inputs]
            if blocked or bad_inputs:
                why = (f"upstream {blocked[0]} did not build" if blocked
                       else f"input {bad_inputs[0]}: {broken_inputs[(model.product, bad_inputs[0])]}")
                result = ModelResult(mid, "skipped", message=why, relation=str(model.relation),
                                     materialized=model.config.materialized)
                failed.add(mid)
            else:
                result = _build_one(warehouse, model, audit)
                if result.status != "success":
                    failed.add(mid)
            results.append(result)
            log.info("%s %s (%.2fs)", result.status, mid, result.seconds)
            if listener is not None:
                listener(result, index, total)
        return RunResult(tuple(results), time.perf_counter() - started)
    finally:
        con.close()


def _build_one(warehouse: Warehouse, model: CompiledModel, audit: Audit | None = None
               ) -> ModelResult:
    started = time.perf_counter()
    rows: int | None = None
    check = (lambda built: audit(warehouse.con, model, built)) if audit else None
    try:
        if model.config.materialized == "view":
            warehouse.replace_view(model.relation, model.sql, check)
        else:
            rows = warehouse.replace_table(model.relation, model.sql, check)
    except (duckdb.Error, AuditFailed) as exc:
        message = str(exc).strip().splitlines()[0]
        return ModelResult(model.id, "error", time.perf_counter() - started, None, message,
                           str(model.relation), model.config.materialized)
    return ModelResult(model.id, "success", time.perf_counter() - started, rows, "",
                       str(model.relation), model.config.materialized)


def _publish_inputs(compiled: CompiledProject, plan: Plan, warehouse: Warehouse
                    ) -> dict[tuple[str, str], str]:
    """Expose the file inputs read by the plan as views in `<product>_internal`."""
    broken: dict[tuple[str, str], str] = {}
    wanted = {(compiled.models[m].product, i) for m in plan.models for i in compiled.models[m].inputs}
    for product_name, input_name in sorted(wanted):
        product = compiled.project.by_name[product_name]
        spec = product.spec.input(input_name)
        if spec is None or spec.kind != "file" or spec.file is None or spec.file_format is None:
            continue
        relation = product.relation_of_input(spec)
        try:
            warehouse.replace_view(relation, file_reader_sql(spec.file, spec.file_format))
        except duckdb.Error as exc:
            broken[(product_name, input_name)] = str(exc).strip().splitlines()[0]
    return broken


def read_query(warehouse: Path, sql: str, limit: int) -> tuple[list[str], list[list[str]], int]:
    """Run a query on a read-only connection; returns column names, up to `limit` rows, count."""
    where = Location(warehouse)
    if not warehouse.is_file():
        raise DpsqlError(error("DP402", f"there is no warehouse at {warehouse} yet", where,
                               "run `dpsql build` first"))
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise DpsqlError(error("DP402", f"cannot open the warehouse: {str(exc).splitlines()[0]}",
                               where, "a build may be running; try again when it is done")) from None
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        raise DpsqlError(error("DP403", f"query failed: {str(exc).strip().splitlines()[0]}", None,
                               "`dpsql ls --columns` lists every port and its columns")) from None
    finally:
        con.close()
    shown = [["NULL" if v is None else str(v) for v in row] for row in rows[:limit]]
    return columns, shown, len(rows)
