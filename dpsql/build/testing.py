"""Running data tests against the warehouse: one test (run_test, also the build's audit) and
`dpsql test`, which runs the selected tests on what is published, read-only.

The tests themselves (their queries) are made at compile time, in dpsql.compile.datatests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

import duckdb

from dpsql.build.engines.duckdb import Cursors, connect
from dpsql.build.plan import Plan
from dpsql.build.results import CheckResult, TestRun
from dpsql.compile.datatests import SAMPLE_ROWS
from dpsql.core.errors import error, error_text, warning
from dpsql.core.project import CompiledProject, DataTest

# what one failing row of each kind of test is, for messages
NOUNS = {"not_null": "NULL rows", "unique": "duplicated values",
         "accepted_values": "unexpected values", "relationships": "values with no match",
         "singular": "rows", "expression_is_true": "rows"}


def run_test(cursor: duckdb.DuckDBPyConnection, test: DataTest, sample: int = SAMPLE_ROWS
             ) -> CheckResult:
    """Run one test through `cursor` (inside its transaction, if one is open)."""
    started = time.perf_counter()
    try:
        found = cursor.execute(test.check_sql)
        columns = tuple(d[0] for d in found.description or ())[:-1]
        rows = found.fetchmany(sample)
    except duckdb.Error as exc:
        return could_not_run(test, error_text(exc), started)
    seconds = time.perf_counter() - started
    if not rows:
        return CheckResult(test.name, "pass", seconds=seconds)
    shown = tuple(tuple("NULL" if v is None else str(v) for v in row[:-1]) for row in rows)
    return found_rows(test, int(rows[0][-1]), columns, shown, seconds)


def could_not_run(test: DataTest, text: str, started: float) -> CheckResult:
    """A test whose query failed (on any engine): an error, DP605."""
    return CheckResult(test.name, "error", message=text, seconds=time.perf_counter() - started,
                       diagnostic=error("DP605", f"test {test.name} could not run: {text}",
                                        test.location, error_hint(test)))


def found_rows(test: DataTest, count: int, columns: tuple[str, ...],
               shown: tuple[tuple[str, ...], ...], seconds: float) -> CheckResult:
    """A test that returned rows: failed, or, with severity warn, a warning (on any engine)."""
    message = f"{count} {NOUNS.get(test.kind, 'rows')}"
    if test.severity == "warn":  # reported, but fails neither the build nor the test run
        return CheckResult(test.name, "warn", count, columns, shown, message, seconds,
                           warning("DP606", f"test {test.name} found {message} (severity "
                                   "warn: reported, not failed)", test.location,
                                   fail_hint(test)))
    return CheckResult(test.name, "fail", count, columns, shown, message, seconds,
                       error("DP604", f"test {test.name} failed: {message}", test.location,
                             fail_hint(test)))


def fail_hint(test: DataTest) -> str:
    if test.kind == "singular":
        return "the test query must return no rows; the sample shows the first ones it returned"
    if test.input is not None:
        return f"fix the data of input `{test.input}` of `{test.product}`, or the test in its product.yml"
    return f"fix the model `{test.model}` (or its data), or the test in product.yml"


def error_hint(test: DataTest) -> str:
    if test.kind == "singular":
        return "fix the test's SQL; run `dpsql build` first if a relation it reads is missing"
    return "run `dpsql build` first if the port is not in the warehouse yet"


# --- `dpsql test`: the data tests on what is published ----------------------------------------


def select_tests(compiled: CompiledProject, plan: Plan) -> list[DataTest]:
    """The tests that read a selected model (and those of a selected product that read none)."""
    chosen = set(plan.models)
    products = {compiled.models[m].product for m in chosen}
    return [t for t in compiled.tests
            if any(d in chosen for d in t.depends_on) or (not t.depends_on and t.product in products)]


def run_tests(compiled: CompiledProject, tests: Sequence[DataTest], threads: int = 1,
              on_result: Callable[[CheckResult], None] | None = None, *,
              fail_fast: bool = False) -> TestRun:
    """Run data tests on the published relations, read-only, `threads` at a time; with
    `fail_fast`, the first failure stops the others (they are counted as not run)."""
    started = time.perf_counter()
    con = connect(compiled.project.config.warehouse, read_only=True)
    cursors = Cursors(con)
    results: dict[int, CheckResult] = {}  # by position: two tests may share a name
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="dpsql")
    try:
        futures = {pool.submit(lambda t: run_test(cursors.get(), t), test): index
                   for index, test in enumerate(tests)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
            if fail_fast and not result.ok:
                cursors.interrupt()
                break
    except BaseException:
        cursors.interrupt()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        cursors.close()
        con.close()
    ordered = tuple(results[i] for i in range(len(tests)) if i in results)
    return TestRun(ordered, time.perf_counter() - started, len(tests) - len(ordered))
