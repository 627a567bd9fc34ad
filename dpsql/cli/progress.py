"""How a build's progress looks: a live display on a terminal, plain lines anywhere else.

Both take the engine's reports (started, finished) from the thread that runs the build; the
live display redraws from its own thread, so what it shows is copied under a lock.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType

from rich.console import Console as RichConsole
from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from dpsql.build.results import CheckResult, ModelResult
from dpsql.core.project import CompiledModel, Materialization

STATUS = {"success": ("OK", "green"), "error": ("ERROR", "bold red"),
          "fail": ("FAIL", "bold red"), "skipped": ("SKIP", "yellow"),
          "unchanged": ("SAME", "dim"), "pass": ("PASS", "green"),
          "interrupted": ("STOP", "yellow"), "not_run": ("-", "yellow"),
          "warn": ("WARN", "yellow")}


def result_line(result: ModelResult, index: int, total: int) -> str:
    """`3/12 OK    orders.fct_orders   table   0.12s 1,234 rows` (the plain format)."""
    label, _ = STATUS[result.status]
    width = len(str(total))
    rows = f"{result.rows:,} rows" if result.rows is not None else ""
    incremental = result.mode == Materialization.INCREMENTAL  # an incremental run, not a full one
    if incremental and result.rows is not None:
        rows = f"+{result.rows:,} rows"
    kind = "incr" if incremental else result.materialized
    return (f"{index:>{width}}/{total} {label:<5} {result.id:<40} {kind:<6} "
            f"{result.seconds:6.2f}s {rows}").rstrip()


def detail_lines(result: ModelResult, base: Path | None = None) -> list[str]:
    """What to show under a result that is not OK: the reason (with the file and line, and a
    hint, when there is a diagnostic), failing checks and samples."""
    lines = []
    found = result.diagnostic
    if found is not None and result.status != "success":
        where = found.location.render(base) + ": " if found.location else ""
        lines.append(f"      {where}{found.severity.value}[{found.code}]: {found.message}")
        if found.hint:
            lines.append(f"      hint: {found.hint}")
    elif result.message and result.status != "success":
        code = f"[{result.code}]" if result.code else ""
        prefix = "error" + code + ": " if result.status in ("error", "fail") else ""
        lines.append(f"      {prefix}{result.message}")
    for check in result.checks:
        if check.status != "pass":  # failed, could not run, or a warning
            lines.extend(check_lines(check, indent="      "))
    return lines


def check_lines(check: CheckResult, indent: str = "") -> list[str]:
    label, _ = STATUS.get(check.status, ("ERROR", "bold red"))
    head = f"{indent}{label:<5} {check.name}"
    if check.status == "pass":
        return [f"{head} ({check.seconds:.2f}s)"]
    lines = [f"{head}: {check.message}"]
    if check.sample:
        widths = [max(len(c), *(len(r[i]) for r in check.sample))
                  for i, c in enumerate(check.columns)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines.append(indent + "  " + fmt.format(*check.columns).rstrip())
        lines.extend(indent + "  " + fmt.format(*row).rstrip() for row in check.sample)
        if check.failures > len(check.sample):
            lines.append(f"{indent}  ... {check.failures - len(check.sample)} more")
    return lines


class PlainProgress:
    """One line per finished model, for pipes, logs and CI."""

    def __init__(self, out: RichConsole, base: Path | None = None):
        self.out = out
        self.base = base

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def begin(self, total: int) -> None:
        return None

    def started(self, model: CompiledModel) -> None:
        return None

    def finished(self, result: ModelResult, done: int, total: int) -> None:
        _, style = STATUS[result.status]
        self.out.print(escape(result_line(result, done, total)),
                       style=style if result.status != "success" else None)
        for line in detail_lines(result, self.base):
            self.out.print(escape(line), style=style)


class LiveProgress:
    """Finished models scroll by; below them, the models running now and the overall count."""

    def __init__(self, out: RichConsole, base: Path | None = None):
        self.out = out
        self.base = base
        self._lock = threading.Lock()
        self._running: dict[str, tuple[str, float]] = {}  # id -> (materialized, started)
        self._done = 0
        self._total = 0
        self._failed = 0
        self._started = time.perf_counter()
        self._live = Live(self, console=out, refresh_per_second=10, transient=True)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._live.__exit__(kind, value, tb)

    def begin(self, total: int) -> None:
        with self._lock:
            self._total = total

    def started(self, model: CompiledModel) -> None:
        with self._lock:
            self._running[model.id] = (model.config.materialized, time.perf_counter())

    def finished(self, result: ModelResult, done: int, total: int) -> None:
        with self._lock:
            self._running.pop(result.id, None)
            self._done, self._total = done, total
            self._failed += 0 if result.ok else 1
        _, style = STATUS[result.status]
        self._live.console.print(escape(result_line(result, done, total)),
                                 style=style if result.status != "success" else None)
        for line in detail_lines(result, self.base):
            self._live.console.print(escape(line), style=style)

    def __rich__(self) -> RenderableType:
        with self._lock:
            running = sorted(self._running.items(), key=lambda item: item[1][1])
            done, total, failed = self._done, self._total, self._failed
        now = time.perf_counter()
        table = Table.grid(padding=(0, 1))
        for mid, (materialized, started) in running:
            table.add_row(Spinner("dots", style="cyan"), Text(mid), Text(materialized, "dim"),
                          Text(f"{now - started:6.1f}s", "dim"))
        status = (f"{done}/{total} done, {len(running)} running" if total
                  else "reading the warehouse")
        if failed:
            status += f", {failed} not built"
        status += f"  {now - self._started:.1f}s"
        return Group(table, Text(status, style="bold"))
