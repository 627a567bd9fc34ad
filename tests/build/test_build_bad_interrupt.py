"""Ctrl-C stops a build with exit status 130, says what was published and what was not, records
the interrupted run in target/run_results.json, and leaves only whole relations behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from buildkit import build, explain, invoke, query, relations, statuses
from conftest import write_files

SMALL, BIG = 1_000, 3_000_000_000  # rows scanned by the slow model: at once, then for minutes

FILES = {
    "p/product.yml": """
        name: p
        outputs:
          - {name: a_slow, columns: [{name: v, type: integer}, {name: n, type: bigint}]}
          - {name: b_fast, columns: [{name: v, type: integer}]}
        """,
    # with two threads a_slow and b_fast start together; b_fast is done long before a_slow
    "p/models/a_slow.sql": """
        {{ config(materialized='table') }}
        select {{ var('v') }} as v, count(*) as n
        from range({{ var('n') }}) where hash(range) % 1000 = 7
        """,
    "p/models/b_fast.sql": "{{ config(materialized='table') }}\nselect {{ var('v') }} as v\n",
    "p/models/c_after.sql": "{{ config(materialized='table') }}\n"
                            "select v, n from {{ ref('a_slow') }}\n",
}


def settings(v: int, n: int) -> str:
    return f"name: ws\nwarehouse: warehouse.duckdb\nthreads: 2\nvars: {{v: {v}, n: {n}}}\n"


def versions(root: Path) -> dict[str, list[tuple[object, ...]]]:
    return {r: query(root, f"select distinct v from {r}") for r in
            ("p.a_slow", "p.b_fast", "p_internal.c_after")}


def test_ctrl_c_exits_130_and_says_what_was_published(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings(1, SMALL)})
    build(root)
    before = set(relations(root))
    (root / "dpsql.yml").write_text(settings(2, BIG))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dpsql.cli import main; main()", "build", "-p", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # Ctrl-C once b_fast is published, while a_slow runs
            seen.append(line)
            if " OK " in line:
                break
        assert "p.b_fast" in "".join(seen), "".join(seen)
        proc.send_signal(signal.SIGINT)
        output = "".join(seen) + proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == 130, output
    assert "Aborted" not in output and "Traceback" not in output
    assert "Interrupted (Ctrl-C)" in output and "1 model published, 2 not" in output, output
    assert "Published: p.b_fast" in output
    assert "p.a_slow (interrupted, rolled back), p.c_after (not run)" in output

    data = json.loads((root / "target" / "run_results.json").read_text(encoding="utf-8"))
    assert data["metadata"]["interrupted"] is True
    assert statuses(root) == {"p.a_slow": "interrupted", "p.b_fast": "success",
                              "p.c_after": "not_run"}
    # only whole relations: b_fast is new, a_slow and c_after keep their previous version
    assert set(relations(root)) == before
    assert versions(root) == {"p.a_slow": [(1,)], "p.b_fast": [(2,)],
                              "p_internal.c_after": [(1,)]}

    # the next build finishes the job, and does not rebuild what was published
    (root / "dpsql.yml").write_text(settings(2, SMALL))
    result = build(root)
    assert statuses(root) == {"p.a_slow": "success", "p.b_fast": "unchanged",
                              "p.c_after": "success"}, explain(result)
    assert versions(root) == {"p.a_slow": [(2,)], "p.b_fast": [(2,)],
                              "p_internal.c_after": [(2,)]}


def test_ctrl_c_while_compiling_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dpsql.compile.pipeline as pipeline

    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings(1, SMALL)})

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "compile_project", interrupted)
    for command in ("build", "check", "compile"):
        result = invoke(command, "-p", str(root))
        assert result.exit_code == 130, (command, explain(result))
        assert "Interrupted (Ctrl-C)" in result.output and "Aborted" not in result.output
    assert not (root / "warehouse.duckdb").exists()


def test_ctrl_c_before_the_first_model_publishes_nothing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from dpsql.build import engine

    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings(1, SMALL)})
    build(root)
    (root / "dpsql.yml").write_text(settings(2, SMALL))

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine.state, "forget", interrupted)  # while preparing the build
    result = invoke("build", "-p", str(root))
    assert result.exit_code == 130, explain(result)
    assert "0 models published, 3 not" in result.output and "Published:" not in result.output
    assert statuses(root) == dict.fromkeys(("p.a_slow", "p.b_fast", "p.c_after"), "not_run")
    assert all(found == [(1,)] for found in versions(root).values())  # nothing was published
