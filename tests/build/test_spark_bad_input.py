"""Spark targets given bad input: each gets a clear message, exit status 1, and nothing is
written to the warehouse. Also: what translates to Spark, checked by running it on both
engines, and what does not, refused at compile time at its line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import explain, run_cli, write_files


def _workspace(root: Path, model: str, target: str = '{type: spark, master: "local[1]", '
               'warehouse_dir: swh}') -> Path:
    return write_files(root, {
        "dpsql.yml": f"name: bad\ntargets:\n  dev: {{type: duckdb, path: wh.duckdb}}\n"
                     f"  spark: {target}\n",
        "data/t.csv": "i,s,d\n1,a,2024-01-31\n2,b,2024-02-29\n3,,2024-03-03\n",
        "p/product.yml": "name: p\nowner: t@example.com\nversion: 1.0.0\n"
                         "inputs:\n  - {name: raw, file: ../data/t.csv}\n"
                         "outputs:\n  - {name: out}\n",
        "p/models/out.sql": model,
    })


def _failed(root: Path, *args: str, code: int = 1) -> str:
    result = run_cli(*args, "-p", str(root), "--target", "spark")
    assert result.exit_code == code, explain(result)
    assert "Traceback" not in explain(result)
    assert not (root / "swh").exists()  # nothing written to the warehouse
    return result.output


@pytest.mark.parametrize("sql, line, construct", [
    ("select i,\n  list_sum([i, 1]) as n\nfrom {{ input('raw') }}", 2, "function `list_sum()`"),
    ("select i, x\nfrom {{ input('raw') }},\n  unnest([1, 2]) as u(x)", 3, "UNNEST"),
    ("select\n  dayofweek(d::date) as w\nfrom {{ input('raw') }}", 2, "dayofweek()"),
    ("select * replace (i + 1 as i)\nfrom {{ input('raw') }}", 1, "SELECT * REPLACE"),
    ("select i from {{ input('raw') }}\nunion by name\nselect i from {{ input('raw') }}", 1,
     "UNION BY NAME"),
    ("select\n\n  date_diff('month', d::date, current_date) as m\nfrom {{ input('raw') }}", 3,
     "date_diff('month', ...)"),
    ("select * from read_parquet(['a.parquet', 'b.parquet'])", 1, "read_parquet()"),
])
def test_an_untranslatable_model_is_a_compile_error_at_its_line(
        tmp_path: Path, sql: str, line: int, construct: str) -> None:
    root = _workspace(tmp_path / "w", sql)
    for command in ("check", "build"):
        output = _failed(root, command)
        assert f"models/out.sql:{line}" in output, output
        assert "DP211" in output and construct in output and "no faithful Spark" in output
    if "input(" in sql:  # the same model is fine on the DuckDB target
        assert run_cli("check", "-p", str(root)).exit_code == 0


def test_a_type_spark_cannot_hold(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "w", "select i, interval 1 day as gap from {{ input('raw') }}")
    output = _failed(root, "check")
    assert "DP212" in output and "`gap`" in output and "INTERVAL" in output


def test_pyspark_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _workspace(tmp_path / "w", "select i from {{ input('raw') }}")
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` fails
    output = _failed(root, "build")
    assert "DP414" in output and "PySpark is not installed" in output
    assert "pip install 'dpsql[spark]'" in output


def test_no_java(tmp_path: Path) -> None:
    """In a fresh process (no JVM yet) with no `java` on PATH and no JAVA_HOME."""
    root = _workspace(tmp_path / "w", "select i from {{ input('raw') }}")
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_HOME")}
    env["PATH"] = str(Path(sys.executable).parent)  # python and dpsql, but no java
    done = subprocess.run([sys.executable, "-c", "from dpsql.cli import main; main()", "build",
                           "-p", str(root), "--target", "spark"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DP414" in done.stderr + done.stdout and "Java was not found" in done.stderr + done.stdout
    assert "openjdk-17-jre-headless" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr and not (root / "swh").exists()


def test_unreachable_spark_connect(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = _workspace(tmp_path / "w", "select i from {{ input('raw') }}",
                      f"{{type: spark, remote: 'sc://127.0.0.1:{port}'}}")
    output = _failed(root, "build")
    assert "DP414" in output and f"127.0.0.1:{port} cannot be reached" in output


# --- what translates, checked by running it on both engines ------------------------------

TRANSLATED = [  # each was checked against DuckDB's own result
    "select i, s || '-' || s as c from t",
    "select i // 2 as a, i / 2 as b, i % 2 as m from t",
    "select date_trunc('month', d) as m, last_day(d) as l, d + 1 as n from t",
    "select strftime(d, '%Y-%m') as m, date_diff('day', d, date '2024-03-31') as n from t",
    "select i, sum(i) over (order by i range between 1 preceding and current row) as r from t",
    "select i, count(*) over (order by d range between interval 30 day preceding and "
    "current row) as r from t",
    "select string_agg(s, ',' order by s) as g, count(*) filter (where i > 1) as n from t",
    "select coalesce(s, 'z') as c, regexp_matches(s, '^a') as r, s ilike 'A%' as l from t",
    "select i from t order by s",
    "select distinct on (s) s, i from t order by s, i",
    "select * from t qualify row_number() over (order by i desc) = 1",
    "select greatest(i, 2) as g, nullif(i, 1) as n, split_part('a-b', '-', 2) as p from t",
    "select s, count(*) as n from t group by all",
    "select * exclude (d) from t",
    "select lag(i) over (order by i) as l, lead(i, 1, 0) over (order by i) as n from t",
]


@pytest.fixture(scope="module")
def both(spark: Any) -> tuple[Any, Any]:
    rows = [(1, "a", "2024-01-31"), (2, "b", "2024-02-29"), (3, None, "2024-03-03")]
    duck = duckdb.connect()
    duck.execute("create table t (i bigint, s varchar, d date)")
    duck.executemany("insert into t values (?, ?, ?)", rows)
    spark.sql("select * from values (1, 'a', date '2024-01-31'), (2, 'b', date '2024-02-29'), "
              "(3, cast(null as string), date '2024-03-03') as v(i, s, d)"
              ).createOrReplaceTempView("t")
    return duck, spark


@pytest.mark.parametrize("sql", TRANSLATED)
def test_translated_constructs_give_duckdbs_rows(both: tuple[Any, Any], sql: str) -> None:
    """As a build runs a model: transpiled, and cast to the types DuckDB gives its columns."""
    import sqlglot

    from dpsql.build.engines.sparkwap import typed
    from dpsql.compile.translate import unsupported
    from dpsql.core.project import Column

    duck, spark = both
    tree = sqlglot.parse_one(sql, read="duckdb")
    assert next(unsupported(tree), None) is None
    columns = [Column(str(r[0]), str(r[1])) for r in duck.execute(f"describe {sql}").fetchall()]
    on_spark = spark.sql(typed(tree.sql(dialect="spark"), columns)).collect()
    expected = duck.execute(sql).fetchall()
    assert sorted((tuple(r) for r in on_spark), key=repr) == sorted(expected, key=repr)


def test_a_second_build_of_the_same_warehouse_stops_at_once(tmp_path: Path, spark: Any) -> None:
    import fcntl

    root = _workspace(tmp_path / "w", "select i from {{ input('raw') }}")
    lock = root / "swh" / "_dpsql" / "lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "a+") as held:  # another build holds the warehouse
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_cli("build", "-p", str(root), "--target", "spark")
    assert result.exit_code == 1, explain(result)
    assert "DP402" in result.output and "being built by another process" in result.output
    assert not (root / "swh" / "_dpsql" / "registry.json").exists()


@pytest.mark.parametrize("sql, code, words", [
    ("describe p.out", "DP412", "DESCRIBE is not available on Spark"),
    ("select hash(1) as h", "DP211", "function `hash()`"),
    ("select 1; select 2", "DP412", "one statement"),
])
def test_a_query_spark_cannot_run_faithfully_is_refused_first(tmp_path: Path, sql: str,
                                                             code: str, words: str) -> None:
    root = _workspace(tmp_path / "w", "select i from {{ input('raw') }}")
    (root / "swh" / "_dpsql").mkdir(parents=True)
    (root / "swh" / "_dpsql" / "registry.json").write_text('{"format": 1}')
    result = run_cli("query", "-p", str(root), "--target", "spark", sql)
    assert result.exit_code == 1, explain(result)
    assert code in result.output and words in result.output, result.output
