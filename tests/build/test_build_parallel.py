"""Parallel builds honour dependencies; the progress display works on a terminal and off it."""

from __future__ import annotations

import io
import itertools
from datetime import datetime
from pathlib import Path

from buildkit import build, run_results
from conftest import write_files
from rich.console import Console as RichConsole

SLOW = "select {tag} as tag, count(*) as n from range(60000000) where hash(range) % 1000 = 7\n"
FILES = {
    "p/product.yml": "name: p\n",
    "p/models/a.sql": "{{ config(materialized='table') }}\n" + SLOW.format(tag=1),
    "p/models/b.sql": "{{ config(materialized='table') }}\n" + SLOW.format(tag=2),
    "p/models/c.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('a') }}\n",
    "p/models/e.sql": "{{ config(materialized='ephemeral') }}\nselect n from {{ ref('c') }}\n",
    "p/models/d.sql": "select * from {{ ref('e') }}\n",
}


def interval(entry: dict[str, object]) -> tuple[float, float]:
    start = datetime.fromisoformat(str(entry["started_at"])).timestamp()
    return start, start + float(entry["seconds"])  # type: ignore[arg-type]


def overlaps(x: tuple[float, float], y: tuple[float, float]) -> bool:
    return x[0] < y[1] and y[0] < x[1]


def test_independent_models_run_at_once_and_dependents_wait(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": "name: ws\nthreads: 2\n"})
    build(root)
    results = run_results(root)
    a, b, c, d = (interval(results[f"p.{m}"]) for m in "abcd")
    assert overlaps(a, b)
    assert c[0] >= a[1] - 0.02  # c reads a
    assert d[0] >= c[1] - 0.02  # d reads c through the ephemeral e


def test_one_thread_runs_one_model_at_a_time(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": "name: ws\nthreads: 4\n"})
    build(root, "--threads", "1")
    results = run_results(root)
    spans = sorted(interval(results[f"p.{m}"]) for m in "abcd")
    assert all(later[0] >= earlier[1] - 0.02 for earlier, later in itertools.pairwise(spans))


def test_a_failure_upstream_of_an_ephemeral_model_skips_its_readers(tmp_path: Path) -> None:
    files = {**FILES, "dpsql.yml": "name: ws\n"}
    files["p/models/c.sql"] = "{{ config(materialized='table') }}\n" \
        "select n + 0 * max('x'::integer) over () as n from {{ ref('a') }}\n"
    root = write_files(tmp_path / "ws", files)
    result = build(root, ok=False)
    assert result.exit_code == 1
    statuses = {k: v["status"] for k, v in run_results(root).items()}
    assert statuses == {"p.a": "success", "p.b": "success", "p.c": "error", "p.d": "skipped"}
    assert "upstream p.c did not build" in result.output


def test_live_progress_draws_on_a_terminal(tmp_path: Path) -> None:
    from dpsql.build.engine import BuildOptions, run
    from dpsql.build.plan import select
    from dpsql.cli.progress import LiveProgress
    from dpsql.compile.pipeline import compile_project
    from dpsql.load.loader import load_project

    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": "name: ws\n"})
    compiled = compile_project(load_project(root))
    screen = io.StringIO()
    out = RichConsole(file=screen, force_terminal=True, width=100)
    with LiveProgress(out) as progress:
        result = run(compiled, select(compiled), BuildOptions(threads=2), progress)
    assert result.ok
    text = screen.getvalue()
    for mid in ("p.a", "p.b", "p.c", "p.d"):
        assert mid in text
    assert "4/4" in text


def test_checkpoints_between_batches_keep_results_right(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from buildkit import query

    import dpsql.build.checkpoint
    monkeypatch.setattr(dpsql.build.checkpoint, "CHECKPOINT_EVERY", 1)  # a barrier after every model
    files = {"dpsql.yml": "name: ws\nthreads: 3\n", "p/product.yml": "name: p\n"}
    for i in range(8):
        upstream = f"from {{{{ ref('m{i - 1}') }}}}" if i else "from range(10) t(x)"
        files[f"p/models/m{i}.sql"] = (
            "{{ config(materialized='table') }}\n" f"select x + 1 as x {upstream}\n")
    root = write_files(tmp_path / "ws", files)
    build(root)
    assert query(root, "select sum(x) from p_internal.m7") == [(sum(range(10)) + 80,)]
    assert all(r["status"] == "success" for r in run_results(root).values())
