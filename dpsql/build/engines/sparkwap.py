"""Write, audit, publish one model on Spark, and data tests run there.

    write    the new version under a staging name: a view, or a table written as parquet into
             a new version folder (an incremental run writes the kept rows and the new ones)
    audit    the port's contract in Spark types, then the data tests, on the staging name
    publish  point the relation at the new version and save the registry (one rename); on a
             failed audit the staging name and folder are dropped and nothing else changes

Parquet has no transactions, so a new version is never written over the published one: a
reader, and an incremental query reading `{{ this }}`, read the published folder while the
next one is written. Each model's result is cast to the Spark types of the columns DuckDB
typed it with at compile time (compile/typing/sparktypes.py), so both engines publish the
same types; casts are ANSI, so a value that does not fit is an error, never a silent change.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from dpsql.build.engines.spark import Warehouse, ident, sql_name
from dpsql.build.materialize import IncrementalSchemaError, Job, check_columns
from dpsql.build.results import ERROR, FAIL, SUCCESS, CheckResult, ModelResult, Outcome
from dpsql.build.state import Row
from dpsql.build.testing import could_not_run, found_rows
from dpsql.compile.datatests import SAMPLE_ROWS
from dpsql.compile.typing.sparktypes import to_spark
from dpsql.core.errors import error, error_text
from dpsql.core.project import Column, CompiledModel, CompiledProject, DataTest, Materialization
from dpsql.core.relations import Relation

STAGING = "__dpsql_new_"


def typed(sql: str, columns: Sequence[Column] | None) -> str:
    """The query with each column cast to the Spark type of its DuckDB type."""
    if not columns:
        return sql
    cast = ", ".join(f"CAST({ident(c.name)} AS {to_spark(c.type)}) AS {ident(c.name)}"
                     for c in columns)
    return f"SELECT {cast} FROM (\n{sql}\n) AS __dpsql_model"


def materialize(warehouse: Warehouse, job: Job, compiled: CompiledProject,
                tests: Sequence[DataTest], row: Row) -> ModelResult:
    """Write, audit and publish one model; never raises for the model's own failure."""
    model, mode = job.model, job.mode
    result = Outcome(model.id, str(model.relation), model.config.materialized, mode)

    staging = Relation(model.relation.schema, STAGING + model.relation.name)
    entry: dict[str, Any] = {}
    try:
        rows = _write(warehouse, job, compiled, staging, entry)
        checks = _audit(warehouse, compiled, model, staging, tests)
        bad = [c for c in checks if not c.ok]
        if bad:
            _discard(warehouse, staging, entry)
            code = bad[0].diagnostic.code if bad[0].diagnostic else "DP604"
            if bad[0].name == "contract":
                return result(FAIL, rows, bad[0].message, tuple(checks), code, bad[0].diagnostic)
            failed = f"{len(bad)} of {len(checks)} test{'s' * (len(checks) != 1)} failed"
            return result(FAIL, rows, f"{failed}: not published, the previous version stays",
                          tuple(checks), code)
        _publish(warehouse, model.relation, staging, entry, row)
    except IncrementalSchemaError as exc:
        hint = f"rebuild it whole: `dpsql build --full-refresh --select {model.id}`"
        return result(ERROR, message=str(exc), code="DP407",
                      diagnostic=error("DP407", str(exc), model.location(), hint))
    except KeyboardInterrupt:  # Ctrl-C: what was written is not published, and goes
        _discard(warehouse, staging, entry)
        raise
    except Exception as exc:  # Spark's errors come as several classes (py4j, connect, ...)
        _discard(warehouse, staging, entry)
        text = error_text(exc)
        variant = ".incremental" if mode == "incremental" else ""
        hint = (f"fix the model: the SQL that ran is in target/{warehouse.target.name}/compiled/"
                f"{model.product}/{model.name}{variant}.sql; the previous version stays")
        return result(ERROR, message=text, code="DP401", diagnostic=error(
            "DP401", f"{model.id} failed on Spark: {text}", model.location(), hint))
    return result(SUCCESS, rows, checks=tuple(checks))


def _write(warehouse: Warehouse, job: Job, compiled: CompiledProject, staging: Relation,
           entry: dict[str, Any]) -> int | None:
    """The new version under the staging name, described in `entry` (filled in before
    anything is written, so that a failure can remove it); its rows."""
    model = job.model
    assert compiled.engine_sql is not None
    select = typed(compiled.engine_sql.models[model.id], model.columns)
    columns = [[c.name, c.type] for c in model.columns or ()]
    warehouse.database(model.relation.schema)
    if job.mode == Materialization.VIEW:
        entry.update(kind="view", sql=select, columns=columns)
        warehouse.register(staging, entry)
        return None
    rows = None
    if job.mode == "incremental":
        check_columns(job)
        increment = typed(compiled.engine_sql.incremental[model.id], model.columns)
        rows = int(warehouse.spark.sql(f"SELECT count(*) FROM ({increment}) AS i").collect()[0][0])
        select = _incremental(model, increment)
    version = warehouse.new_version(model.relation)
    entry.update(kind="table", path=version, columns=columns)
    warehouse.spark.sql(select).write.parquet(str((warehouse.root / version).resolve()))
    warehouse.register(staging, entry)
    if rows is None:
        rows = int(warehouse.spark.table(sql_name(staging)).count())
    return rows


def _incremental(model: CompiledModel, increment: str) -> str:
    """The published rows that stay, and the new ones: appended, or replacing those with the
    same unique_key (compared with `=`, so a NULL key never matches)."""
    names = ", ".join(ident(c.name) for c in model.columns or ())
    current = sql_name(model.relation)
    keys = model.config.unique_key
    if keys:
        match = " AND ".join(f"t.{ident(k)} = s.{ident(k)}" for k in keys)
        kept = (f"SELECT {', '.join('t.' + ident(c.name) for c in model.columns or ())} "
                f"FROM {current} AS t LEFT ANTI JOIN ({increment}) AS s ON {match}")
    else:
        kept = f"SELECT {names} FROM {current}"
    return f"{kept}\nUNION ALL\nSELECT {names} FROM ({increment}) AS __dpsql_increment"


def _audit(warehouse: Warehouse, compiled: CompiledProject, model: CompiledModel,
           staging: Relation, tests: Sequence[DataTest]) -> list[CheckResult]:
    """The contract first (a wrong shape makes the tests meaningless), then the data tests."""
    contract = _contract(warehouse, compiled, model, staging)
    if contract is not None:
        return [contract]
    assert compiled.engine_sql is not None
    return [run_test(warehouse.spark, test,
                     _reading(compiled.engine_sql.tests[test.check_sql], model.relation, staging))
            for test in tests]


def _contract(warehouse: Warehouse, compiled: CompiledProject, model: CompiledModel,
              staging: Relation) -> CheckResult | None:
    port = (compiled.project.by_name[model.product].spec.output(model.port)
            if model.port else None)
    if port is None or not port.columns:
        return None
    started = time.perf_counter()
    fields = warehouse.spark.table(sql_name(staging)).schema.fields
    built = [(f.name, f.dataType.simpleString()) for f in fields]
    wanted = [(c.name, to_spark(c.type) if c.type else None) for c in port.columns]
    problems = []
    for i, (name, kind) in enumerate(wanted):
        have = built[i] if i < len(built) else None
        if have is None:
            problems.append(f"column `{name}` is missing")
        elif have[0].lower() != name.lower():
            problems.append(f"column {i + 1} is `{have[0]}`, the contract says `{name}`")
        elif kind is not None and have[1] != kind:
            problems.append(f"column `{name}` is {have[1]} in the built table, {kind} (Spark's "
                            f"type for the contract's {port.columns[i].type})")
    problems += [f"column `{n}` ({t}) is not in the contract" for n, t in built[len(wanted):]]
    if not problems:
        return None
    message = (f"port {model.product}.{port.name} does not match its contract, so it was not "
               "published (the previous version stays): " + "; ".join(problems))
    return CheckResult("contract", "fail", message=message,
                       seconds=time.perf_counter() - started,
                       diagnostic=error("DP411", message, port.location, "fix the model or the "
                                        "contract; `dpsql check` compares them statically"))


def _reading(sql: str, relation: Relation, staging: Relation) -> str:
    """A test's Spark SQL reading the staged version instead of the published relation."""
    tree = sqlglot.parse_one(sql, read="spark")
    for table in tree.find_all(exp.Table):
        if (table.db.lower(), table.name.lower()) == (relation.schema.lower(),
                                                      relation.name.lower()):
            table.set("this", exp.to_identifier(staging.name, quoted=True))
    return tree.sql(dialect="spark")


def run_test(spark: Any, test: DataTest, sql: str) -> CheckResult:
    """One data test's Spark SQL: pass, fail with a sample of rows, or an error (DP605)."""
    started = time.perf_counter()
    try:
        frame = spark.sql(sql)
        columns = tuple(frame.columns)[:-1]
        rows = frame.take(SAMPLE_ROWS)
    except Exception as exc:  # Spark's errors come as several classes (py4j, connect, ...)
        return could_not_run(test, error_text(exc), started)
    seconds = time.perf_counter() - started
    if not rows:
        return CheckResult(test.name, "pass", seconds=seconds)
    shown = tuple(tuple("NULL" if v is None else str(v) for v in tuple(row)[:-1]) for row in rows)
    return found_rows(test, int(rows[0][-1]), columns, shown, seconds)


def _publish(warehouse: Warehouse, relation: Relation, staging: Relation, entry: dict[str, Any],
             row: Row) -> None:
    previous = warehouse.relations.get(str(relation), {})
    if entry["kind"] == "table" and previous.get("kind") == "table":
        entry = {**entry, "previous": previous["path"]}
    warehouse.register(relation, entry)
    warehouse.relations[str(relation)] = entry
    warehouse.record(row)
    warehouse.save()
    warehouse.unregister(staging)
    if entry["kind"] == "table":
        warehouse.sweep(relation, [entry["path"], *([entry["previous"]] if "previous" in entry
                                                    else [])])
    else:  # a view now: the table's versions go, but the last one a reader may still be in
        warehouse.sweep(relation, [previous["path"]] if previous.get("kind") == "table" else [])


def _discard(warehouse: Warehouse, staging: Relation, entry: dict[str, Any]) -> None:
    warehouse.unregister(staging)
    if entry.get("kind") == "table":
        shutil.rmtree(warehouse.root / entry["path"], ignore_errors=True)
