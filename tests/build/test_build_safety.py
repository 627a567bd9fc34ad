"""Safety: a build killed at any moment leaves every relation as it was or fully new; a second
build on a warehouse in use fails at once; a warehouse folder that is missing or read-only gets
a clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from buildkit import build, explain, invoke, query, relations, run_results
from conftest import write_files

ROWS = 50_000
SMALL, BIG = 1_000, 3_000_000_000  # rows scanned by the slow model: fast, then several seconds

FILES = {
    "product/product.yml": """
        name: p
        outputs:
          - name: t1
            columns:
              - {name: v, type: integer, tests: [not_null]}
              - {name: i, type: bigint}
          - {name: a_slow, model: a_slow}
        """,
    # `a_slow` sorts first, so it starts first and is still running when the others are done
    "product/models/a_slow.sql": """
        {{ config(materialized='table') }}
        select {{ var('v') }} as v, count(*) as n
        from range({{ var('n') }}) where hash(range) % 1000 = 7
        """,
    "product/models/after_slow.sql": """
        {{ config(materialized='table') }}
        select v, n + 1 as n from {{ ref('a_slow') }}
        """,
    "product/models/t1.sql": f"select {{{{ var('v') }}}} as v, range as i from range({ROWS})\n",
    "product/models/t2.sql": """
        {{ config(materialized='table') }}
        select v, i * 2 as i from {{ ref('t1') }}
        """,
    "product/models/t3.sql": """
        {{ config(materialized='table') }}
        select a.v, a.i from {{ ref('t2') }} a join {{ ref('t1') }} b using (i)
        """,
    "product/models/v1.sql": "select * from {{ ref('t3') }}\n",
    "product/models/inc.sql": """
        {{ config(materialized='incremental') }}
        select {{ var('v') }} as v, range as i from range(10)
        {% if is_incremental() %} where {{ var('v') }} > (select max(v) from {{ this }}) {% endif %}
        """,
}
RELATIONS = {"p.t1", "p.a_slow", "p_internal.after_slow", "p_internal.t2", "p_internal.t3",
             "p_internal.v1", "p_internal.inc", "_dpsql.fingerprints"}


def settings(v: int, n: int) -> str:
    return f"name: ws\nwarehouse: warehouse.duckdb\nthreads: 2\nvars: {{v: {v}, n: {n}}}\n"


def versions(root: Path, relation: str) -> set[int]:
    return {row[0] for row in query(root, f"select distinct v from {relation}")}


def check_consistent(root: Path) -> dict[str, int]:
    """Every relation holds one whole version; returns relation -> version."""
    assert set(relations(root)) == RELATIONS  # no half-built or staging relation is visible
    seen = {}
    for relation in ("p.t1", "p_internal.t2", "p_internal.t3", "p_internal.v1"):
        found = versions(root, relation)
        assert len(found) == 1, (relation, found)
        halved = relation in ("p_internal.t3", "p_internal.v1")  # even i only
        assert query(root, f"select count(*) from {relation}") == [(ROWS // 2 if halved else ROWS,)]
        seen[relation] = found.pop()
    for relation in ("p.a_slow", "p_internal.after_slow"):
        found = versions(root, relation)
        assert len(found) == 1 and query(root, f"select count(*) from {relation}") == [(1,)]
        seen[relation] = found.pop()
    inc = query(root, "select v, count(*) from p_internal.inc group by v order by v")
    assert inc in ([(1, 10)], [(1, 10), (2, 10)]), inc
    seen["p_internal.inc"] = max(v for v, _ in inc)
    return seen


def spawn_build(root: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-c", "from dpsql.cli import main; main()", "build", "-p", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_a_build_killed_midway_leaves_the_warehouse_consistent(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings(1, SMALL)})
    build(root)
    assert set(check_consistent(root).values()) == {1}

    (root / "dpsql.yml").write_text(settings(2, BIG))
    proc = spawn_build(root)
    seen_lines = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen_lines.append(line)
            if sum(" OK " in x for x in seen_lines) >= 3:
                break
        assert sum(" OK " in x for x in seen_lines) >= 3, "".join(seen_lines)
        assert proc.poll() is None, "the build finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    after_kill = check_consistent(root)
    assert after_kill["p.a_slow"] == 1  # killed while it was being built: the old version
    assert after_kill["p_internal.after_slow"] == 1
    assert 2 in after_kill.values()  # and some relations were already published anew

    # the next build completes, and fills in what the killed one did not publish
    (root / "dpsql.yml").write_text(settings(2, SMALL))
    result = build(root)
    assert "a_slow" in {k.split(".")[1] for k, v in run_results(root).items()
                        if v["status"] == "success"}, explain(result)
    final = check_consistent(root)
    assert set(final.values()) == {2}
    assert query(root, "select count(*) from p_internal.inc") == [(20,)]  # appended once


def test_builds_killed_at_other_moments_leave_it_consistent(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings(1, SMALL)})
    build(root)
    (root / "dpsql.yml").write_text(settings(2, BIG))
    # while compiling, then at several points once models have started to publish
    for wait_for_line, delay in ((False, 0.3), (True, 0.0), (True, 0.1), (True, 0.3)):
        proc = spawn_build(root)
        try:
            if wait_for_line:
                assert proc.stdout is not None
                proc.stdout.readline()
            time.sleep(delay)
        finally:
            proc.kill()
            proc.wait(timeout=30)
        check_consistent(root)
    (root / "dpsql.yml").write_text(settings(2, SMALL))
    build(root)
    assert set(check_consistent(root).values()) == {2}
    assert query(root, "select count(*) from p_internal.inc") == [(20,)]


def test_a_second_build_fails_at_once_with_a_clear_message(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings(1, SMALL)})
    build(root)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(root / "warehouse.duckdb")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        result = invoke("build", "-p", str(root), "--full-refresh")
        assert time.monotonic() - started < 10
        assert result.exit_code == 1
        assert "error[DP402]" in result.output, explain(result)
        assert "in use by another process" in result.output
        assert "Traceback" not in result.output and "IO Error" not in result.output
        test_run = invoke("test", "-p", str(root))  # a read-only reader is told the same
        assert test_run.exit_code == 1 and "DP402" in test_run.output
    finally:
        holder.kill()
        holder.wait(timeout=30)
    build(root)


def test_a_missing_warehouse_folder_is_reported(tmp_path: Path) -> None:
    settings_text = settings(1, SMALL).replace("warehouse.duckdb", "nowhere/warehouse.duckdb")
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings_text})
    result = invoke("build", "-p", str(root))
    assert result.exit_code == 1
    assert "DP402" in result.output and "does not exist" in result.output, explain(result)
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders anyway")
def test_a_read_only_warehouse_folder_is_reported(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings(1, SMALL)})
    root.chmod(0o555)
    try:
        result = invoke("build", "-p", str(root))
    finally:
        root.chmod(0o755)
    assert result.exit_code == 1
    assert "DP402" in result.output and "read-only" in result.output, explain(result)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_an_unwritable_warehouse_is_reported(tmp_path: Path) -> None:
    """/sys refuses new files even to root: the message says so, without a traceback."""
    text = settings(1, SMALL).replace("warehouse.duckdb", "/sys/kernel/dpsql.duckdb")
    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": text})
    result = invoke("build", "-p", str(root))
    assert result.exit_code == 1
    assert "DP402" in result.output, explain(result)
    assert "Traceback" not in result.output


def test_ctrl_c_interrupts_running_models_and_rolls_them_back(tmp_path: Path) -> None:
    from dpsql.build.engine import BuildOptions, run
    from dpsql.build.plan import select
    from dpsql.compile.pipeline import compile_project
    from dpsql.load.loader import load_project

    root = write_files(tmp_path / "ws", {**FILES, "dpsql.yml": settings(1, SMALL)})
    build(root)
    (root / "dpsql.yml").write_text(settings(2, BIG))
    compiled = compile_project(load_project(root))

    class CtrlC:
        def begin(self, total: int) -> None:
            pass

        def started(self, model: object) -> None:
            pass

        def finished(self, result: object, done: int, total: int) -> None:
            if done == 2:  # a_slow is still running
                raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run(compiled, select(compiled), BuildOptions(threads=2), CtrlC())
    assert time.monotonic() - started < 10  # the slow query was interrupted, not waited for
    seen = check_consistent(root)
    assert seen["p.a_slow"] == 1
    (root / "dpsql.yml").write_text(settings(2, SMALL))
    build(root)
    assert set(check_consistent(root).values()) == {2}
