"""The log: target/dpsql.log for every command that writes target/, and `--log-format json`.

Each build writes a START and an END event per model (with its status, seconds and rows),
and each test run a TEST event per data test, with timestamps, to the log file. With
`--log-format json` the file holds one JSON object per line, and a build or a test run also
prints its events as JSON lines on stdout instead of the progress display:

    {"ts": "2026-01-01T10:00:00.123456Z", "level": "info", "event": "START",
     "node": "orders.fct_orders", "msg": "START orders.fct_orders (table)", ...}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from dpsql.build.results import CheckResult, ModelResult
from dpsql.core.project import CompiledModel

LOG_FILE = "dpsql.log"
FORMATS = ("text", "json")
events = logging.getLogger("dpsql.events")
_state: dict[str, Any] = {"format": "text", "handler": None}


def set_format(fmt: str) -> None:
    _state["format"] = fmt


def is_json() -> bool:
    return bool(_state["format"] == "json")


def _event(record: logging.LogRecord) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(record.created, tz=UTC).isoformat().replace("+00:00", "Z")
    data = {"ts": stamp, "level": record.levelname.lower(),
            "event": getattr(record, "event", "LOG"), "logger": record.name,
            "msg": record.getMessage()}
    data.update(getattr(record, "data", {}))
    return data


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_event(record), default=str)


def open_log_file(root: Path) -> Path | None:
    """Log dpsql's INFO records to target/dpsql.log (appended), in the chosen format; the
    file of an earlier command in this process is closed first."""
    close_log_file()
    path = root / "target" / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None  # target/ cannot be written: the command reports DP009 itself
    handler.setLevel(logging.INFO)
    handler.setFormatter(JsonFormatter() if is_json() else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("dpsql")
    logger.addHandler(handler)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
    _state["handler"] = handler
    return path


def close_log_file() -> None:
    handler = _state["handler"]
    if handler is not None:
        logger = logging.getLogger("dpsql")
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        handler.close()
        _state["handler"] = None


def emit(event: str, msg: str, **data: Any) -> None:
    """An event in the log file, and on stdout as a JSON line with --log-format json."""
    record = events.makeRecord(events.name, logging.INFO, "", 0, msg, (), None,
                               extra={"event": event, "data": data})
    if events.isEnabledFor(logging.INFO):
        events.handle(record)
    if is_json():
        click.echo(json.dumps(_event(record), default=str))


class EventReporter:
    """A build reporter that logs START and END per model, then tells `inner` (the progress
    display; None with --log-format json, whose stdout is the events themselves)."""

    def __init__(self, inner: Any | None):
        self.inner = inner

    def begin(self, total: int) -> None:
        emit("BEGIN", f"building {total} models", total=total)
        if self.inner is not None:
            self.inner.begin(total)

    def started(self, model: CompiledModel) -> None:
        emit("START", f"START {model.id} ({model.config.materialized})", node=model.id,
             materialized=str(model.config.materialized))
        if self.inner is not None:
            self.inner.started(model)

    def finished(self, result: ModelResult, done: int, total: int) -> None:
        emit("END", f"END {result.id} {result.status} in {result.seconds:.2f}s", node=result.id,
             status=result.status, seconds=round(result.seconds, 4), rows=result.rows,
             index=done, total=total, message=result.message,
             tests=[{"name": c.name, "status": c.status, "failures": c.failures}
                    for c in result.checks])
        if self.inner is not None:
            self.inner.finished(result, done, total)


def test_event(check: CheckResult) -> None:
    emit("TEST", f"TEST {check.name} {check.status}", node=check.name, status=check.status,
         failures=check.failures, seconds=round(check.seconds, 4), message=check.message)


@contextmanager
def build_reporter(console: Any) -> Iterator[EventReporter]:
    """The build's reporter: events, and the console's progress display unless the output
    is JSON."""
    if is_json():
        yield EventReporter(None)
        return
    with console.build_progress() as progress:
        yield EventReporter(progress)


def build_summary(console: Any, run: Any) -> None:
    """The end of a build: a SUMMARY event, and the console's summary unless JSON."""
    counts: dict[str, int] = {}
    for result in run.results:
        counts[result.status] = counts.get(result.status, 0) + 1
    for check in run.input_checks:
        test_event(check)
    emit("SUMMARY", f"build finished in {run.seconds:.2f}s", seconds=round(run.seconds, 4),
         counts=counts, ok=run.ok, interrupted=run.interrupted, stopped=run.stopped)
    if not is_json():
        console.run_summary(run)


def test_reporter(console: Any) -> Any:
    def report(check: CheckResult) -> None:
        test_event(check)
        if not is_json():
            console.check_result(check)
    return report


def test_summary(console: Any, run: Any) -> None:
    counts: dict[str, int] = {}
    for check in run.results:
        counts[check.status] = counts.get(check.status, 0) + 1
    emit("SUMMARY", f"tests finished in {run.seconds:.2f}s", seconds=round(run.seconds, 4),
         counts=counts, ok=run.ok, not_run=run.not_run)
    if not is_json():
        console.test_summary(run)
