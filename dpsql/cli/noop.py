"""`dpsql build` with nothing changed since the last build: answered from its record."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from dpsql.build import noop
from dpsql.cli.console import Console
from dpsql.load.config import environment
from dpsql.outputs.artifacts import write_run_results_in


def nothing_to_build(root: Path, selection: tuple[tuple[str, ...], ...], console: Console,
                     chosen: tuple[Path | None, Any]) -> bool:
    """Say so and write run_results.json when nothing changed since the last build (no
    compile, no warehouse: dpsql/build/noop.py); False when the build must run. `chosen`:
    the target's outputs and stamp context (cli/targeting.stamp_context)."""
    started = time.perf_counter()
    outputs, context = chosen
    found = noop.unchanged(root, selection, environment(), outputs, context)
    if found is None:
        return False
    result, last = found
    console.diagnostics(last["warnings"])
    result = replace(result, seconds=time.perf_counter() - started)
    write_run_results_in(root, result, outputs)
    console.run_summary(result)
    return True


def remembered(select: tuple[str, ...], exclude: tuple[str, ...], state: Path | None,
               full_refresh: bool) -> bool:
    """Whether a build with these options may be answered from the record: not with
    --full-refresh, nor when the selection reads another run (`--state`, `state:`,
    `result:`), which the record does not cover."""
    reads_runs = any(part.startswith(("state:", "result:"))
                     for selector in (*select, *exclude) for part in selector.replace(",", " ").split())
    return not full_refresh and state is None and not reads_runs
