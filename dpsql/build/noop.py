"""A build with nothing to do, answered without compiling or opening the warehouse.

After a build in which every selected model was built or found unchanged, `record()` writes
`target/cache/build.json`: a digest of the compile stamp (dpsql/compile/stamp.py, which
covers every file a compile reads, the environment variables templates read and dpsql's
version), the selection, the warehouse file (and its write-ahead log) as the build left it,
and the models of the plan. The next build first asks `unchanged()`: if the stamp still
matches the workspace, is the one recorded, the selection is the same and the warehouse file
has the same size and modification time, then the compile would give the same models, the
same fingerprints, and would find them all recorded in the warehouse: every model is
unchanged, and the build is done.

Anything else (an edited file, a changed variable, another selection, `--full-refresh`, a
warehouse written since by anyone, a failed or interrupted build) takes the ordinary route:
compile, read the catalog and the fingerprints, compare. The record is removed before an
ordinary build starts and written again only after one that succeeded, so it never outlives
the state it describes. `DPSQL_NO_FAST_PATHS` turns this off.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dpsql.build.results import OK_STATUSES, UNCHANGED, ModelResult, RunResult
from dpsql.compile import stamp
from dpsql.compile.cache import read_sealed, write_sealed
from dpsql.core.runtime import fast_paths_enabled

log = logging.getLogger("dpsql")

FILE = Path("target") / "cache" / "build.json"
FORMAT = 1
MESSAGE = "unchanged since the last build"


def _stamp_digest(root: Path, outputs: Path | None) -> str | None:
    try:
        return hashlib.blake2b(stamp.path_of(root, outputs).read_bytes(),
                               digest_size=16).hexdigest()
    except OSError:
        return None


def _files(warehouse: Path) -> list[list[Any]]:
    """[path, size, mtime_ns] of the warehouse and of its write-ahead log (None: absent)."""
    out = []
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        try:
            st = os.stat(path)
            out.append([str(path), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([str(path), None, None])
    return out


def forget(root: Path, outputs: Path | None = None) -> None:
    """Drop the record: an ordinary build is about to change the warehouse."""
    with contextlib.suppress(OSError):
        stamp.path_of(root, outputs, FILE).unlink()


def record(root: Path, warehouse: Path, selection: Sequence[Sequence[str]],
           run: RunResult, outputs: Path | None = None) -> None:
    """After a build where every model was built or unchanged: what the next build checks.
    `outputs`: the chosen target's folder (a DuckDB target's: others keep no record)."""
    digest = _stamp_digest(root, outputs)
    if digest is None or run.interrupted or not run.ok or any(
            r.status not in OK_STATUSES for r in run.results):
        return
    write_sealed(stamp.path_of(root, outputs, FILE), "build", FORMAT, {
        "stamp": digest,
        "selection": [list(s) for s in selection],
        "warehouse": _files(warehouse),
        "models": [[r.id, r.relation, r.materialized] for r in run.results],
    })


def unchanged(root: Path, selection: Sequence[Sequence[str]], environ: Mapping[str, str],
              outputs: Path | None = None, context: Any = None
              ) -> tuple[RunResult, dict[str, Any]] | None:
    """Every selected model unchanged, and the compile stamp (for its warnings), when nothing
    a build depends on changed since the recorded one; else None. `outputs` and `context`:
    the chosen target's, as for the compile stamp."""
    if not fast_paths_enabled():
        return None
    seen = read_sealed(stamp.path_of(root, outputs, FILE), "build", FORMAT)
    if not isinstance(seen, dict):
        return None
    last = stamp.unchanged(root, environ, outputs, context)
    try:
        if (last is None or seen["stamp"] != _stamp_digest(root, outputs)
                or seen["selection"] != [list(s) for s in selection]
                or not seen["warehouse"]
                or _files(Path(seen["warehouse"][0][0])) != seen["warehouse"]):
            return None
        results = tuple(ModelResult(str(i), UNCHANGED, message=MESSAGE, relation=str(rel),
                                    materialized=str(kind)) for i, rel, kind in seen["models"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    log.info("nothing changed since the last build (%s): no compile",
             stamp.path_of(root, outputs, FILE))
    return RunResult(results, 0.0), last
