"""`dpsql build` with nothing changed since the last build: answered from its record."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from dpsql.build import noop
from dpsql.cli.console import Console
from dpsql.load.config import environment
from dpsql.outputs.artifacts import write_run_results_in


def nothing_to_build(root: Path, selection: tuple[tuple[str, ...], ...],
                     console: Console) -> bool:
    """Say so and write run_results.json when nothing changed since the last build (no
    compile, no warehouse: dpsql/build/noop.py); False when the build must run."""
    started = time.perf_counter()
    found = noop.unchanged(root, selection, environment())
    if found is None:
        return False
    result, last = found
    console.diagnostics(last["warnings"])
    result = replace(result, seconds=time.perf_counter() - started)
    write_run_results_in(root, result)
    console.run_summary(result)
    return True
