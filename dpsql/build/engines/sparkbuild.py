"""Run a plan on a Spark target: the same steps as DuckDB's (build/engine.py), one model at a time.

    open the warehouse (one build at a time: a lock file) and attach its registry
    -> preflight: what the plan reads from outside itself is published and fits
    -> choose what to rebuild: changed fingerprint, a relation missing or not what was built,
       or --full-refresh
    -> register the file inputs read (Spark's csv, json and parquet readers, typed as DuckDB
       typed the files at compile time)
    -> the tests on the inputs the rebuilt models read (a failure skips their readers)
    -> each model in dependency order: write, audit, publish (sparkwap.py); a failure keeps
       the previous version, and what reads it is skipped

Spark runs each query on all the cores it has, so models are built one after the other; a
model's fingerprint is recorded in the same registry write that publishes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from dpsql.build import preflight, state
from dpsql.build.audits import attach_tests
from dpsql.build.choose import KIND, drifted
from dpsql.build.engine import Reporter
from dpsql.build.engines.spark import Warehouse
from dpsql.build.engines.sparkwap import materialize, run_test
from dpsql.build.file_inputs import FileInput, file_inputs
from dpsql.build.input_tests import run_input_tests
from dpsql.build.materialize import Job
from dpsql.build.plan import Plan
from dpsql.build.results import (
    INTERRUPTED,
    NOT_RUN,
    UNCHANGED,
    BuildInterrupted,
    CheckResult,
    ModelResult,
    RunResult,
    skipped,
)
from dpsql.compile.ephemeral import reads_through
from dpsql.compile.typing.sparktypes import to_spark
from dpsql.core.errors import DpsqlError
from dpsql.core.project import CompiledProject, DataTest, Materialization, ModelId
from dpsql.load.files import file_problem

log = logging.getLogger("dpsql")


def run(compiled: CompiledProject, plan: Plan, full_refresh: bool, reporter: Reporter | None
        ) -> RunResult:
    """Build the plan on Spark; DpsqlError for preflight and for a Spark that cannot start."""
    started = time.perf_counter()
    target = compiled.project.config.target
    assert target is not None
    warehouse = Warehouse.open(target, write=True)
    build = _SparkBuild(compiled, plan, warehouse, full_refresh)
    jobs, tests, files = build.prepare()
    checks: tuple[CheckResult, ...] = ()
    if jobs or files:
        warehouse.start()
        with warehouse.lock():
            build.register_files(files)
            checks = build.test_inputs(jobs)
            results, interrupted = build.execute(jobs, tests, reporter)
    else:
        results, interrupted = build.execute({}, {}, reporter)
    outcome = RunResult(results, time.perf_counter() - started, (), interrupted,
                        input_checks=checks)
    if interrupted:
        raise BuildInterrupted(outcome)
    return outcome


class _SparkBuild:
    def __init__(self, compiled: CompiledProject, plan: Plan, warehouse: Warehouse,
                 full_refresh: bool):
        self.compiled = compiled
        self.plan = plan
        self.warehouse = warehouse
        self.full_refresh = full_refresh
        self.stored = warehouse.stored()
        self.targets = [m for m in plan.models
                        if compiled.models[m].config.materialized != Materialization.EPHEMERAL]
        self.fingerprints = state.Fingerprints(compiled, set(self.targets), self.stored)
        self.broken: dict[tuple[str, str], str] = {}
        self.unchanged: list[str] = []

    def prepare(self) -> tuple[dict[str, Job], dict[ModelId, list[DataTest]], list[FileInput]]:
        """What to build, the tests each runs, and the file inputs to (re)register; reads the
        registry alone."""
        compiled, warehouse = self.compiled, self.warehouse
        catalog = warehouse.catalog()
        problems = preflight.check(compiled, self.plan.models, catalog, self.stored,
                                   warehouse.columns)
        if problems:
            raise DpsqlError(problems)
        built = warehouse.columns(compiled.models[m].relation for m in self.targets)
        jobs: dict[str, Job] = {}
        for mid in self.targets:
            model = compiled.models[mid]
            kind = catalog.kind(model.relation)
            stored = self.stored.get(mid)
            if not (self.full_refresh or kind is None or kind != KIND[model.config.materialized]
                    or drifted(model, built.get(model.relation)) or stored is None
                    or stored.fingerprint != self.fingerprints.of(mid)):
                self.unchanged.append(mid)
                continue
            incremental = model.config.materialized == Materialization.INCREMENTAL
            jobs[mid] = Job(model, kind, built.get(model.relation) if incremental else None,
                            self.full_refresh)
        ports = (port for mid in self.targets for port in self._reads(mid)[1])
        files = [f for f in file_inputs(compiled, ports)
                 if file_problem(f.path) is not None
                 or warehouse.relations.get(str(f.relation)) != _file_entry(compiled, f)]
        tests, _ = attach_tests(compiled, set(jobs), catalog)
        log.info("rebuilding %d models on Spark, %d unchanged", len(jobs), len(self.unchanged))
        return jobs, tests, files

    def _reads(self, mid: str) -> tuple[set[str], set[tuple[str, str]]]:
        model = self.compiled.models[mid]
        return reads_through(self.compiled, model.depends_on, model.product, model.inputs)

    def register_files(self, files: Sequence[FileInput]) -> None:
        """Each file input read, as a table over the file, typed as DuckDB typed it."""
        changed = False
        for file in files:
            problem = file_problem(file.path)
            if problem is not None:
                self.broken[file.key] = f"{file.path} {problem}"
                continue
            entry = _file_entry(self.compiled, file)
            if self.warehouse.relations.get(str(file.relation)) == entry:
                continue
            try:
                self.warehouse.register(file.relation, entry)
            except Exception as exc:
                self.broken[file.key] = str(exc).splitlines()[0]
                continue
            self.warehouse.relations[str(file.relation)] = entry
            changed = True
        if changed:
            self.warehouse.save()

    def test_inputs(self, jobs: dict[str, Job]) -> tuple[CheckResult, ...]:
        """The tests on the file and table inputs the models about to be rebuilt read, before
        the first model (as on DuckDB); a model reading an input whose test failed is skipped."""
        engine_sql, spark = self.compiled.engine_sql, self.warehouse.spark
        assert engine_sql is not None
        reads = (port for mid in jobs for port in self._reads(mid)[1] if port not in self.broken)
        checks, failed = run_input_tests(
            lambda test: run_test(spark, test, engine_sql.tests[test.check_sql]),
            self.compiled, reads)
        self.broken.update(failed)
        return checks

    def execute(self, jobs: dict[str, Job], tests: dict[ModelId, list[DataTest]],
                reporter: Reporter | None) -> tuple[tuple[ModelResult, ...], bool]:
        results: dict[str, ModelResult] = {
            mid: ModelResult(mid, UNCHANGED, message="unchanged since the last build",
                             relation=str(self.compiled.models[mid].relation),
                             materialized=self.compiled.models[mid].config.materialized)
            for mid in self.unchanged}
        order = [m for m in self.compiled.order if m in jobs]
        if jobs and reporter is not None:
            reporter.begin(len(jobs))
        failed: set[str] = set()
        running = None
        try:
            for done, mid in enumerate(order, 1):
                running = mid
                result = self._blocked(mid, failed)
                if result is None:
                    if reporter is not None:
                        reporter.started(jobs[mid].model)
                    result = materialize(self.warehouse, jobs[mid], self.compiled,
                                         tests.get(ModelId(mid), ()), self._row(mid))
                results[mid] = result
                if not result.ok:
                    failed.add(mid)
                if reporter is not None:
                    reporter.finished(result, done, len(jobs))
        except KeyboardInterrupt:
            self._cancel()
            return self._not_run(results, running), True
        return tuple(results[m] for m in self.plan.models if m in results), False

    def _blocked(self, mid: str, failed: set[str]) -> ModelResult | None:
        model = self.compiled.models[mid]
        deps, ports = self._reads(mid)
        return skipped(mid, str(model.relation), model.config.materialized,
                       sorted(d for d in deps if d in failed),
                       sorted(p for p in ports if p in self.broken), self.broken)

    def _row(self, mid: str) -> state.Row:
        model = self.compiled.models[mid]
        version = (str(self.compiled.project.by_name[model.product].spec.version)
                   if model.port else None)
        return state.Row(mid, str(model.relation), self.fingerprints.of(mid), version)

    def _cancel(self) -> None:
        try:
            self.warehouse.spark.sparkContext.cancelAllJobs()
        except Exception:  # Spark Connect has no SparkContext; its jobs end with the session
            log.info("could not cancel Spark's jobs")

    def _not_run(self, results: dict[str, ModelResult], running: str | None
                 ) -> tuple[ModelResult, ...]:
        """After Ctrl-C: the results so far; the model that was running was not published
        (INTERRUPTED), the others were not started (NOT_RUN)."""
        out = []
        for mid in self.targets:
            if mid in results:
                out.append(results[mid])
                continue
            model = self.compiled.models[mid]
            status, message = ((INTERRUPTED, "interrupted while it ran: not published, the "
                                "previous version stays") if mid == running else
                               (NOT_RUN, "not run: the build was interrupted; the previous "
                                "version stays"))
            out.append(ModelResult(mid, status, message=message, relation=str(model.relation),
                                   materialized=model.config.materialized))
        return tuple(out)


def _file_entry(compiled: CompiledProject, file: FileInput) -> dict[str, object]:
    """How Spark reads a file input: its reader, options, and the schema DuckDB found."""
    columns = compiled.sources.get((file.product, file.name)) or ()
    spec = compiled.project.by_name[file.product].spec.input(file.name)
    fmt = spec.file_format if spec is not None and spec.file_format else "csv"
    options = {"csv": {"header": "true", "mode": "FAILFAST"},
               "json": {"mode": "FAILFAST", "multiLine": _json_array(file)},
               "parquet": {}}[fmt]
    schema = ", ".join(f"`{c.name}` {to_spark(c.type)}" for c in columns)
    return {"kind": "file", "format": fmt, "path": str(file.path.resolve()), "options": options,
            "schema": schema, "columns": [[c.name, c.type] for c in columns]}


def _json_array(file: FileInput) -> str:
    """A JSON file holding one array is read whole; JSON lines one value a line."""
    with open(file.path, "rb") as handle:
        head = handle.read(4096).lstrip()
    return "true" if head.startswith(b"[") else "false"
