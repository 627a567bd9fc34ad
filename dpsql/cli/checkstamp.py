"""`dpsql check` with nothing changed since the last check: its diagnostics, without a compile.

The check keeps a stamp of its own (`target/cache/check.json`, the format of the compile's,
dpsql/compile/stamp.py) holding every diagnostic it reported; it is used when no file a check
reads changed, nor an environment variable a template read, nor the date deprecations are
judged by (`DPSQL_TODAY`, else today). A check with `--base` always runs (another revision is
read), and `DPSQL_NO_FAST_PATHS` turns this off.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dpsql.cli.targeting import stamp_context
from dpsql.compile import stamp
from dpsql.compile.checks.deprecation import TODAY, today
from dpsql.core.errors import Diagnostic
from dpsql.core.project import Project
from dpsql.core.runtime import fast_paths_enabled

FILE = Path("target") / "cache" / "check.json"


def last_check(root: Path, environ: Mapping[str, str], outputs: Path | None = None,
               context: Any = None) -> list[Diagnostic] | None:
    """The diagnostics of the last check (of the same target and --vars), if nothing it read
    changed since; else None."""
    if not fast_paths_enabled():
        return None
    found = stamp.unchanged(root, environ, outputs, context, FILE)
    if found is None or found["summary"] != str(today(environ)):
        return None
    return list(found["warnings"])


def record_check(snapshot: stamp.Snapshot, project: Project, env_read: Mapping[str, str | None],
                 diagnostics: list[Diagnostic], environ: Mapping[str, str]) -> None:
    """After a check that loaded the project: what the next one compares with."""
    snapshot.add_project(project)
    snapshot.record(env={**env_read, TODAY: environ.get(TODAY)}, outputs=(),
                    warnings=diagnostics, summary=str(today(environ)), file=FILE)


def check_diagnostics(project_dir: Path, base: str | None) -> list[Diagnostic]:
    """Every diagnostic of `dpsql check`: from its stamp when nothing changed, else from a
    compile (which reads and writes the compile cache; a target/ that cannot be written only
    costs speed)."""
    from dpsql.load.config import environment

    root, environ = project_dir.resolve(), environment()
    outputs, context = stamp_context(project_dir)
    last = last_check(root, environ, outputs, context) if base is None else None
    if last is not None:
        return last
    from dpsql.compile.cache import CompileCache
    from dpsql.compile.pipeline import compile_project
    from dpsql.core.errors import DpsqlError
    from dpsql.core.runtime import collector_paused
    from dpsql.lineage.model import lineage_warnings
    from dpsql.load.loader import load_project

    snapshot = stamp.Snapshot.take(root, outputs, context)
    try:
        with collector_paused():  # as for a compile (cli/compiling.py)
            project = load_project(project_dir, cached=True)
            cache = CompileCache.load(project.root, project.config.outputs)
            compiled = compile_project(project, cache=cache)
            cache.save()
            del cache
            diagnostics = list(compiled.diagnostics) + lineage_warnings(compiled)
    except DpsqlError as exc:
        return list(exc.diagnostics)
    if base is None:
        record_check(snapshot, project, compiled.env_read, diagnostics, environ)
        return diagnostics
    from dpsql.cli.mesh import base_diagnostics
    try:
        return diagnostics + base_diagnostics(project_dir, base)
    except DpsqlError as exc:
        return list(exc.diagnostics)
