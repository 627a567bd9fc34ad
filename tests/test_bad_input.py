"""Every kind of bad input gets one clear message (code, file:line, hint), exit 1, no traceback,
and the warehouse is left untouched."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from conftest import BASE, run_cli, write_files

ITEMS_YML = "inventory/items/product.yml"
SHOPS_YML = "reports/shops/product.yml"
STG = "inventory/items/models/stg_items.sql"
TOTALS = "reports/shops/models/shop_totals.sql"

# name -> (files to change, expected code, expected "path:line[:col]" suffix, text in message)
CASES: dict[str, tuple[dict[str, str], str, str, str]] = {
    "malformed_yaml": (
        {ITEMS_YML: "name: items\ninputs:\n  - name: raw\n    file: [unclosed\n"},
        "DP001", f"{ITEMS_YML}:5:1", "not valid YAML"),
    "unknown_key_suggests_nearest": (
        {ITEMS_YML: BASE[ITEMS_YML].replace("domain: supply", "domian: supply")},
        "DP002", f"{ITEMS_YML}:2", "did you mean `domain`?"),
    "bad_contract_type": (
        {ITEMS_YML: BASE[ITEMS_YML].replace("type: bigint}", "type: bigintt}", 1)},
        "DP003", f"{ITEMS_YML}:12", "`bigintt` is not a DuckDB type"),
    "missing_file_input": (
        {ITEMS_YML: BASE[ITEMS_YML].replace("items.csv", "itemz.csv")},
        "DP007", f"{ITEMS_YML}:6", "itemz.csv, which does not exist"),
    "unknown_ref": (
        {"inventory/items/models/fct_items.sql": "select 1 as x\nfrom {{ ref('stg_itemz') }}\n"},
        "DP103", "inventory/items/models/fct_items.sql:2", "did you mean `stg_items`?"),
    "unknown_cross_product_ref": (
        {TOTALS: "select * from {{ ref('items', 'itemz') }}\n"},
        "DP103", f"{TOTALS}:1", "product `items` has no output port `itemz`"),
    "unknown_input": (
        {STG: "select *\nfrom {{ input('raw_itemz') }}\n"},
        "DP104", f"{STG}:2", "did you mean `raw_items`?"),
    "unset_var": (
        {STG: "select *\nfrom {{ input('raw_items') }}\nwhere qty > {{ var('max_qty') }}\n"},
        "DP105", f"{STG}:3", "var('max_qty') is not set"),
    "jinja_syntax_error": (
        {STG: "select 1 as x\n{% if true %}\nfrom t\n"},
        "DP101", f"{STG}:", "Jinja syntax error"),
    "jinja_undefined_name": (
        {STG: "select 1 as x\n\nfrom {{ inptu('raw_items') }}\n"},
        "DP102", f"{STG}:3", "'inptu' is undefined"),
    "sql_syntax_error": (
        {STG: "select item_id,\nfrom {{ input('raw_items') }} where\n"},
        "DP201", f"{STG}:2:31", "incomplete WHERE clause"),
    "not_a_select": (
        {STG: "insert into t values (1)\n"},
        "DP202", f"{STG}:1", "one SELECT"),
    "unknown_relation": (
        {STG: "select *\nfrom   raw.stuff\n"},
        "DP203", f"{STG}:2:8", "`raw.stuff` is neither a model"),
    "internal_relation_of_another_product": (
        {TOTALS: "select shop, 1::decimal(18,2) as total\nfrom items_internal.stg_items\n"},
        "DP204", f"{TOTALS}:2:6", "internal relation of product `items`"),
    "undeclared_port": (
        {SHOPS_YML: "name: shops\ndomain: reporting\noutputs:\n  - name: shop_totals\n"},
        "DP205", f"{TOTALS}:2", "does not declare as an input"),
    "model_cycle": (
        {STG: "select * from fct_items\n"},
        "DP206", f"{STG}:1", "items.stg_items -> items.fct_items -> items.stg_items"),
    "product_cycle": (
        {ITEMS_YML: BASE[ITEMS_YML].replace(
            "inputs:\n", "inputs:\n  - {name: totals, product: shops, port: shop_totals}\n")},
        "DP207", "product.yml:1", "cycle between products: shops -> items -> shops"),
    "duplicate_model": (
        {"inventory/items/models/more/stg_items.sql": "select 1 as x\n"},
        "DP005", "stg_items.sql:1", "defined twice"),
    "duplicate_product": (
        {"elsewhere/product.yml": "name: items\ndomain: x\n"},
        "DP004", "product.yml:1", "product `items` is defined twice"),
    "port_without_model": (
        {SHOPS_YML: BASE[SHOPS_YML].replace("- name: shop_totals", "- name: shop_totalz")},
        "DP008", f"{SHOPS_YML}:11", "fed by model `shop_totalz`, which does not exist"),
    "input_of_missing_product": (
        {SHOPS_YML: BASE[SHOPS_YML].replace("product: items", "product: itemz")},
        "DP209", f"{SHOPS_YML}:6", "did you mean `items`?"),
    "column_that_does_not_exist": (
        {TOTALS: "select shopp, sum(value)::decimal(18,2) as total\nfrom items.items\ngroup by 1\n"},
        "DP307", f"{TOTALS}:1:8", "shopp"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["build", "compile"])
def test_bad_input_is_reported_clearly(tmp_path: Path, case: str, command: str) -> None:
    files, code, where, text = CASES[case]
    root = write_files(tmp_path / "ws", {**BASE, **files})
    result = run_cli(command, "-p", str(root))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if f"[{code}]" in line]
    assert lines, result.output
    assert any(where in line for line in lines), result.output
    assert text in result.stderr
    assert "hint:" in result.stderr
    assert not (root / "wh.duckdb").exists(), "a failed compile must not create the warehouse"
    assert not (root / "target" / "manifest.json").exists()


def test_several_errors_are_reported_at_once(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE,
        STG: "select 1 +\n",
        TOTALS: "select * from {{ ref('nope') }}\n",
        ITEMS_YML: BASE[ITEMS_YML].replace("owner:", "ownr:"),
    })
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 1
    codes = re.findall(r"error\[(DP\d+)\]", result.stderr)
    assert codes == ["DP002"], "YAML problems stop the load before models are read"
    root = write_files(root, {ITEMS_YML: BASE[ITEMS_YML]})
    result = run_cli("build", "-p", str(root))
    codes = re.findall(r"error\[(DP\d+)\]", result.stderr)
    assert sorted(codes) == ["DP103", "DP201"], result.output
    assert "2 errors" in result.stderr


def test_failed_compile_leaves_existing_warehouse_untouched(tiny: Path) -> None:
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    warehouse = tiny / "wh.duckdb"
    before = warehouse.stat().st_mtime_ns, warehouse.read_bytes()
    write_files(tiny, {TOTALS: "select shop, total from items.items\n"})  # no column `total`
    result = run_cli("build", "-p", str(tiny))
    assert result.exit_code == 1
    assert (warehouse.stat().st_mtime_ns, warehouse.read_bytes()) == before


def test_missing_workspace(tmp_path: Path) -> None:
    result = run_cli("build", "-p", str(tmp_path))
    assert result.exit_code == 1
    assert "[DP006]" in result.stderr and "dpsql init" in result.stderr


def test_usage_errors_exit_2(tiny: Path) -> None:
    assert run_cli("build", "--no-such-flag").exit_code == 2
    result = run_cli("build", "-p", str(tiny), "--select", "itemz")
    assert result.exit_code == 2
    assert "did you mean `items`?" in result.output


def test_failed_model_keeps_previous_data_and_skips_downstream(tiny: Path) -> None:
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    con = duckdb.connect(str(tiny / "wh.duckdb"), read_only=True)
    before = con.execute("from items.items order by item_id").fetchall()
    con.close()
    # valid SQL that binds, but fails at run time: a cast error on real data
    write_files(tiny, {
        "inventory/items/models/fct_items.sql": """
            select item_id, shop, qty, (qty * price)::decimal(18,2) as value
            from {{ ref('stg_items') }}
            where cast(shop || 'x' as integer) > 0
        """,
        "reports/other/product.yml": "name: other\ndomain: reporting\n",
        "reports/other/models/standalone.sql": "select 42 as answer\n",
    })
    result = run_cli("build", "-p", str(tiny))
    assert result.exit_code == 1, result.output
    assert "ERROR items.fct_items" in result.output
    assert "SKIP  shops.shop_totals" in result.output
    assert "OK    other.standalone" in result.output
    con = duckdb.connect(str(tiny / "wh.duckdb"), read_only=True)
    assert con.execute("from items.items order by item_id").fetchall() == before
    assert con.execute("from other_internal.standalone").fetchall() == [(42,)]
    tables = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'items'"
    ).fetchall()}
    assert tables == {"items"}, "no staging table is left behind"
