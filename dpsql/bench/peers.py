"""Time the peers (dbt-core with dbt-duckdb, SQLMesh) and the plain-DuckDB floor on a mesh.

The peers live in their own virtualenvs under `<repo>/.bench/` (they pin their own sqlglot and
duckdb, so they never share dpsql's environment); a peer whose executable is missing is skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dpsql.bench.mesh import Mesh, edit_one_model
from dpsql.bench.proc import Step, remove, run_timed

PEER_VENVS = {"dbt": ".bench/venv-dbt", "sqlmesh": ".bench/venv-sqlmesh"}
PEER_PACKAGES = {"dbt": "dbt-core", "sqlmesh": "sqlmesh"}
# Keep the peers off the network and quiet: no usage statistics, no version checks.
PEER_ENV: dict[str, str | None] = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_VERSION_CHECK": "false",
    "PYTHONPATH": None,
    "VIRTUAL_ENV": None,
}


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def find_peer(tool: str, root: Path | None = None) -> Path | None:
    exe = (root or repo_root()) / PEER_VENVS[tool] / "bin" / tool
    return exe if exe.exists() else None


def peer_version(tool: str, exe: Path) -> str | None:
    code = f"import importlib.metadata as m; print(m.version('{PEER_PACKAGES[tool]}'))"
    try:
        out = subprocess.run(
            [str(exe.parent / "python"), "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _warehouse(folder: Path) -> tuple[Path, Path]:
    db = folder / "warehouse.duckdb"
    return db, db.with_name(db.name + ".wal")


def time_floor(mesh: Mesh, timeout: float) -> dict[str, Step]:
    """The floor's full build; `seconds` is the time spent executing SQL in DuckDB only."""
    db = mesh.root / "floor.duckdb"
    remove(db, db.with_name(db.name + ".wal"))
    cmd = [sys.executable, "-m", "dpsql.bench.floor", mesh.floor_script.name, db.name]
    step, stdout = run_timed(cmd, mesh.root, {"PYTHONPATH": str(repo_root())}, timeout)
    if step.ok:
        try:
            inner = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"build_full": Step(error="floor printed no result", command=step.command)}
        step.detail = {"process_seconds": step.seconds, "statements": inner["statements"]}
        step.seconds = float(inner["seconds"])
    return {"build_full": step}


def time_dbt(mesh: Mesh, exe: Path, timeout: float) -> dict[str, Step]:
    """dbt parse (cold), dbt compile (cold, then unchanged, then one model edited), dbt run."""
    folder = mesh.dbt_dir
    base = [str(exe)]
    flags = ["--profiles-dir", ".", "--project-dir", "."]

    def run(*args: str) -> Step:
        return run_timed([*base, *args, *flags], folder, PEER_ENV, timeout)[0]

    steps: dict[str, Step] = {}
    remove(folder / "target", folder / "logs", *_warehouse(folder))
    steps["parse"] = run("parse")
    remove(folder / "target")
    steps["compile_cold"] = run("compile")
    steps["compile_noop"] = run("compile")
    edit_one_model(mesh, 1, ("dbt",))
    steps["compile_edit"] = run("compile")
    remove(*_warehouse(folder))
    steps["build_full"] = run("run")
    return steps


def time_sqlmesh(mesh: Mesh, exe: Path, timeout: float) -> dict[str, Step]:
    """SQLMesh: cold load (`info` with no cache), warm load, then plan and apply."""
    folder = mesh.sqlmesh_dir

    def run(*args: str) -> Step:
        return run_timed([str(exe), *args], folder, PEER_ENV, timeout)[0]

    def plan() -> Step:
        return run("plan", "--auto-apply", "--no-prompts")

    steps: dict[str, Step] = {}
    remove(folder / ".cache", folder / "logs", *_warehouse(folder))
    steps["compile_cold"] = run("info")
    steps["compile_noop"] = run("info")
    edit_one_model(mesh, 1, ("sqlmesh",))
    steps["compile_edit"] = run("info")
    remove(*_warehouse(folder))
    steps["build_full"] = plan()
    steps["build_noop"] = plan()
    edit_one_model(mesh, 2, ("sqlmesh",))
    steps["build_edit"] = plan()
    return steps
