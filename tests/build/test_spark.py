"""Spark targets, run for real in local mode (one JVM for the whole test session).

The example workspace is built on DuckDB and on Spark and every port is compared row for row;
a failing audit on Spark keeps the published version; an incremental merge and an ephemeral
model on Spark give the rows computed here independently.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import explain, run_cli, write_files

SHOP = Path(__file__).resolve().parents[2] / "projects" / "shop"
IGNORED = shutil.ignore_patterns("target", "*.duckdb", "*.duckdb.wal", "spark-warehouse",
                                 "__pycache__")


def _rows(spark: Any, relation: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in spark.table(relation).collect()), key=repr)


def _duck(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(con.execute(sql).fetchall(), key=repr)
    finally:
        con.close()


def _ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, explain(result)
    return result.output


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Iterator[Path]:
    """The example workspace built on its DuckDB target and on its Spark target."""
    root = tmp_path_factory.mktemp("spark") / "shop"
    shutil.copytree(SHOP, root, ignore=IGNORED)
    _ok("build", "-p", str(root))
    _ok("build", "-p", str(root), "--target", "spark")
    yield root


def test_every_port_has_the_rows_of_the_duckdb_build(shop: Path, spark: Any) -> None:
    manifest = json.loads((shop / "target" / "manifest.json").read_text())
    ports = [m["relation"] for m in manifest["models"].values() if m.get("port")]
    assert len(ports) == 6  # the five products publish six ports
    _ok("query", "-p", str(shop), "--target", "spark", "select 1")  # its catalog, in the session
    for relation in ports:
        on_duckdb = _duck(shop / "warehouse.duckdb", f"select * from {relation}")
        assert on_duckdb, relation
        assert _rows(spark, relation) == on_duckdb, relation
    # the Spark build wrote its own outputs, with Spark SQL
    spark_manifest = json.loads((shop / "target" / "spark" / "manifest.json").read_text())
    assert spark_manifest["metadata"]["engine"] == "spark"
    compiled = (shop / "target" / "spark" / "compiled" / "orders" / "stg_orders.sql").read_text()
    assert "`orders_internal`.`raw_orders`" in compiled
    results = json.loads((shop / "target" / "spark" / "run_results.json").read_text())
    assert {r["status"] for r in results["results"]} == {"success"}


def test_nothing_changed_starts_no_work(shop: Path) -> None:
    registry = (shop / "spark-warehouse" / "_dpsql" / "registry.json").read_text()
    output = _ok("build", "-p", str(shop), "--target", "spark")
    assert "Nothing changed" in output
    assert (shop / "spark-warehouse" / "_dpsql" / "registry.json").read_text() == registry


def test_data_tests_and_query_on_spark(shop: Path) -> None:
    output = _ok("test", "-p", str(shop), "--target", "spark")
    on_duckdb_tests = _ok("test", "-p", str(shop))  # the same tests, the same statuses
    ran = re.search(r"Ran (\d+) tests", on_duckdb_tests)
    assert ran is not None and int(ran.group(1)) > 20, on_duckdb_tests
    assert "FAIL" not in output and f"{ran.group(1)} passed" in output.replace(",", ""), output
    sql = "select month, net_revenue from revenue.monthly_revenue order by month limit 2"
    on_spark = _ok("query", "-p", str(shop), "--target", "spark", sql)
    on_duckdb = _ok("query", "-p", str(shop), sql)
    assert on_spark == on_duckdb and "2024-01-01" in on_spark


def _spark_workspace(root: Path, models: dict[str, str], product: str) -> Path:
    files = {
        "dpsql.yml": """
            name: sparky
            targets:
              dev: {type: duckdb, path: wh.duckdb}
              spark: {type: spark, master: "local[1]", warehouse_dir: swh}
        """,
        "p/product.yml": product,
        **{f"p/models/{name}.sql": sql for name, sql in models.items()},
    }
    return write_files(root, files)


_EVENTS = """
name: ev
owner: t@example.com
version: 1.0.0
inputs:
  - {name: raw, file: ../data/events.csv}
outputs:
  - name: latest
    columns:
      - {name: id, type: bigint, tests: [unique, not_null]}
      - {name: status, type: varchar}
      - {name: amount, type: 'decimal(18,2)'}
      - {name: seen, type: date}
"""

_LATEST = """
{{ config(materialized='incremental', unique_key='id') }}
select id, status, amount, seen from {{ ref('cleaned') }}
{% if is_incremental() %}
where seen > (select max(seen) from {{ this }})
{% endif %}
"""

_CLEANED = """
{{ config(materialized='ephemeral') }}
select id::bigint as id, lower(status) as status, (cents / 100.0)::decimal(18,2) as amount,
       seen::date as seen
from {{ input('raw') }}
"""


def _events(root: Path, lines: list[str]) -> None:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "events.csv").write_text("id,status,cents,seen\n" + "\n".join(lines) + "\n")


def _latest(spark: Any) -> dict[int, tuple[Any, ...]]:
    return {r[0]: tuple(r)[1:] for r in spark.table("ev.latest").collect()}


def test_incremental_merge_and_ephemeral_on_spark(tmp_path: Path, spark: Any) -> None:
    root = _spark_workspace(tmp_path / "inc", {"latest": _LATEST, "cleaned": _CLEANED}, _EVENTS)
    _events(root, ["1,NEW,100,2024-01-01", "2,NEW,250,2024-01-02"])
    _ok("build", "-p", str(root), "--target", "spark")
    _ok("build", "-p", str(root))  # the DuckDB target follows the same history
    assert _latest(spark) == {1: ("new", Decimal("1.00"), _d("2024-01-01")),
                              2: ("new", Decimal("2.50"), _d("2024-01-02"))}
    # id 2 changes, id 3 arrives; a row older than the newest is ignored by the model's filter
    _events(root, ["1,NEW,100,2024-01-01", "2,PAID,999,2024-01-05", "3,NEW,5,2024-01-06",
                   "4,LATE,1,2023-12-31"])
    _ok("build", "-p", str(root), "--target", "spark")
    assert _latest(spark) == {1: ("new", Decimal("1.00"), _d("2024-01-01")),
                              2: ("paid", Decimal("9.99"), _d("2024-01-05")),
                              3: ("new", Decimal("0.05"), _d("2024-01-06"))}
    results = json.loads((root / "target" / "spark" / "run_results.json").read_text())
    latest = next(r for r in results["results"] if r["id"] == "ev.latest")
    assert (latest["mode"], latest["rows"]) == ("incremental", 2)
    # the DuckDB target, built from the same files in the same steps, agrees row for row
    _ok("build", "-p", str(root))
    assert _duck(root / "wh.duckdb", "from ev.latest") == _rows(spark, "ev.latest")


def _d(text: str) -> Any:
    import datetime

    return datetime.date.fromisoformat(text)


def test_a_failing_audit_keeps_the_published_version(tmp_path: Path, spark: Any) -> None:
    root = _spark_workspace(tmp_path / "audit", {"latest": _LATEST, "cleaned": _CLEANED},
                            _EVENTS)
    _events(root, ["1,NEW,100,2024-01-01", "2,NEW,250,2024-01-02"])
    _ok("build", "-p", str(root), "--target", "spark")
    before = _latest(spark)
    registry = root / "swh" / "_dpsql" / "registry.json"
    published = json.loads(registry.read_text())["relations"]["ev.latest"]
    # a duplicated id breaks `unique`: the new version is written, audited, and dropped
    _events(root, ["1,NEW,100,2024-01-01", "2,NEW,250,2024-01-02", "2,DUP,1,2024-01-03"])
    result = run_cli("build", "-p", str(root), "--target", "spark", "--full-refresh")
    assert result.exit_code == 1, explain(result)
    assert "DP604" in result.output and "unique(ev.latest.id)" in result.output
    assert _latest(spark) == before
    assert json.loads(registry.read_text())["relations"]["ev.latest"] == published
    versions = list((root / "swh" / "ev" / "latest").iterdir())
    assert [v.name for v in versions] == [Path(published["path"]).name]  # no half version left
    assert "__dpsql_new_" not in " ".join(t.name for t in spark.catalog.listTables("ev"))


def test_one_product_builds_against_published_ports_on_spark(shop: Path, spark: Any) -> None:
    """`--select revenue` reads the orders and payments ports the earlier build published."""
    _ok("query", "-p", str(shop), "--target", "spark", "select 1")  # its catalog, in the session
    before = _rows(spark, "revenue.monthly_revenue")
    output = _ok("build", "-p", str(shop), "--target", "spark", "--select", "revenue",
                 "--full-refresh")
    assert "revenue.monthly_revenue" in output and "orders.fct_orders" not in output
    assert _rows(spark, "revenue.monthly_revenue") == before


def test_spark_engine_reads_its_registry_as_spark_and_duckdb_see_it(shop: Path, spark: Any
                                                                    ) -> None:
    from dpsql.build.engines.registry import engine_for
    from dpsql.load.config import load_workspace
    from dpsql.load.targets import Choice, chosen

    with chosen(Choice("spark")):
        on_spark = engine_for(load_workspace(shop))
    on_duckdb = engine_for(load_workspace(shop))
    assert (on_spark.name, on_duckdb.name) == ("spark", "duckdb")
    manifest = json.loads((shop / "target" / "manifest.json").read_text())
    ports = {m["relation"] for m in manifest["models"].values() if m.get("port")}
    catalog = on_spark.catalog()
    assert ports <= {str(r) for r in catalog.kinds}
    relations = [r for r in catalog.kinds if str(r) in ports]
    columns = on_spark.columns(relations)  # both engines publish the same (DuckDB) types
    assert columns == on_duckdb.columns(relations) and len(columns) == len(ports)
    _ok("query", "-p", str(shop), "--target", "spark", "select 1")  # its catalog, in the session
    for relation, cols in columns.items():  # and Spark holds each in the type the engine names
        held = [(f.name, f.dataType.simpleString()) for f in spark.table(str(relation)).schema]
        assert held == [(c.name, on_spark.type_name(c.type).lower()) for c in cols], relation
    built = {m["id"]: m["relation"] for m in manifest["models"].values()
             if m["materialized"] != "ephemeral"}
    for engine in (on_spark, on_duckdb):  # a fingerprint for every model each one published
        stored = engine.stored()
        assert {mid: stored[mid].relation for mid in built} == built, engine.name


def test_input_tests_run_before_the_models_on_spark(tmp_path: Path, spark: Any) -> None:
    """A failing test on a file input skips the models reading it, as on DuckDB."""
    product = _EVENTS.replace("  - {name: raw, file: ../data/events.csv}",
                              "  - name: raw\n    file: ../data/events.csv\n"
                              "    columns:\n      - {name: id, tests: [not_null]}")
    root = _spark_workspace(tmp_path / "inputs", {"latest": _LATEST, "cleaned": _CLEANED},
                            product)
    _events(root, ["1,NEW,100,2024-01-01", ",NEW,250,2024-01-02"])  # an id is missing
    for target in ("spark", "dev"):
        result = run_cli("build", "-p", str(root), "--target", target)
        assert result.exit_code == 1, explain(result)
        outputs = root / "target" / ("spark" if target == "spark" else "")  # dev: the default
        results = json.loads((outputs / "run_results.json").read_text())
        checks = results["input_tests"]
        assert [(c["name"], c["status"]) for c in checks] == [("not_null(ev.raw.id)", "fail")]
        latest = next(r for r in results["results"] if r["id"] == "ev.latest")
        assert latest["status"] == "skipped" and "not_null(ev.raw.id)" in latest["message"]
    _events(root, ["1,NEW,100,2024-01-01", "2,NEW,250,2024-01-02"])
    _ok("build", "-p", str(root), "--target", "spark")
    assert sorted(_latest(spark)) == [1, 2]


def test_a_table_turned_view_leaves_no_parquet_behind_on_spark(tmp_path: Path, spark: Any
                                                               ) -> None:
    product = _EVENTS.replace("      - {name: id, type: bigint, tests: [unique, not_null]}",
                              "      - {name: id, type: bigint}")
    table = "select id::bigint as id, status, (cents / 100.0)::decimal(18,2) as amount, " \
            "seen::date as seen from {{ input('raw') }}"
    root = _spark_workspace(tmp_path / "kinds", {"latest": table}, product)
    _events(root, ["1,NEW,100,2024-01-01"])
    _ok("build", "-p", str(root), "--target", "spark")
    folder = root / "swh" / "ev" / "latest"
    assert len(list(folder.iterdir())) == 1
    view = "{{ config(materialized='view') }}\n" + table
    (root / "p" / "models" / "latest.sql").write_text(view)
    _ok("build", "-p", str(root), "--target", "spark")
    assert len(list(folder.iterdir())) == 1  # the last table version, for a reader still in it
    _events(root, ["1,NEW,100,2024-01-01", "2,NEW,5,2024-01-02"])
    (root / "p" / "models" / "latest.sql").write_text(view + "\n")  # rebuilt: still a view
    _ok("build", "-p", str(root), "--target", "spark", "--full-refresh")
    assert not folder.exists() or not any(folder.iterdir())
    assert sorted(r[0] for r in spark.table("ev.latest").collect()) == [1, 2]
