"""Run a plan against the DuckDB warehouse: the only stage that writes to the database.

    connect (DuckDB's file lock: one build at a time)
    -> read the catalog and the recorded fingerprints (two queries)
    -> preflight: what the plan reads from outside itself is published and fits
    -> choose what to rebuild: changed fingerprint, missing relation, or --full-refresh
    -> publish the file inputs read, as views
    -> build in parallel, honouring dependencies: each model is written, audited (see
       standard_audits) and published in one transaction (materialize.py)
    -> record the fingerprints of what was published

A model that fails keeps its previous version, its consumers are skipped, and the rest builds.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from dpsql.build import preflight

from dpsql.build import state
from dpsql.compile.checks.contracts import built_port_problem
from dpsql.compile.datatests import run_test
from dpsql.compile.ephemeral import reads_through
from dpsql.core.errors import DpsqlError, error
from dpsql.build.materialize import Audit, Job, Staged, materialize
from dpsql.build.plan import Plan
from dpsql.core.project import Column, CompiledModel, CompiledProject, DataTest
from dpsql.core.relations import Relation, quote
from dpsql.build.results import (
    SKIPPED,
    SUCCESS,
    UNCHANGED,
    CheckResult,
    ModelResult,
    RunResult,
    TestRun,
)
from dpsql.compile.typing.schema import file_reader_sql
from dpsql.build.engines.duckdb import Catalog, connect, quiet, read_catalog, read_columns, read_query

__all__ = ["BuildOptions", "ModelResult", "Reporter", "RunResult", "connect", "read_query", "run"]

log = logging.getLogger("dpsql")


@dataclass(frozen=True)
class BuildOptions:
    threads: int = 1
    full_refresh: bool = False  # rebuild everything; incremental models from scratch


class Reporter(Protocol):
    """Told about progress, always from the thread that called run()."""

    def begin(self, total: int) -> None: ...

    def started(self, model: CompiledModel) -> None: ...

    def finished(self, result: ModelResult, done: int, total: int) -> None: ...


class DataTestAudit:
    """Runs the data tests attached to a model on its staged version."""

    def __init__(self, tests: Mapping[str, Sequence[DataTest]]):
        self.tests = tests

    def __call__(self, cursor: duckdb.DuckDBPyConnection, staged: Staged) -> list[CheckResult]:
        return [run_test(cursor, test) for test in self.tests.get(staged.model.id, ())]


class ContractAudit:
    """Compares a staged port's real column types with its contract (before the data tests)."""

    def __init__(self, compiled: CompiledProject):
        self.project = compiled.project

    def __call__(self, cursor: duckdb.DuckDBPyConnection, staged: Staged) -> list[CheckResult]:
        model = staged.model
        port = (self.project.by_name[model.product].spec.output(model.port)
                if model.port else None)
        if port is None or not port.columns:
            return []
        started = time.perf_counter()
        rows = cursor.execute(f"DESCRIBE {staged.relation.sql}").fetchall()
        problem = built_port_problem(port, model.product,
                                     [Column(str(r[0]), str(r[1])) for r in rows])
        if problem is None:
            return []
        hint = ("the warehouse changed since compile (a `table:` input?): run `dpsql check`, "
                "then fix the model or the contract")
        return [CheckResult("contract", "fail", message=problem,
                            seconds=time.perf_counter() - started,
                            diagnostic=error("DP411", problem, port.location, hint))]


CHECKPOINT_EVERY = 100  # models built between checkpoints when several run at once


def standard_audits(compiled: CompiledProject, tests: Mapping[str, Sequence[DataTest]]
                    ) -> list[Audit]:
    """The audits every new version passes before it is published, in this order.

    The check of a port's materialized columns against its contract belongs first (a wrong
    shape makes the data tests meaningless), then the data tests. An audit reads the staged
    version through the cursor it is given (see materialize.Staged).
    """
    return [ContractAudit(compiled), DataTestAudit(tests)]


def run(compiled: CompiledProject, plan: Plan, options: BuildOptions | None = None,
        reporter: Reporter | None = None, audits: Sequence[Audit] | None = None) -> RunResult:
    """Build the plan; never raises for a model's own failure (DpsqlError for preflight)."""
    started = time.perf_counter()
    con = connect(compiled.project.config.warehouse)
    try:
        build = _Build(compiled, plan, options or BuildOptions(), con)
        build.prepare()
        chosen = list(audits) if audits is not None else standard_audits(
            compiled, build.tests_by_model)
        results = build.execute(chosen, reporter)
        return RunResult(results, time.perf_counter() - started)
    finally:
        con.close()


def attach_tests(compiled: CompiledProject, rebuild: set[str], catalog: Catalog
                 ) -> tuple[dict[str, list[DataTest]], dict[str, set[str]]]:
    """Which rebuilt model runs each data test before it is published, and the waits that adds.

    A test runs with the last (in dependency order) of the models it reads that are rebuilt;
    that model then waits for the others, so the test sees all of them new. A test that also
    reads a relation which is neither rebuilt nor in the warehouse is left to `dpsql test`.
    """
    position = {mid: i for i, mid in enumerate(compiled.order)}
    attached: dict[str, list[DataTest]] = {}
    waits: dict[str, set[str]] = {}

    def present(mid: str) -> bool:
        return mid in rebuild or catalog.kind(compiled.models[mid].relation) is not None

    for test in compiled.tests:
        models, _ = reads_through(compiled, test.depends_on, test.product, ())
        rebuilt = [d for d in models if d in rebuild]
        if not rebuilt or not all(present(d) for d in models):
            continue
        host = max(rebuilt, key=lambda m: position.get(m, -1))
        attached.setdefault(host, []).append(test)
        waits.setdefault(host, set()).update(d for d in rebuilt if d != host)
    return attached, waits


@dataclass
class _Build:
    compiled: CompiledProject
    plan: Plan
    options: BuildOptions
    con: duckdb.DuckDBPyConnection
    jobs: dict[str, Job] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    tests_by_model: dict[str, list[DataTest]] = field(default_factory=dict)
    waits: dict[str, set[str]] = field(default_factory=dict)
    broken_inputs: dict[tuple[str, str], str] = field(default_factory=dict)
    stored: dict[str, state.Stored] = field(default_factory=dict)
    fingerprints: state.Fingerprints | None = None
    pending_rows: list[state.Row] = field(default_factory=list)
    _reads: dict[str, tuple[set[str], set[tuple[str, str]]]] = field(default_factory=dict)

    def reads(self, mid: str) -> tuple[set[str], set[tuple[str, str]]]:
        """What model `mid` reads (see reads_through()), remembered."""
        found = self._reads.get(mid)
        if found is None:
            model = self.compiled.models[mid]
            found = self._reads[mid] = reads_through(self.compiled, model.depends_on,
                                                     model.product, model.inputs)
        return found

    def file_inputs(self, mids: Sequence[str]) -> list[tuple[str, str, Relation, str]]:
        """(product, input, relation, reader SQL) of the file inputs the models read."""
        out = []
        wanted = sorted({port for mid in mids for port in self.reads(mid)[1]})
        for product_name, input_name in wanted:
            product = self.compiled.project.by_name[product_name]
            spec = product.spec.input(input_name)
            if spec is None or spec.kind != "file" or spec.file is None or not spec.file_format:
                continue
            out.append((product_name, input_name, product.relation_of_input(spec),
                        file_reader_sql(spec.file, spec.file_format)))
        return out

    # --- before the first model -------------------------------------------------------------

    def prepare(self) -> None:
        compiled, con = self.compiled, self.con
        catalog = read_catalog(con)
        for leftover in catalog.staging():
            con.execute(f"DROP TABLE IF EXISTS {leftover.sql}")
        has_state = catalog.kind(state.TABLE) == "table"
        self.stored = state.read(con) if has_state else {}
        targets = [m for m in self.plan.models
                   if compiled.models[m].config.materialized != "ephemeral"]
        problems = preflight.check(compiled, self.plan.models, catalog, self.stored, con)
        if problems:
            raise DpsqlError(problems)
        self.fingerprints = state.Fingerprints(compiled, set(targets), self.stored)
        rebuild = [m for m in targets if self._needs_build(m, catalog)]
        self.unchanged = [m for m in targets if m not in set(rebuild)]
        files = [f for f in self.file_inputs(targets) if self._stale_input(f, catalog)]
        if not rebuild and not files:
            return  # nothing to write: a build with nothing changed only reads
        incremental = [m for m in rebuild if self._incremental_run(m, catalog)]
        columns = read_columns(con, [compiled.models[m].relation for m in incremental])
        for mid in rebuild:
            model = compiled.models[mid]
            row = self._row(mid) if model.config.materialized == "incremental" else None
            self.jobs[mid] = Job(model, catalog.kind(model.relation),
                                 columns.get(model.relation), self.options.full_refresh, row)
        self.tests_by_model, self.waits = attach_tests(compiled, set(rebuild), catalog)
        state.ensure(con, state.SCHEMA in catalog.schemas, has_state)
        schemas = {compiled.models[m].relation.schema for m in rebuild} | {
            relation.schema for _, _, relation, _ in files}
        for schema in sorted(schemas - catalog.schemas):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        state.forget(con, rebuild)
        self._publish_inputs(files, catalog)
        log.info("rebuilding %d models, %d unchanged", len(rebuild), len(self.unchanged))

    def _needs_build(self, mid: str, catalog: Catalog) -> bool:
        model = self.compiled.models[mid]
        if self.options.full_refresh or catalog.kind(model.relation) is None:
            return True
        stored = self.stored.get(mid)
        assert self.fingerprints is not None
        return stored is None or stored.fingerprint != self.fingerprints.of(mid)

    def _incremental_run(self, mid: str, catalog: Catalog) -> bool:
        model = self.compiled.models[mid]
        return (model.config.materialized == "incremental" and not self.options.full_refresh
                and catalog.kind(model.relation) == "table")

    def _row(self, mid: str) -> state.Row:
        model = self.compiled.models[mid]
        assert self.fingerprints is not None
        version = (str(self.compiled.project.by_name[model.product].spec.version)
                   if model.port else None)
        return state.Row(mid, str(model.relation), self.fingerprints.of(mid), version)

    def _stale_input(self, file: tuple[str, str, Relation, str], catalog: Catalog) -> bool:
        """A file input's view is missing, differs from what it should be, or --full-refresh."""
        product_name, input_name, relation, sql = file
        stored = self.stored.get(f"{product_name}:{input_name}")
        return (self.options.full_refresh or catalog.kind(relation) != "view" or stored is None
                or stored.fingerprint != state.digest(sql))

    def _publish_inputs(self, files: list[tuple[str, str, Relation, str]],
                        catalog: Catalog) -> None:
        """File inputs as views in `<product>_internal` (the stale ones, see _stale_input)."""
        for product_name, input_name, relation, sql in files:
            row = state.Row(f"{product_name}:{input_name}", str(relation), state.digest(sql))
            try:
                self._replace_view(relation, sql, catalog.kind(relation))
            except duckdb.Error as exc:
                self.broken_inputs[(product_name, input_name)] = str(exc).strip().splitlines()[0]
                continue
            self.pending_rows.append(row)

    def _replace_view(self, relation: Relation, sql: str, kind: str | None) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            if kind == "table":
                self.con.execute(f"DROP TABLE {relation.sql}")
            self.con.execute(f"CREATE OR REPLACE VIEW {relation.sql} AS {sql}")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    # --- the models -------------------------------------------------------------------------

    def execute(self, audits: Sequence[Audit], reporter: Reporter | None) -> tuple[ModelResult, ...]:
        results: dict[str, ModelResult] = {}
        for mid in self.unchanged:
            model = self.compiled.models[mid]
            results[mid] = ModelResult(mid, UNCHANGED, message="unchanged since the last build",
                                       relation=str(model.relation),
                                       materialized=model.config.materialized)
        try:
            if self.jobs:
                self._schedule(audits, reporter, results)
        finally:
            self._record(results)
        return tuple(results[m] for m in self.plan.models if m in results)

    def _schedule(self, audits: Sequence[Audit], reporter: Reporter | None,
                  results: dict[str, ModelResult]) -> None:
        compiled, jobs = self.compiled, self.jobs
        position = {mid: i for i, mid in enumerate(compiled.order)}
        waiting: dict[str, set[str]] = {}
        children: dict[str, list[str]] = {m: [] for m in jobs}
        for mid in jobs:
            preds = {d for d in self.reads(mid)[0] if d in jobs} | {
                d for d in self.waits.get(mid, ()) if d in jobs}
            waiting[mid] = preds
            for pred in preds:
                children[pred].append(mid)
        ready = [(position[m], m) for m, preds in waiting.items() if not preds]
        heapq.heapify(ready)
        failed: set[str] = set()
        total, done = len(jobs), 0
        cursors = _Cursors(self.con)
        threads = max(1, self.options.threads)
        if reporter is not None:
            reporter.begin(total)

        def work(job: Job) -> ModelResult:
            return materialize(cursors.get(), job, compiled, audits)

        def finish(mid: str, result: ModelResult) -> None:
            nonlocal done
            results[mid] = result
            done += 1
            if not result.ok:
                failed.add(mid)
            log.info("%s %s (%.2fs)", result.status, mid, result.seconds)
            if reporter is not None:
                reporter.finished(result, done, total)
            for child in children[mid]:
                waiting[child].discard(mid)
                if not waiting[child]:
                    heapq.heappush(ready, (position[child], child))

        running: dict[Future[ModelResult], str] = {}
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dpsql")
        next_checkpoint = CHECKPOINT_EVERY
        try:
            while ready or running:
                if threads > 1 and done >= next_checkpoint:
                    # DuckDB checkpoints only when no transaction is open, which with several
                    # threads is never: let the running models finish, then checkpoint, so
                    # committed data goes to disk instead of piling up in memory.
                    if running:
                        finished, _ = wait(running, return_when=FIRST_COMPLETED)
                        for future in finished:
                            finish(running.pop(future), future.result())
                        continue
                    try:
                        self.con.execute("CHECKPOINT")
                    except duckdb.Error as exc:  # only memory is at stake: go on
                        log.info("checkpoint skipped: %s", exc)
                    next_checkpoint = done + CHECKPOINT_EVERY
                while ready and len(running) < threads:
                    _, mid = heapq.heappop(ready)
                    blocked = self._blocked(mid, failed)
                    if blocked is not None:
                        finish(mid, blocked)
                        continue
                    if reporter is not None:
                        reporter.started(jobs[mid].model)
                    running[pool.submit(work, jobs[mid])] = mid
                if not running:
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    finish(running.pop(future), future.result())
        except BaseException:  # Ctrl-C: stop the queries; their transactions roll back
            cursors.interrupt()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            cursors.close()

    def _blocked(self, mid: str, failed: set[str]) -> ModelResult | None:
        model = self.compiled.models[mid]
        models, ports = self.reads(mid)
        upstream = sorted(d for d in models if d in failed)
        bad_inputs = sorted(p for p in ports if p in self.broken_inputs)
        if not upstream and not bad_inputs:
            return None
        why = (f"upstream {upstream[0]} did not build" if upstream
               else f"input {bad_inputs[0][1]}: {self.broken_inputs[bad_inputs[0]]}")
        return ModelResult(mid, SKIPPED, message=why, relation=str(model.relation),
                           materialized=model.config.materialized)

    def _record(self, results: Mapping[str, ModelResult]) -> None:
        """Write the fingerprints of what was published, and restore those of what was not."""
        rows = list(self.pending_rows)
        for mid, job in self.jobs.items():
            result = results.get(mid)
            if result is not None and result.status == SUCCESS:
                if job.state_row is None:  # incremental models wrote theirs when publishing
                    rows.append(self._row(mid))
            elif mid in self.stored:  # the previous version is still the published one
                old = self.stored[mid]
                rows.append(state.Row(mid, old.relation, old.fingerprint, old.version))
        try:
            state.write(self.con, rows)
        except duckdb.Error as exc:  # the next build rebuilds what is unrecorded
            log.warning("could not record fingerprints: %s", exc)


class _Cursors:
    """One DuckDB cursor per worker thread, on the build's connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.local = threading.local()
        self.all: list[duckdb.DuckDBPyConnection] = []
        self.lock = threading.Lock()

    def get(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self.local, "cursor", None)
        if cursor is None:
            with self.lock:
                cursor = self.local.cursor = quiet(self.con.cursor())
                self.all.append(cursor)
        return cursor

    def interrupt(self) -> None:
        with self.lock:
            for cursor in self.all:
                with contextlib.suppress(duckdb.Error):
                    cursor.interrupt()

    def close(self) -> None:
        """Close every cursor (once the threads using them are done)."""
        with self.lock:
            for cursor in self.all:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()
            self.all.clear()


# --- `dpsql test`: the data tests on what is published ----------------------------------------


def select_tests(compiled: CompiledProject, plan: Plan) -> list[DataTest]:
    """The tests that read a selected model (and those of a selected product that read none)."""
    chosen = set(plan.models)
    products = {compiled.models[m].product for m in chosen}
    return [t for t in compiled.tests
            if any(d in chosen for d in t.depends_on) or (not t.depends_on and t.product in products)]


def run_tests(compiled: CompiledProject, tests: Sequence[DataTest], threads: int = 1,
              on_result: Callable[[CheckResult], None] | None = None) -> TestRun:
    """Run data tests on the published relations, read-only, `threads` at a time."""
    started = time.perf_counter()
    con = connect(compiled.project.config.warehouse, read_only=True)
    cursors = _Cursors(con)
    results: dict[str, CheckResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="dpsql")
    try:
        futures = {pool.submit(lambda t: run_test(cursors.get(), t), test): test for test in tests}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future].name] = result
            if on_result is not None:
                on_result(result)
    except BaseException:
        cursors.interrupt()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        cursors.close()
        con.close()
    ordered = tuple(results[t.name] for t in tests if t.name in results)
    return TestRun(ordered, time.perf_counter() - started)
