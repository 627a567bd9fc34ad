"""Reading a Spark target: `dpsql test` (the data tests on what is published) and `dpsql query`.

A query is written in DuckDB SQL, as models are: it is checked to be one read-only statement
(readonly.check), transpiled for Spark, and refused (DP211) where the translation would not be
faithful.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import sqlglot

from dpsql.build.engines.spark import Warehouse
from dpsql.build.engines.sparkwap import run_test
from dpsql.build.readonly import HINT, QUERY_FILE, Rows, check
from dpsql.build.results import CheckResult, TestRun
from dpsql.compile.translate import unsupported
from dpsql.core.errors import DpsqlError, Location, error, error_text
from dpsql.core.project import CompiledProject, DataTest
from dpsql.core.specs import Target


def run_tests(compiled: CompiledProject, tests: Sequence[DataTest],
              on_result: Callable[[CheckResult], None] | None = None, *,
              fail_fast: bool = False) -> TestRun:
    """Run data tests on the published relations of a Spark target, one after the other;
    with `fail_fast`, none after the first failure."""
    started = time.perf_counter()
    target = compiled.project.config.target
    assert target is not None and compiled.engine_sql is not None
    warehouse = Warehouse.open(target)
    results = []
    for test in tests:
        result = run_test(warehouse.spark, test, compiled.engine_sql.tests[test.check_sql])
        results.append(result)
        if on_result is not None:
            on_result(result)
        if fail_fast and result.status in ("fail", "error"):
            break
    return TestRun(tuple(results), time.perf_counter() - started)


def run_query(target: Target, sql: str, limit: int) -> Rows:
    """Check `sql`, transpile it, and fetch up to `limit` rows from the Spark target."""
    statement = check(sql)
    if statement.kind != "SELECT":
        raise DpsqlError(error("DP412", f"{statement.kind} is not available on Spark targets",
                               Location(QUERY_FILE, 1, 1), "run a query (SELECT, FROM ...); "
                               + HINT))
    tree = sqlglot.parse_one(sql, read="duckdb")
    found = next(unsupported(tree), None)
    if found is not None:
        raise DpsqlError(error("DP211", f"{found[1]} has no faithful Spark translation: "
                               f"{found[2]}", Location(QUERY_FILE, 1, 1),
                               "rewrite the query with constructs both engines share"))
    spark_sql = tree.sql(dialect="spark")
    warehouse = Warehouse.open(target)
    try:
        frame = warehouse.spark.sql(spark_sql)
        columns = list(frame.columns)
        rows = frame.take(limit + 1)
    except Exception as exc:  # Spark's errors come as several classes (py4j, connect, ...)
        raise DpsqlError(error("DP403", f"query failed on Spark: {error_text(exc)}",
                               Location(QUERY_FILE, 1, 1),
                               "`dpsql ls --columns` lists every port and its columns")) from None
    shown = [["NULL" if v is None else str(v) for v in tuple(row)] for row in rows[:limit]]
    return Rows(columns, shown, len(rows) > limit)
