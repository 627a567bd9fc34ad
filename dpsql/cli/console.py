"""Everything dpsql shows on a terminal goes through here (tests capture it through click)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console as RichConsole
from rich.markup import escape
from rich.table import Table

from dpsql.build.results import (
    FAIL,
    INTERRUPTED,
    NOT_RUN,
    SKIPPED,
    SUCCESS,
    UNCHANGED,
    ModelResult,
    RunResult,
    TestRun,
)
from dpsql.cli.progress import STATUS, LiveProgress, PlainProgress, check_lines
from dpsql.core.errors import Diagnostic

if TYPE_CHECKING:
    from dpsql.build.results import CheckResult

_STYLE = {"error": "bold red", "warning": "yellow"}
_LISTED = 20  # unchanged models named in a build's summary, at most


class Console:
    def __init__(self, base: Path | None = None):
        self.base = base
        # soft_wrap: never break a `path:line:col` line in two when output is piped
        self.out = RichConsole(soft_wrap=True, highlight=False)
        if not self.out.is_terminal:  # piped: no 80-column tables
            self.out = RichConsole(soft_wrap=True, highlight=False, width=160)
        self.err = RichConsole(stderr=True, soft_wrap=True, highlight=False)

    def print(self, text: str = "", style: str | None = None) -> None:
        self.out.print(escape(text), style=style)

    def diagnostic_line(self, d: Diagnostic) -> str:
        where = d.location.render(self.base) + ": " if d.location else ""
        return f"{where}{d.severity.value}[{d.code}]: {d.message}"

    def diagnostics(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            self.err.print(escape(self.diagnostic_line(d)), style=_STYLE[d.severity.value])
            if d.hint:
                self.err.print(escape(f"  hint: {d.hint}"), style="dim")

    def problem_summary(self, diagnostics: Iterable[Diagnostic]) -> None:
        found = list(diagnostics)
        errors = sum(1 for d in found if d.is_error)
        warnings = len(found) - errors
        parts = [f"{errors} error{'s' * (errors != 1)}"]
        if warnings:
            parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
        self.err.print(escape(", ".join(parts)), style="bold red" if errors else "yellow")

    def model_result(self, result: ModelResult, index: int, total: int) -> None:
        PlainProgress(self.out, self.base).finished(result, index, total)

    def build_progress(self) -> LiveProgress | PlainProgress:
        """A live display on a terminal, plain lines otherwise."""
        if self.out.is_terminal:
            return LiveProgress(self.out, self.base)
        return PlainProgress(self.out, self.base)

    def interrupted(self, what: str = "") -> None:
        self.err.print(escape(f"Interrupted (Ctrl-C){' ' + what if what else ''}."),
                       style="bold yellow")

    def run_summary(self, run: RunResult) -> None:
        if run.interrupted:
            self._interrupted_summary(run)
            return
        for check in run.input_checks:  # tests on inputs ran before the models
            if check.status != "pass":
                self.check_result(check)
        built, same = run.count(SUCCESS), run.with_status(UNCHANGED)
        bad = run.count("error") + run.count(FAIL)
        skip = run.count(SKIPPED)
        attempted = len(run.results) - len(same)
        if attempted == 0:
            self.out.print(escape(f"Nothing changed: {len(same)} model{'s' * (len(same) != 1)} "
                                  "already up to date in the warehouse (--full-refresh rebuilds "
                                  f"them) [{run.seconds:.2f}s]"), style="bold green")
            return
        text = f"Built {built} of {attempted} models in {run.seconds:.2f}s"
        if bad or skip:
            text += f": {bad} failed, {skip} skipped"
        self.out.print(escape(text), style="bold red" if bad or skip else "bold green")
        if run.stopped:
            self.out.print(escape(f"Stopped at the first failure (--fail-fast): "
                                  f"{run.count(NOT_RUN) + run.count(INTERRUPTED)} not run, "
                                  "each keeps its previous version"), style="bold red")
        if same:
            names = ", ".join(r.id for r in same[:_LISTED])
            more = f" and {len(same) - _LISTED} more" if len(same) > _LISTED else ""
            self.out.print(escape(f"Skipped {len(same)} unchanged: {names}{more}"), style="dim")

    def _interrupted_summary(self, run: RunResult) -> None:
        """What a build stopped by Ctrl-C published, and what it did not."""
        published = [r.id for r in run.with_status(SUCCESS)]
        why = {INTERRUPTED: "interrupted, rolled back", NOT_RUN: "not run", SKIPPED: "skipped",
               FAIL: "failed", "error": "failed"}
        missed = [f"{r.id} ({why[r.status]})" for r in run.results if r.status in why]
        self.out.print(escape(
            f"Interrupted (Ctrl-C) after {run.seconds:.2f}s: {len(published)} "
            f"model{'s' * (len(published) != 1)} published, {len(missed)} not"), style="bold yellow")
        if published:
            self.out.print(escape("Published: " + _listed(published)))
        if missed:
            self.out.print(escape("Not published, each keeps its previous version: "
                                  + _listed(missed)))
        self.out.print("Run `dpsql build` again to finish: what was published is not rebuilt.")

    def check_result(self, check: CheckResult) -> None:
        _, style = STATUS.get(check.status, ("ERROR", "bold red"))
        for i, line in enumerate(check_lines(check)):
            self.out.print(escape(line), style=style if (i == 0 or not check.ok) else None)

    def test_summary(self, run: TestRun) -> None:
        passed, failed, errors = run.count("pass"), run.count("fail"), run.count("error")
        text = f"Ran {len(run.results)} tests in {run.seconds:.2f}s: {passed} passed"
        if run.count("warn"):
            text += f", {run.count('warn')} warned"
        if failed:
            text += f", {failed} failed"
        if errors:
            text += f", {errors} could not run"
        if run.not_run:
            text += f"; stopped at the first failure (--fail-fast): {run.not_run} not run"
        self.out.print(escape(text), style="bold green" if run.ok else "bold red")

    def table(self, title: str, columns: list[str], rows: Iterable[Iterable[str]]) -> None:
        table = Table(title=title, show_lines=False, highlight=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*[escape(str(c)) for c in row])
        self.out.print(table)


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more
