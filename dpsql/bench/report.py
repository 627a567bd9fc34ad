"""Targets, growth and the markdown table, all computed from the results dictionary alone."""

from __future__ import annotations

import itertools
from typing import Any

STEPS = (
    ("parse", "parse (cold)"),
    ("compile_cold", "cold compile"),
    ("compile_noop", "compile, nothing changed"),
    ("compile_edit", "compile, one model edited"),
    ("check_warm", "check, after that compile"),
    ("check_noop", "check, nothing changed"),
    ("build_full", "full build (fresh warehouse)"),
    ("build_noop", "build, nothing changed"),
    ("build_edit", "build, one model edited"),
)
TOOLS = (("dpsql", "dpsql"), ("general", "dpsql, no fast paths"), ("dbt", "dbt"),
         ("sqlmesh", "SQLMesh"), ("floor", "DuckDB floor"))
TARGET_SIZE = 1000
LARGE_SIZE = 10_000
GROWTH_TOLERANCE = 1.1  # "linear" allows 10% of noise over the ratio of model counts

NOTES = """\
What each cell runs (wall time of the whole process, peak = largest resident set of one process):

- dpsql: `dpsql compile -p DIR` with no `target/` (cold), again (nothing changed), after adding a
  literal column to one internal model (edited); `dpsql check -p DIR` after that compile (its
  cache warm), and again (nothing changed); `dpsql build -p DIR` with no warehouse (full),
  again (nothing changed), after a second edit of the same model (edited).
- dpsql, no fast paths: the same, with `DPSQL_NO_FAST_PATHS=1` (every template through Jinja,
  typing in one process, a build or check with nothing changed compiled again).
- dbt: `dbt parse` and `dbt compile` with no `target/`; `dbt compile` again (partial parsing);
  again after the same edit; `dbt run` on a fresh warehouse (every model a table).
- SQLMesh: `sqlmesh info` with no `.cache/` (the cold load of every model), again (warm cache),
  again after the edit; `sqlmesh plan --auto-apply --no-prompts` on a fresh warehouse (plan and
  apply), again (nothing changed), again after a second edit.
- DuckDB floor: seconds spent inside DuckDB executing the same SELECTs as CREATE TABLE AS in
  dependency order on one connection (process start-up excluded).
"""


def _step(results_run: dict[str, Any], tool: str, step: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = results_run["tools"].get(tool, {}).get(step)
    return found


def _seconds(run: dict[str, Any], tool: str, step: str) -> float | None:
    s = _step(run, tool, step)
    return s.get("seconds") if s and s.get("ok") else None


def _peak(run: dict[str, Any], tool: str, prefix: str = "") -> float | None:
    """The largest peak of a tool's steps (whose names start with `prefix`)."""
    steps = run["tools"].get(tool, {})
    peaks = [s["peak_rss_mb"] for k, s in steps.items() if "peak_rss_mb" in s and k.startswith(prefix)]
    return max(peaks) if peaks else None


def fmt_seconds(value: float) -> str:
    if value < 1:
        return f"{value:.3f} s"
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.1f} s"


def _cell(run: dict[str, Any], tool: str, step: str, missing: dict[str, str]) -> str:
    if tool not in run["tools"]:
        return missing.get(tool, "—")
    s = _step(run, tool, step)
    if s is None:
        return "—"
    if s.get("ok"):
        return fmt_seconds(s["seconds"])
    error = str(s.get("error", "failed")).replace("|", "/").replace("\n", " ")
    return f"error: {error[:60]}"


def _run_for(results: dict[str, Any], size: int) -> dict[str, Any] | None:
    for run in results["runs"]:
        if run["models"] == size:
            found: dict[str, Any] = run
            return found
    return None


def _target_run(results: dict[str, Any]) -> dict[str, Any] | None:
    exact = _run_for(results, TARGET_SIZE)
    if exact is not None:
        return exact
    small = [r for r in results["runs"] if r["models"] < LARGE_SIZE]
    return max(small, key=lambda r: r["models"]) if small else None


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _row(
    name: str, models: int, value: float | None, goal: str, met: bool | None, unit: str
) -> dict[str, Any]:
    shown = "n/a" if value is None else (f"{value:.1f}x" if unit == "x" else f"{value:.3g} {unit}".strip())
    status = ("n/a" if value is None else "—") if met is None else ("met" if met else "missed")
    return {"target": name, "models": models, "value": value, "shown": shown, "goal": goal, "status": status}


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    run = _target_run(results)
    if run is not None:
        rows += _targets_at(run)
    large = _run_for(results, LARGE_SIZE)
    if large is not None:
        rows += _large_targets(large)
    return rows


def _targets_at(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The ratio and time targets, at the target size (or the largest size below 10,000)."""
    m = run["models"]
    cold = _seconds(run, "dpsql", "compile_cold")
    build = _seconds(run, "dpsql", "build_full")
    checks = [
        (
            "cold compile vs `dbt compile`",
            _ratio(_seconds(run, "dbt", "compile_cold"), cold),
            ">= 10x",
            lambda v: v >= 10,
            "x",
        ),
        (
            "cold compile vs SQLMesh cold load",
            _ratio(_seconds(run, "sqlmesh", "compile_cold"), cold),
            ">= 25x",
            lambda v: v >= 25,
            "x",
        ),
        (
            "compile, nothing changed",
            _seconds(run, "dpsql", "compile_noop"),
            "< 0.3 s",
            lambda v: v < 0.3,
            "s",
        ),
        (
            "full build / DuckDB floor",
            _ratio(build, _seconds(run, "floor", "build_full")),
            "<= 1.2x",
            lambda v: v <= 1.2,
            "x",
        ),
        (
            "`dbt run` vs full build",
            _ratio(_seconds(run, "dbt", "build_full"), build),
            ">= 5x",
            lambda v: v >= 5,
            "x",
        ),
        ("build, nothing changed", _seconds(run, "dpsql", "build_noop"), "<= 0.3 s",
         lambda v: v <= 0.3, "s"),
    ]
    return [_row(name, m, value, goal, None if value is None else test(value), unit)
            for name, value, goal, test, unit in checks]


def _large_targets(large: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets at 10,000 models: cold compile, its peak memory, a compile after an edit."""
    rows: list[dict[str, Any]] = []
    cold = _seconds(large, "dpsql", "compile_cold")
    rows.append(
        _row("cold compile", LARGE_SIZE, cold, "<= 15 s", None if cold is None else cold <= 15, "s")
    )
    peak = _peak(large, "dpsql", "compile")
    met = None if peak is None else peak <= 500
    rows.append(_row("peak memory of a compile", LARGE_SIZE, peak, "<= 500 MB", met, "MB"))
    edit = _seconds(large, "dpsql", "compile_edit")
    rows.append(_row("compile, one model edited", LARGE_SIZE, edit, "<= 2 s",
                     None if edit is None else edit <= 2, "s"))
    noop = _seconds(large, "dpsql", "build_noop")
    rows.append(_row("build, nothing changed", LARGE_SIZE, noop, "(reported)", None, "s"))
    build_peak = _peak(large, "dpsql", "build")
    rows.append(
        _row(
            "peak memory of a build (DuckDB's buffers included)",
            LARGE_SIZE,
            build_peak,
            "(reported)",
            None,
            "MB",
        )
    )
    return rows


def growth(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step's time at one size over the next smaller size, per tool."""
    runs = sorted(results["runs"], key=lambda r: r["models"])
    out: list[dict[str, Any]] = []
    for small, big in itertools.pairwise(runs):
        scale = big["models"] / small["models"]
        for tool, _label in TOOLS:
            for step, _ in STEPS:
                a, b = _seconds(small, tool, step), _seconds(big, tool, step)
                if a and b:
                    factor = b / a
                    out.append(
                        {
                            "tool": tool,
                            "step": step,
                            "from": small["models"],
                            "to": big["models"],
                            "models_ratio": scale,
                            "factor": factor,
                            "linear_or_better": factor <= scale * GROWTH_TOLERANCE,
                        }
                    )
    return out


def _missing_labels(config: dict[str, Any]) -> dict[str, str]:
    """What a tool's cells say when it has no results: not run, or not installed."""
    chosen = config.get("tools", [tool for tool, _ in TOOLS])
    labels = {}
    for tool, _ in TOOLS:
        if tool not in chosen or (tool in ("dbt", "sqlmesh") and not config.get("peers", True)):
            labels[tool] = "not run"
        elif tool in ("dbt", "sqlmesh"):
            labels[tool] = "not installed"
    return labels


def _size_table(run: dict[str, Any], missing: dict[str, str]) -> list[str]:
    mesh = run["mesh"]
    lines = [
        f"### {run['models']:,} models ({mesh['products']} products x "
        f"{mesh['models_per_product']} models, {mesh['rows']:,} rows per raw table)",
        "",
        "| step | " + " | ".join(label for _, label in TOOLS) + " |",
        "|---" * (len(TOOLS) + 1) + "|",
    ]
    for step, label in STEPS:
        cells = [_cell(run, tool, step, missing) for tool, _ in TOOLS]
        if all(c == "—" or c in missing.values() for c in cells):
            continue
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    peaks = []
    for tool, _ in TOOLS:
        p = _peak(run, tool)
        peaks.append(f"{p:.0f} MB" if p is not None else "—")
    lines.append("| peak memory | " + " | ".join(peaks) + " |")
    return [*lines, ""]


def render_markdown(results: dict[str, Any]) -> str:
    v = results["versions"]
    machine = results["machine"]
    lines = [
        "## Benchmark results",
        "",
        f"Run {results['created']} on {machine['cpus']} CPUs, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}. " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + ".",
        "",
    ]
    for run in sorted(results["runs"], key=lambda r: r["models"]):
        lines.extend(_size_table(run, _missing_labels(results.get("config", {}))))
    targets = evaluate_targets(results)
    if targets:
        lines += [
            "### Targets",
            "",
            "| target | models | measured | goal | status |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {t['target']} | {t['models']:,} | {t['shown']} | {t['goal']} | {t['status']} |"
            for t in targets
        ]
        lines.append("")
    grow = growth(results)
    if grow:
        lines += [
            "### Growth between sizes (time at the larger size / time at the smaller)",
            "",
            "| tool | step | models | growth | linear or better |",
            "|---|---|---|---|---|",
        ]
        labels = dict(STEPS)
        lines += [
            f"| {g['tool']} | {labels[g['step']]} | {g['from']:,} -> {g['to']:,} | "
            f"{g['factor']:.1f}x (models {g['models_ratio']:.0f}x) | "
            f"{'yes' if g['linear_or_better'] else 'NO'} |"
            for g in grow
        ]
        lines.append("")
    return "\n".join([*lines, NOTES])
