"""What a build or a test run reports: plain values, shared by the engine, console and artifacts."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from dpsql.core.errors import Diagnostic

# statuses of a model in a build
SUCCESS = "success"  # built and published
ERROR = "error"  # its SQL failed; the previous version stays
FAIL = "fail"  # built, but a check (data test, audit) failed; the previous version stays
SKIPPED = "skipped"  # not attempted: an upstream did not build
UNCHANGED = "unchanged"  # its fingerprint matches the published version: nothing to do
INTERRUPTED = "interrupted"  # running at Ctrl-C: rolled back, the previous version stays
NOT_RUN = "not_run"  # not started before Ctrl-C; the previous version stays
OK_STATUSES = frozenset({SUCCESS, UNCHANGED})


@dataclass(frozen=True)
class CheckResult:
    """One data test or audit run on a relation: `pass`, `fail` (rows found) or `error`."""

    name: str
    status: str
    failures: int = 0  # rows the test query returned
    columns: tuple[str, ...] = ()
    sample: tuple[tuple[str, ...], ...] = ()  # the first failing rows, as text
    message: str = ""
    seconds: float = 0.0
    diagnostic: Diagnostic | None = None

    @property
    def ok(self) -> bool:
        """Passed, or failed with severity warn (reported, but failing nothing)."""
        return self.status in ("pass", "warn")

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "status": self.status, "failures": self.failures,
                "seconds": round(self.seconds, 4), "message": self.message,
                "columns": list(self.columns), "sample": [list(r) for r in self.sample]}


@dataclass(frozen=True)
class ModelResult:
    id: str
    status: str  # one of the statuses above
    seconds: float = 0.0
    rows: int | None = None  # rows in the new table; for an incremental run, rows inserted
    message: str = ""
    relation: str = ""
    materialized: str = ""
    checks: tuple[CheckResult, ...] = ()
    mode: str = ""  # incremental models: "incremental" or "full"
    code: str = ""  # the diagnostic code of a failure (DP401, DP407, DP604, ...)
    started_at: float = 0.0  # wall clock (epoch seconds) when its transaction began
    diagnostic: Diagnostic | None = None  # a failure's code, location in the model and hint

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


@dataclass(frozen=True)
class Outcome:
    """Makes one model's result on any engine: its id, relation, materialization and mode
    (incremental models only), and the time since its work began."""

    id: str
    relation: str
    materialized: str
    mode: str
    started: float = field(default_factory=time.perf_counter)
    wall: float = field(default_factory=time.time)

    def __call__(self, status: str, rows: int | None = None, message: str = "",
                 checks: tuple[CheckResult, ...] = (), code: str = "",
                 diagnostic: Diagnostic | None = None) -> ModelResult:
        return ModelResult(self.id, status, time.perf_counter() - self.started, rows, message,
                           self.relation, self.materialized, checks,
                           self.mode if self.materialized == "incremental" else "", code,
                           self.wall, diagnostic)


def skipped(model_id: str, relation: str, materialized: str, upstream: list[str],
            bad_inputs: list[tuple[str, str]], broken: Mapping[tuple[str, str], str]
            ) -> ModelResult | None:
    """A model not to build, on any engine: the first upstream model that did not build, or
    the first of its inputs that is broken (`broken`: why, by (product, input)); else None."""
    if not upstream and not bad_inputs:
        return None
    why = (f"upstream {upstream[0]} did not build" if upstream
           else f"input {bad_inputs[0][1]}: {broken[bad_inputs[0]]}")
    return ModelResult(model_id, SKIPPED, message=why, relation=relation,
                       materialized=materialized)


@dataclass(frozen=True)
class RunResult:
    results: tuple[ModelResult, ...]
    seconds: float
    notes: tuple[Diagnostic, ...] = ()  # warnings about the warehouse (a repaired state table)
    interrupted: bool = False  # stopped by Ctrl-C: some models have INTERRUPTED or NOT_RUN
    stopped: bool = False  # stopped by --fail-fast at a failure: the same statuses
    input_checks: tuple[CheckResult, ...] = ()  # tests on file and table inputs, run first

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def with_status(self, status: str) -> list[ModelResult]:
        return [r for r in self.results if r.status == status]


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a build: `run` says what was published and what was not."""

    def __init__(self, run: RunResult):
        super().__init__("the build was interrupted")
        self.run = run


@dataclass(frozen=True)
class TestRun:
    """The outcome of `dpsql test`."""

    results: tuple[CheckResult, ...]
    seconds: float
    not_run: int = 0  # tests left out when --fail-fast stopped the run

    __test__ = False  # not a pytest class

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.not_run

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)
