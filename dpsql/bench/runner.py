"""Run the benchmark: generate each mesh size, time dpsql, the floor and the peers, report."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpsql.bench.mesh import Mesh, edit_one_model, generate_mesh
from dpsql.bench.peers import (
    find_peer,
    peer_version,
    repo_root,
    time_dbt,
    time_floor,
    time_sqlmesh,
)
from dpsql.bench.proc import Step, best_of, remove, run_timed
from dpsql.bench.report import evaluate_targets, growth, render_markdown

Log = Callable[[str], None]
ALL_TOOLS = ("floor", "dpsql", "general", "dbt", "sqlmesh")  # general: dpsql, no fast paths


@dataclass
class BenchConfig:
    sizes: list[int] = field(default_factory=lambda: [100, 1000])
    rows: int = 10_000
    models_per_product: int = 10
    out: Path = Path("target/bench/results.json")
    work: Path = Path("target/bench")
    peers: bool = True
    timeout: float = 3600.0
    seed: int = 7
    repeat: int = 1  # run each tool's steps this many times and keep the fastest
    tools: tuple[str, ...] = ALL_TOOLS


def find_dpsql_cli() -> list[str] | None:
    """The dpsql CLI next to this interpreter, else the module run by this interpreter."""
    exe = Path(sys.executable).parent / "dpsql"
    if exe.exists():
        return [str(exe)]
    try:
        if importlib.util.find_spec("dpsql.__main__") is not None:
            return [sys.executable, "-m", "dpsql"]
        if importlib.util.find_spec("dpsql.cli") is not None:
            return [sys.executable, "-c", "import sys; from dpsql.cli import main; sys.exit(main())"]
    except (ImportError, ValueError):
        return None
    return None


def time_dpsql(mesh: Mesh, cli: list[str], timeout: float, general: bool = False
               ) -> dict[str, Step]:
    """Cold, unchanged and one-model-edited compile; full, unchanged and edited build.
    `general`: with DPSQL_NO_FAST_PATHS set (the same work without the shortcuts)."""
    ws = mesh.workspace
    env: dict[str, str | None] = {"PYTHONPATH": str(repo_root()),
                                  "DPSQL_NO_FAST_PATHS": "1" if general else None}
    warehouse = ws / "warehouse.duckdb"

    def run(command: str) -> Step:
        return run_timed([*cli, command, "-p", str(ws)], ws, env, timeout)[0]

    steps: dict[str, Step] = {}
    remove(ws / "target", warehouse, warehouse.with_name(warehouse.name + ".wal"))
    steps["compile_cold"] = run("compile")
    if steps["compile_cold"].ok and not (ws / "target" / "manifest.json").exists():
        steps["compile_cold"].detail["warning"] = "no target/manifest.json written"
    steps["compile_noop"] = run("compile")
    edit_one_model(mesh, 1, ("dpsql",))
    steps["compile_edit"] = run("compile")
    steps["check_warm"] = run("check")
    steps["check_noop"] = run("check")
    remove(warehouse, warehouse.with_name(warehouse.name + ".wal"))
    steps["build_full"] = run("build")
    if steps["build_full"].ok:
        steps["build_full"].detail.update(compare_ports(mesh, warehouse))
    steps["build_noop"] = run("build")
    edit_one_model(mesh, 2, ("dpsql",))
    steps["build_edit"] = run("build")
    return steps


def compare_ports(mesh: Mesh, warehouse: Path) -> dict[str, Any]:
    """Row counts of every port in the dpsql warehouse against the floor's database."""
    import duckdb

    floor_db = mesh.root / "floor.duckdb"
    if not floor_db.exists() or not warehouse.exists():
        return {}
    ports = [f"{p.name}.{port}" for p in mesh.spec.products for port in p.ports]
    mismatched: list[str] = []
    try:
        a = duckdb.connect(str(warehouse), read_only=True)
        b = duckdb.connect(str(floor_db), read_only=True)
        try:
            for rel in ports:
                n_a = a.execute(f"select count(*) from {rel}").fetchall()[0][0]
                n_b = b.execute(f"select count(*) from {rel}").fetchall()[0][0]
                if n_a != n_b:
                    mismatched.append(rel)
        finally:
            a.close()
            b.close()
    except duckdb.Error as exc:
        return {"port_check": f"failed: {exc}"[:300]}
    if mismatched:
        return {
            "port_check": f"{len(mismatched)} ports differ from the floor",
            "ports_differing": mismatched[:20],
        }
    return {"port_check": f"all {len(ports)} ports match the floor's row counts"}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    mem_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
    }


def run_size(cfg: BenchConfig, models: int, log: Log) -> dict[str, Any]:
    products = max(1, models // cfg.models_per_product)
    root = cfg.work.resolve() / f"mesh-{products}x{cfg.models_per_product}-{cfg.rows}r"
    log(
        f"generating {products} products x {cfg.models_per_product} models, "
        f"{cfg.rows} rows per raw table in {root}"
    )
    mesh = generate_mesh(root, products, cfg.models_per_product, cfg.rows, cfg.seed)
    tools: dict[str, dict[str, Step]] = {}
    reps = max(1, cfg.repeat)
    if "floor" in cfg.tools:
        log("  DuckDB floor")
        tools["floor"] = best_of([time_floor(mesh, cfg.timeout) for _ in range(reps)])
    cli = find_dpsql_cli()
    if "dpsql" in cfg.tools:
        log("  dpsql")
        if cli is None:
            tools["dpsql"] = {"compile_cold": Step.skipped("dpsql CLI not found")}
        else:
            tools["dpsql"] = best_of([time_dpsql(mesh, cli, cfg.timeout) for _ in range(reps)])
    if "general" in cfg.tools and cli is not None:
        log("  dpsql without its fast paths (DPSQL_NO_FAST_PATHS=1)")
        tools["general"] = best_of([time_dpsql(mesh, cli, cfg.timeout, general=True)
                                    for _ in range(reps)])
    for tool, timer in (("dbt", time_dbt), ("sqlmesh", time_sqlmesh)):
        exe = find_peer(tool) if cfg.peers and tool in cfg.tools else None
        if exe is not None:
            log(f"  {tool}")
            tools[tool] = best_of([timer(mesh, exe, cfg.timeout) for _ in range(reps)])
    for tool, steps in tools.items():
        for name, step in steps.items():
            if not step.ok:
                log(f"  ! {tool} {name}: {step.error}")
    return {
        "models": mesh.spec.n_models,
        "mesh": mesh.summary(),
        "path": str(root),
        "tools": {t: {k: s.to_json() for k, s in steps.items()} for t, steps in tools.items()},
    }


def run_bench(cfg: BenchConfig, log: Log) -> dict[str, Any]:
    """Run every size, write the JSON and the markdown next to it, return the results."""
    versions: dict[str, str | None] = {
        "dpsql": _version("dpsql") or "source",
        "sqlglot": _version("sqlglot"),
        "sqlglotc": _version("sqlglotc"),
        "duckdb": _version("duckdb"),
    }
    if cfg.peers:
        for tool in ("dbt", "sqlmesh"):
            exe = find_peer(tool)
            if exe is not None:
                versions[tool] = peer_version(tool, exe)
    results: dict[str, Any] = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions,
        "config": {
            "sizes": cfg.sizes,
            "rows": cfg.rows,
            "seed": cfg.seed,
            "models_per_product": cfg.models_per_product,
            "repeat": cfg.repeat,
            "tools": list(cfg.tools),
            "peers": cfg.peers,
        },
        "runs": [run_size(cfg, size, log) for size in cfg.sizes],
    }
    results["targets"] = evaluate_targets(results)
    results["growth"] = growth(results)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    cfg.out.with_suffix(".md").write_text(render_markdown(results), encoding="utf-8")
    return results
