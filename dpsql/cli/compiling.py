"""The compile every command starts with: load, compile with the cache, write target/ and
its stamp, print the warnings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpsql.cli import logs
from dpsql.cli.targeting import stamp_context

if TYPE_CHECKING:
    from dpsql.cli.console import Console
    from dpsql.core.project import CompiledProject


def compile_workspace(project_dir: Path, console: Console, *, write: bool = True,
                      chosen: tuple[Path | None, Any] | None = None,
                      stale: bool = False) -> CompiledProject:
    """Load and compile; print warnings; raise on errors. With `write`, target/compiled/ and
    manifest.json are written (and target/ must be writable: DP009). `chosen`: the target's
    outputs and stamp context, when the command has already read them (stamp_context);
    `stale`: the command has just found the stamp out of date (it is not read again)."""
    from dpsql.compile import stamp
    from dpsql.compile.cache import CompileCache
    from dpsql.compile.pipeline import compile_project
    from dpsql.core.errors import DpsqlError
    from dpsql.core.runtime import collector_paused
    from dpsql.load.config import environment
    from dpsql.load.loader import load_project

    # nothing a compile reads changed: the written outputs stand (the compile still runs,
    # from the cache, because the command needs the compiled project)
    root = project_dir.resolve()
    outputs, context = chosen if chosen is not None else stamp_context(project_dir)
    up_to_date = write and not stale and stamp.unchanged(root, environment(), outputs,
                                                         context) is not None
    # the stamp describes the files as they were before the compile read them
    snapshot = (stamp.Snapshot.take(root, outputs, context) if write and not up_to_date
                else None)
    with collector_paused():  # see runtime.collector_paused: no cycles worth the passes here
        project = load_project(project_dir, cached=True)
        if write:
            logs.open_log_file(project.root)
        if snapshot is not None:
            snapshot.add_project(project)
        cache = CompileCache.load(project.root, project.config.outputs)
        compiled = compile_project(project, cache=cache)
        cache.save()
        del cache  # its entries (most of a compile's memory) are not needed for the outputs
        unwritable = stamp.target_problem(project.root, outputs) if write else None
        if compiled.errors or unwritable is not None:
            raise DpsqlError([*compiled.diagnostics, *([unwritable] if unwritable else [])])
        warnings = [d for d in compiled.diagnostics if not d.is_error]
        if warnings:
            console.diagnostics(warnings)
        if snapshot is not None:
            snapshot.record(env={**project.config.env_read, **compiled.env_read},
                            outputs=_write_outputs(compiled),
                            warnings=warnings, summary=summary(compiled))
    return compiled


def summary(compiled: CompiledProject) -> str:
    return (f"Compiled {len(compiled.models)} models in {len(compiled.project.products)} "
            f"products into {compiled.project.config.outputs}")


def _write_outputs(compiled: CompiledProject) -> list[Path | str]:
    """target/manifest.json and target/compiled/; DP009 if they cannot be written."""
    from dpsql.compile.stamp import output_error
    from dpsql.core.errors import DpsqlError
    from dpsql.outputs.artifacts import write_compiled, write_manifest
    from dpsql.outputs.dbt_artifacts import write_dbt_manifest

    try:
        return [write_manifest(compiled), write_dbt_manifest(compiled), *write_compiled(compiled)]
    except OSError as exc:
        where = Path(exc.filename) if isinstance(exc.filename, str) else compiled.project.root
        raise DpsqlError([output_error(where, exc.strerror or str(exc))]) from None
