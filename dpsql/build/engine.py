"""Run a plan against the DuckDB warehouse: the only stage that writes to the database.

    connect (DuckDB's file lock: one build at a time)
    -> read the catalog, the columns of the planned relations and the recorded fingerprints
       (three queries); a damaged fingerprint table is recreated empty (DP413)
    -> preflight: what the plan reads from outside itself is published and fits
    -> choose what to rebuild: changed fingerprint, a relation missing or not what was built
       (another kind, other columns: changed by hand), or --full-refresh
    -> publish the file inputs read, as views (file_inputs.py)
    -> build in parallel, honouring dependencies (scheduler.py, with checkpoint.py): each model
       is written, audited (see audits.standard_audits) and published in one transaction
       (materialize.py)
    -> record the fingerprints of what was published

A model that fails keeps its previous version, its consumers are skipped, and the rest builds.
Ctrl-C interrupts the running models (they roll back) and starts nothing new; BuildInterrupted
then carries what was published and what was not.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from dpsql.build import file_inputs, preflight, state
from dpsql.build.audits import attach_tests, standard_audits
from dpsql.build.checkpoint import Checkpoints
from dpsql.build.choose import KIND as _KIND
from dpsql.build.choose import drifted as _drifted
from dpsql.build.engines.duckdb import (
    Catalog,
    Cursors,
    connect,
    read_catalog,
    read_columns,
)
from dpsql.build.input_tests import run_input_tests
from dpsql.build.materialize import Audit, Job, materialize
from dpsql.build.plan import Plan
from dpsql.build.results import (
    ERROR,
    FAIL,
    INTERRUPTED,
    NOT_RUN,
    SUCCESS,
    UNCHANGED,
    BuildInterrupted,
    CheckResult,
    ModelResult,
    RunResult,
    skipped,
)
from dpsql.build.scheduler import Hooks, Scheduler
from dpsql.build.testing import run_test
from dpsql.compile.ephemeral import reads_through
from dpsql.core.errors import Diagnostic, DpsqlError, Location, error, error_text, warning
from dpsql.core.project import (
    Column,
    CompiledModel,
    CompiledProject,
    DataTest,
    Materialization,
    ModelId,
)
from dpsql.core.relations import Relation, quote

__all__ = ["BuildInterrupted", "BuildOptions", "ModelResult", "Reporter", "RunResult", "connect",
           "run"]

log = logging.getLogger("dpsql")


@dataclass(frozen=True)
class BuildOptions:
    threads: int = 1
    full_refresh: bool = False  # rebuild everything; incremental models from scratch
    fail_fast: bool = False  # stop at the first model that fails (dbt's --fail-fast)


class FailFast(Exception):
    """Raised in the scheduler's thread at the first failure of a --fail-fast build."""


class Reporter(Protocol):
    """Told about progress, always from the thread that called run()."""

    def begin(self, total: int) -> None: ...

    def started(self, model: CompiledModel) -> None: ...

    def finished(self, result: ModelResult, done: int, total: int) -> None: ...


def run(compiled: CompiledProject, plan: Plan, options: BuildOptions | None = None,
        reporter: Reporter | None = None, audits: Sequence[Audit] | None = None) -> RunResult:
    """Build the plan; never raises for a model's own failure (DpsqlError for preflight).

    Ctrl-C raises BuildInterrupted, which carries the results so far: what was published, what
    was interrupted (rolled back) and what was not run.
    """
    started = time.perf_counter()
    warehouse = compiled.project.config.warehouse
    con = connect(warehouse)
    try:
        build = _Build(compiled, plan, options or BuildOptions(), con)
        try:
            build.prepare()
        except (KeyboardInterrupt, duckdb.InterruptException):  # Ctrl-C in the main thread
            raise BuildInterrupted(RunResult(build.not_run({}), time.perf_counter() - started,
                                             tuple(build.notes), True)) from None
        except duckdb.Error as exc:  # the warehouse was changed by hand in a way not foreseen
            raise DpsqlError(error(
                "DP402", f"the warehouse {warehouse.name} cannot be prepared for the build: "
                f"{error_text(exc)}", Location(warehouse),
                "if it was changed by hand (the `_dpsql` schema or a product's schema), undo "
                "that, or delete the file and build again")) from None
        chosen = list(audits) if audits is not None else standard_audits(
            compiled, build.tests_by_model)
        results, interrupted = build.execute(chosen, reporter)
        outcome = RunResult(results, time.perf_counter() - started, tuple(build.notes),
                            interrupted, build.stopped, build.input_checks)
        if interrupted:
            raise BuildInterrupted(outcome)
        return outcome
    finally:
        con.close()


@dataclass
class _Build:
    compiled: CompiledProject
    plan: Plan
    options: BuildOptions
    con: duckdb.DuckDBPyConnection
    jobs: dict[ModelId, Job] = field(default_factory=dict)
    unchanged: list[ModelId] = field(default_factory=list)
    tests_by_model: dict[ModelId, list[DataTest]] = field(default_factory=dict)
    waits: dict[ModelId, set[ModelId]] = field(default_factory=dict)
    broken_inputs: dict[tuple[str, str], str] = field(default_factory=dict)
    stored: dict[str, state.Stored] = field(default_factory=dict)
    fingerprints: state.Fingerprints | None = None
    pending_rows: list[state.Row] = field(default_factory=list)
    notes: list[Diagnostic] = field(default_factory=list)  # warnings for the run's result
    stopped: bool = False  # --fail-fast stopped the build at a failure
    input_checks: tuple[CheckResult, ...] = ()  # the tests on inputs read by rebuilt models
    _reads: dict[str, tuple[set[str], set[tuple[str, str]]]] = field(default_factory=dict)

    def reads(self, mid: ModelId) -> tuple[set[str], set[tuple[str, str]]]:
        """What model `mid` reads (see reads_through()), remembered."""
        found = self._reads.get(mid)
        if found is None:
            model = self.compiled.models[mid]
            found = self._reads[mid] = reads_through(self.compiled, model.depends_on,
                                                     model.product, model.inputs)
        return found

    # --- before the first model -------------------------------------------------------------

    def prepare(self) -> None:
        compiled, con = self.compiled, self.con
        catalog = read_catalog(con)
        for leftover in catalog.staging():
            con.execute(f"DROP TABLE IF EXISTS {leftover.sql}")
        targets = [m for m in self.plan.models
                   if compiled.models[m].config.materialized != Materialization.EPHEMERAL]
        built = read_columns(con, [state.TABLE, *(compiled.models[m].relation for m in targets)])
        has_state = self._load_state(catalog, built.get(state.TABLE, ()))
        problems = preflight.check(compiled, self.plan.models, catalog, self.stored,
                                   lambda relations: read_columns(con, relations))
        if problems:
            raise DpsqlError(problems)
        self.fingerprints = state.Fingerprints(compiled, set(targets), self.stored)
        rebuild = [m for m in targets if self._needs_build(m, catalog, built)]
        self.unchanged = [m for m in targets if m not in set(rebuild)]
        read_ports = (port for mid in targets for port in self.reads(mid)[1])
        files = [f for f in file_inputs.file_inputs(compiled, read_ports) if file_inputs.is_stale(
            f, catalog, self.stored, self.options.full_refresh)]
        if not rebuild and not files:
            return  # nothing to write: a build with nothing changed only reads
        for mid in rebuild:
            model = compiled.models[mid]
            incremental = model.config.materialized == Materialization.INCREMENTAL
            self.jobs[mid] = Job(model, catalog.kind(model.relation),
                                 built.get(model.relation) if incremental else None,
                                 self.options.full_refresh,
                                 self._row(mid) if incremental else None)
        self.tests_by_model, self.waits = attach_tests(compiled, set(rebuild), catalog)
        state.ensure(con, state.SCHEMA in catalog.schemas, has_state)
        owners = {compiled.models[m].relation.schema: compiled.models[m].product for m in rebuild}
        owners.update({file.relation.schema: file.product for file in files})
        self._create_schemas({s: p for s, p in owners.items() if s not in catalog.schemas})
        state.forget(con, rebuild)
        published, broken = file_inputs.publish(con, files, catalog)
        self.pending_rows.extend(published)
        self.broken_inputs.update(broken)
        reads = (port for mid in rebuild for port in self.reads(mid)[1] if port not in broken)
        self.input_checks, failed = run_input_tests(functools.partial(run_test, con),
                                                    compiled, reads)
        self.broken_inputs.update(failed)
        log.info("rebuilding %d models, %d unchanged", len(rebuild), len(self.unchanged))

    def _load_state(self, catalog: Catalog, columns: Sequence[Column]) -> bool:
        """Read the recorded fingerprints; a damaged table is recreated empty (DP413).
        Whether the table exists now."""
        kind = catalog.kind(state.TABLE)
        problem = state.damage(kind, columns)
        if kind is None:
            return False
        if problem is None:
            try:
                self.stored = state.read(self.con)
                return True
            except duckdb.Error as exc:
                problem = f"{state.TABLE} cannot be read: {error_text(exc)}"
        state.recreate(self.con, kind)
        self.notes.append(warning(
            "DP413", f"dpsql's record of what it built was damaged ({problem}); it was "
            "recreated empty, so every selected model is rebuilt",
            Location(self.compiled.project.config.warehouse),
            "nothing to do; the `_dpsql` schema belongs to dpsql, leave it as it is"))
        return True

    def _create_schemas(self, owners: Mapping[str, str]) -> None:
        """Create the missing schemas (schema -> the product it is for)."""
        for schema, product in sorted(owners.items()):
            try:
                self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            except duckdb.Error as exc:
                spec = self.compiled.project.by_name[product].spec
                raise DpsqlError(error(
                    "DP401", f"cannot create schema `{schema}` for product `{product}`: "
                    f"{error_text(exc)}", spec.location,
                    f"rename product `{product}` (`name:` in its product.yml): DuckDB keeps "
                    f"`{schema}` for itself")) from None

    def _needs_build(self, mid: ModelId, catalog: Catalog,
                     built: Mapping[Relation, Sequence[Column]]) -> bool:
        model = self.compiled.models[mid]
        kind = catalog.kind(model.relation)
        if self.options.full_refresh or kind is None:
            return True
        if kind != _KIND[model.config.materialized] or _drifted(model, built.get(model.relation)):
            log.info("%s: %s is not what was built; rebuilding it", mid, model.relation)
            return True
        stored = self.stored.get(mid)
        assert self.fingerprints is not None
        return stored is None or stored.fingerprint != self.fingerprints.of(mid)

    def _row(self, mid: ModelId) -> state.Row:
        model = self.compiled.models[mid]
        assert self.fingerprints is not None
        version = (str(self.compiled.project.by_name[model.product].spec.version)
                   if model.port else None)
        return state.Row(mid, str(model.relation), self.fingerprints.of(mid), version)

    # --- the models -------------------------------------------------------------------------

    def execute(self, audits: Sequence[Audit], reporter: Reporter | None
                ) -> tuple[tuple[ModelResult, ...], bool]:
        """Every model's result, and whether Ctrl-C stopped the build."""
        results: dict[str, ModelResult] = {}
        for mid in self.unchanged:
            model = self.compiled.models[mid]
            results[mid] = ModelResult(mid, UNCHANGED, message="unchanged since the last build",
                                       relation=str(model.relation),
                                       materialized=model.config.materialized)
        interrupted = stopped = False
        try:
            if self.jobs:
                self._schedule(audits, reporter, results)
        except KeyboardInterrupt:
            interrupted = True
        except FailFast:
            stopped = self.stopped = True
        finally:
            self._record(results)
        if interrupted or stopped:
            return self.not_run(results), interrupted
        return tuple(results[m] for m in self.plan.models if m in results), False

    def not_run(self, results: Mapping[str, ModelResult]) -> tuple[ModelResult, ...]:
        """The results so far, with a NOT_RUN result for every other model of the plan."""
        out = []
        for mid in self.plan.models:
            model = self.compiled.models[mid]
            if mid in results:
                out.append(results[mid])
            elif model.config.materialized != Materialization.EPHEMERAL:
                why = ("stopped at the first failure (--fail-fast)" if self.stopped
                       else "the build was interrupted")
                out.append(ModelResult(mid, NOT_RUN, message=f"not run: {why}; the previous "
                                       "version stays",
                                       relation=str(model.relation),
                                       materialized=model.config.materialized))
        return tuple(out)

    def _schedule(self, audits: Sequence[Audit], reporter: Reporter | None,
                  results: dict[str, ModelResult]) -> None:
        """Build the jobs, each once what it reads (and waits for) is done, `threads` at once."""
        compiled, jobs = self.compiled, self.jobs
        position = {mid: i for i, mid in enumerate(compiled.order)}
        tasks = sorted(jobs, key=lambda m: position[m])
        needs = {m: {ModelId(d) for d in self.reads(m)[0]} for m in tasks}
        cursors = Cursors(self.con)
        threads = max(1, self.options.threads)
        if reporter is not None:
            reporter.begin(len(jobs))
        hooks = _Progress(self, results, reporter, cursors)
        scheduler = Scheduler(tasks, needs, self.waits, threads, hooks,
                              Checkpoints(self.con, threads))
        try:
            scheduler.run(lambda mid: materialize(cursors.get(), jobs[mid], compiled, audits))
        finally:
            cursors.close()

    def blocked(self, mid: ModelId, failed: Sequence[str]) -> ModelResult | None:
        """The result of a model not to build: an upstream model failed, or a file input."""
        model = self.compiled.models[mid]
        ports = self.reads(mid)[1]
        return skipped(mid, str(model.relation), model.config.materialized, sorted(failed),
                       sorted(p for p in ports if p in self.broken_inputs), self.broken_inputs)

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


class _Progress(Hooks[ModelId, ModelResult]):
    """What the scheduler reports during a build: results, the log and the reporter."""

    def __init__(self, build: _Build, results: dict[str, ModelResult],
                 reporter: Reporter | None, cursors: Cursors):
        self.build = build
        self.results = results
        self.reporter = reporter
        self.cursors = cursors
        self.total = len(build.jobs)

    def skip(self, task: ModelId, failed: list[ModelId]) -> ModelResult | None:
        return self.build.blocked(task, failed)

    def started(self, task: ModelId) -> None:
        if self.reporter is not None:
            self.reporter.started(self.build.jobs[task].model)

    def finished(self, task: ModelId, result: ModelResult, done: int) -> None:
        self.results[task] = result
        log.info("%s %s (%.2fs)", result.status, task, result.seconds)
        if self.reporter is not None:
            self.reporter.finished(result, done, self.total)
        if self.build.options.fail_fast and result.status in (ERROR, FAIL):
            self.build.stopped = True
            raise FailFast(task)

    def interrupt(self) -> None:  # Ctrl-C: stop the queries; their transactions roll back
        self.cursors.interrupt()

    def abandoned(self, task: ModelId, result: ModelResult | None) -> None:
        """A model that was running at Ctrl-C: published if it had committed, else rolled back."""
        if result is not None and not result.message.startswith("INTERRUPT"):
            self.results[task] = result  # it finished (and, if a success, was published)
            return
        model = self.build.compiled.models[task]
        why = "stopped (--fail-fast)" if self.build.stopped else "interrupted"
        self.results[task] = ModelResult(
            task, INTERRUPTED, message=f"{why} while it ran: rolled back, the previous "
            "version stays", relation=str(model.relation), materialized=model.config.materialized)
