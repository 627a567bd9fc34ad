"""`dpsql check` sees what a build would hit: a type error in an incremental model's incremental
run (DP208 at its line), and a `table:` input that is missing from the warehouse with no
declared columns (DP210 in check; the build stops at its DP408 pre-flight, nothing built)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from buildkit import build, query, relations
from click.testing import Result
from conftest import explain, run_cli, write_files

ORDERS = "sales/models/orders.sql"
PRODUCT = "sales/product.yml"

INCREMENTAL = {
    "dpsql.yml": "name: inc\n",
    "data/orders.csv": "id,day\n1,2024-01-01\n2,2024-02-01\n",
    PRODUCT: "name: sales\ninputs:\n  - name: raw_orders\n    file: ../data/orders.csv\n"
             "outputs:\n  - name: orders\n",
    ORDERS: """
        {{ config(materialized='incremental', unique_key='id') }}
        select id, day, cast(day as varchar) as day_text
        from {{ input('raw_orders') }}
        {% if is_incremental() %}
        where day > (select max(day_text) from {{ this }})
        {% endif %}
    """,
}


def _error_at(result: Result, code: str, where: str) -> str:
    assert result.exit_code == 1, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    line = next((x for x in result.stderr.splitlines() if f"error[{code}]" in x), "")
    assert f"{where}: error[{code}]" in line, result.output
    return line


def test_a_type_error_in_the_incremental_run_is_found_by_check(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", INCREMENTAL)
    for command in ("check", "check", "build"):  # the second check: errors are never cached
        line = _error_at(run_cli(command, "-p", str(root)), "DP208", f"{ORDERS}:5:7")
        assert "does not bind in an incremental run" in line
        assert "Cannot compare values of type DATE and type VARCHAR" in line
    assert "hint: fix the SQL under `{% if is_incremental() %}`" in run_cli(
        "check", "-p", str(root)).stderr
    assert not (root / "warehouse.duckdb").exists(), "nothing built"


def test_a_good_incremental_run_passes_and_builds_twice(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", INCREMENTAL)
    write_files(root, {ORDERS: INCREMENTAL[ORDERS].replace("max(day_text)", "max(day)")})
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 0 and "[DP208]" not in result.output, explain(result)
    build(root)
    write_files(root, {"data/orders.csv": INCREMENTAL["data/orders.csv"] + "3,2024-03-01\n"})
    build(root)  # the incremental run
    assert query(root, "select count(*) from sales.orders") == [(3,)]


def test_an_incremental_run_reading_its_own_new_column_is_fine(tmp_path: Path) -> None:
    """`{{ this }}` stands in with the model's own columns, not its upstream's."""
    root = write_files(tmp_path / "ws", INCREMENTAL)
    write_files(root, {ORDERS: INCREMENTAL[ORDERS].replace(
        "max(day_text)", "max(cast(day_text as date))")})
    assert run_cli("check", "-p", str(root)).exit_code == 0


TABLE_INPUT = {
    "dpsql.yml": "name: tab\n",
    PRODUCT: "name: sales\ninputs:\n  - name: raw_orders\n    table: raw.orders\n"
             "outputs:\n  - name: orders\n  - name: big\n",
    ORDERS: "select id, amount from {{ input('raw_orders') }}\n",
    "sales/models/big.sql": "select id from {{ ref('orders') }} where amount > 10\n",
}


def _raw_orders(root: Path) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        con.execute("create schema raw; create table raw.orders as "
                    "select 1 as id, 20 as amount")
    finally:
        con.close()


def test_a_missing_table_input_is_reported_by_check_and_stops_the_build(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", TABLE_INPUT)
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    assert "All checks passed" not in result.output
    line = next(x for x in result.stderr.splitlines() if "[DP210]" in x)
    assert f"{PRODUCT}:3: warning[DP210]: input `raw_orders` of `sales` reads table " \
           "`raw.orders`, which is not in the warehouse" in line
    assert "`sales.orders` (and 1 more model downstream) cannot be typed" in line
    assert "hint: declare the table's `columns:`" in result.stderr

    result = run_cli("build", "-p", str(root))
    line = _error_at(result, "DP408", f"{PRODUCT}:3")
    assert "`sales.orders` reads table `raw.orders` (input `raw_orders` of `sales`), which is " \
           "not in the warehouse" in line
    assert "hint: create `raw.orders` in the warehouse first" in result.stderr
    assert "Catalog Error" not in result.output
    assert relations(root) == {}, "nothing built"


@pytest.mark.parametrize("declared", [False, True], ids=["in_the_warehouse", "declared_columns"])
def test_a_known_table_input_is_typed(tmp_path: Path, declared: bool) -> None:
    root = write_files(tmp_path / "ws", TABLE_INPUT)
    if declared:
        write_files(root, {PRODUCT: TABLE_INPUT[PRODUCT].replace(
            "table: raw.orders\n", "table: raw.orders\n    columns:\n"
            "      - {name: id, type: integer}\n      - {name: amount, type: integer}\n")})
    else:
        _raw_orders(root)
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 0 and "[DP210]" not in result.output, explain(result)
    if declared:  # typed from the YAML, but a build still needs the table
        _error_at(run_cli("build", "-p", str(root)), "DP408", f"{PRODUCT}:3")
        _raw_orders(root)
    build(root)
    assert query(root, "select id from sales.big") == [(1,)]
