"""A warehouse changed by hand, or a model DuckDB cannot build: a clean, located message, never a
traceback, and whatever is not what dpsql built is rebuilt rather than trusted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from buildkit import build, explain, invoke, query, relations, run_results, statuses
from conftest import write_files

FILES = {
    "dpsql.yml": "name: ws\nwarehouse: warehouse.duckdb\n",
    "shop/product.yml": """
        name: shop
        outputs:
          - name: orders
            columns:
              - {name: id, type: bigint}
              - {name: amount, type: integer}
        """,
    "shop/models/stg_orders.sql": "select range as id, (range * 10)::integer as amount "
                                  "from range(4)\n",
    "shop/models/orders.sql": "{{ config(materialized='table') }}\n"
                              "select id, amount from {{ ref('stg_orders') }}\n",
}
ALL = {"shop.stg_orders", "shop.orders"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = write_files(tmp_path / "ws", FILES)
    build(workspace)
    return workspace


def change(root: Path, *statements: str) -> None:
    """Edit the warehouse by hand, as a user with a DuckDB shell would."""
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def assert_clean(output: str) -> None:
    """Every error names a file and line and comes with a hint; no traceback."""
    assert "Traceback" not in output
    lines = output.splitlines()
    errors = [i for i, line in enumerate(lines) if re.search(r"\berror\[DP\d{3}\]", line)]
    assert errors, output
    for i in errors:
        assert re.search(r"\S+:\d+(:\d+)?: error\[DP\d{3}\]", lines[i]), lines[i]
        assert i + 1 < len(lines) and lines[i + 1].strip().startswith("hint: "), output


@pytest.mark.parametrize("damage", [
    "alter table _dpsql.fingerprints drop column version",
    "alter table _dpsql.fingerprints alter fingerprint type integer using 0",
    "drop table _dpsql.fingerprints; create view _dpsql.fingerprints as select 1 as x",
])
def test_a_damaged_fingerprint_table_is_recreated(root: Path, damage: str) -> None:
    change(root, damage)
    result = build(root)
    assert "warning[DP413]" in result.output and "recreated" in result.output, explain(result)
    assert "hint: " in result.output and "Traceback" not in result.output
    assert statuses(root) == dict.fromkeys(ALL, "success")  # rebuilt, as on a first build
    assert relations(root)["_dpsql.fingerprints"] == "table"
    again = build(root)
    assert "Nothing changed" in again.output and "DP413" not in again.output, explain(again)


@pytest.mark.parametrize(("replace", "kind"), [
    ("drop table shop.orders; create view shop.orders as select 'x' as other", "table"),
    ("drop table shop.orders; create table shop.orders as select 'x' as other", "table"),
    ("drop table shop.orders; create view shop.orders as select 7 as id, 7 as amount", "table"),
    ("drop view shop_internal.stg_orders; "
     "create table shop_internal.stg_orders as select 1 as id, 1 as amount", "view"),
])
def test_a_relation_replaced_by_hand_is_rebuilt(root: Path, replace: str, kind: str) -> None:
    change(root, replace)
    result = build(root)
    assert "Nothing changed" not in result.output, explain(result)
    relation = "shop.orders" if kind == "table" else "shop_internal.stg_orders"
    assert relations(root)[relation] == kind
    assert query(root, f"select id, amount from {relation} order by id") == [
        (0, 0), (1, 10), (2, 20), (3, 30)]
    assert "Nothing changed" in build(root).output


def test_a_model_that_fails_in_duckdb_is_located_with_a_hint(root: Path) -> None:
    (root / "shop/models/orders.sql").write_text(
        "{{ config(materialized='table') }}\n"
        "select id, ('n' || amount)::integer as amount from {{ ref('stg_orders') }}\n")
    result = build(root, ok=False)
    assert result.exit_code == 1, explain(result)
    assert "shop/models/orders.sql:1: error[DP401]: shop.orders failed in the warehouse: " \
           "Conversion Error" in result.output, explain(result)
    assert "hint: fix the model: the SQL that ran is target/compiled/shop/orders.sql" \
        in result.output
    assert_clean(result.output)
    entry = run_results(root)["shop.orders"]
    assert entry["code"] == "DP401" and entry["path"].endswith("shop/models/orders.sql")
    assert entry["line"] == 1 and entry["hint"].startswith("fix the model")
    assert query(root, "select count(*) from shop.orders") == [(4,)]  # the old version stays


@pytest.mark.parametrize("name", ["information_schema", "pg_catalog", "temp", "system"])
def test_a_product_named_like_a_duckdb_schema_is_a_located_error(tmp_path: Path,
                                                                  name: str) -> None:
    files = {**FILES, "shop/product.yml": FILES["shop/product.yml"].replace(
        "name: shop", f"name: {name}")}
    root = write_files(tmp_path / "ws", files)
    result = invoke("build", "-p", str(root))
    assert result.exit_code == 1, explain(result)
    assert_clean(result.output)
    assert "product.yml:" in result.output or "orders.sql:" in result.output


def test_a_locked_warehouse_names_the_other_process_accurately(root: Path) -> None:
    """A reader (a query, a test run, a DuckDB shell reading) holds the file: the message does
    not claim it writes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; "
         "c = duckdb.connect(sys.argv[1], read_only=True); print('ready', flush=True); "
         "time.sleep(60)", str(root / "warehouse.duckdb")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = invoke("build", "-p", str(root), "--full-refresh")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert result.exit_code == 1, explain(result)
    assert "error[DP402]: the warehouse warehouse.duckdb is in use by another process " \
           f"(PID {holder.pid}" in result.output, explain(result)
    assert "hint: the file is locked by another process" in result.output
    assert "for writing" not in result.output and "Traceback" not in result.output
