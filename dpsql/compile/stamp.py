"""A stamp of what the last successful compile read, so that `dpsql compile` with nothing
changed can say so without loading the project.

What a compile reads: dpsql.yml, every product.yml, the SQL files under each product's
models/, macros/ and tests/, the workspace's macros/, the files of `file:` inputs, the
warehouse catalog (for `table:` inputs), the environment variables templates read, and
dpsql itself. The stamp records the size and modification time of each file, those
variables' values and the outputs written; any difference means a real compile.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dpsql.core import __version__
from dpsql.core.errors import Diagnostic, Location, Severity

log = logging.getLogger("dpsql")

FILE = Path("target") / "cache" / "stamp.json"
_SKIP = {"target", "node_modules", "__pycache__", "logs"}


def _workspace_files(root: Path) -> list[str]:
    """dpsql.yml, workspace macros, and each product's yml and SQL files, sorted."""
    found = [str(root / "dpsql.yml")]
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP)
        here = Path(folder)
        in_sql_folder = any(part in ("models", "macros", "tests") for part in
                            here.relative_to(root).parts)
        for name in files:
            if name == "product.yml" or (in_sql_folder and name.endswith(".sql")):
                found.append(str(here / name))
    return sorted(found)


def _stats(paths: Iterable[str]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append([path, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([path, None, None])
    return out


def record(root: Path, *, inputs: Iterable[Path], warehouse: Path | None,
           env: Mapping[str, str | None], outputs: Iterable[Path],
           warnings: list[list[Any]], summary: str) -> None:
    """Write the stamp after a successful compile (a failure to write only costs speed)."""
    stamp = {
        "dpsql": __version__,
        "files": _stats(_workspace_files(root)),
        "inputs": _stats(str(p) for p in inputs),
        "warehouse": _stats([str(warehouse)]) if warehouse is not None else None,
        "env": dict(env),
        "outputs": sorted(str(p) for p in outputs),
        "warnings": warnings,
        "summary": summary,
    }
    path = root / FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.info("could not write %s: %s", path, exc)


def unchanged(root: Path, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The stamp, if nothing a compile reads has changed since it was written; else None."""
    try:
        stamp = json.loads((root / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        if stamp["dpsql"] != __version__:
            return None
        if stamp["files"] != _stats(_workspace_files(root)):
            return None
        if stamp["inputs"] != _stats(p for p, _, _ in stamp["inputs"]):
            return None
        if stamp["warehouse"] is not None and stamp["warehouse"] != _stats(
                [stamp["warehouse"][0][0]]):
            return None
        if any(environ.get(k) != v for k, v in stamp["env"].items()):
            return None
        if not all(os.path.exists(p) for p in stamp["outputs"]):
            return None
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return dict(stamp)


def diagnostic_to_data(d: Diagnostic) -> list[Any]:
    loc = d.location
    return [d.code, d.message, str(loc.path) if loc else None, loc.line if loc else 0,
            loc.col if loc else 0, d.hint, d.severity.value]


def diagnostics_from_data(rows: Iterable[list[Any]]) -> list[Diagnostic]:
    return [Diagnostic(code, message, Location(Path(path), line, col) if path else None, hint,
                       Severity(severity))
            for code, message, path, line, col, hint, severity in rows]
