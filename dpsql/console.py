"""Everything dpsql shows on a terminal goes through here (tests capture it through click)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.console import Console as RichConsole
from rich.markup import escape
from rich.table import Table

from dpsql.engine import ModelResult, RunResult
from dpsql.errors import Diagnostic

_STYLE = {"error": "bold red", "warning": "yellow"}
_STATUS = {"success": ("OK", "green"), "error": ("ERROR", "bold red"),
           "skipped": ("SKIP", "yellow")}


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
        label, style = _STATUS[result.status]
        width = len(str(total))
        rows = f"{result.rows:,} rows" if result.rows is not None else ""
        line = (f"{index:>{width}}/{total} {label:<5} {result.id:<40} {result.materialized:<6} "
                f"{result.seconds:6.2f}s {rows}").rstrip()
        self.out.print(escape(line), style=style if result.status != "success" else None)
        if result.message:
            self.out.print(escape(f"      {result.message}"), style=style)

    def run_summary(self, run: RunResult) -> None:
        ok, err, skip = run.count("success"), run.count("error"), run.count("skipped")
        text = f"Built {ok} of {len(run.results)} models in {run.seconds:.2f}s"
        if err or skip:
            text += f": {err} failed, {skip} skipped"
        self.out.print(escape(text), style="bold red" if err or skip else "bold green")

    def table(self, title: str, columns: list[str], rows: Iterable[Iterable[str]]) -> None:
        table = Table(title=title, show_lines=False, highlight=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*[escape(str(c)) for c in row])
        self.out.print(table)
