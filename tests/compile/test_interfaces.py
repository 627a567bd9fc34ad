"""Interfaces end to end: `dpsql check`, builds that refuse broken interfaces, the audit after
materialization, and static types that agree with what DuckDB really builds."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result
from interface_mesh import generate
from test_contracts_golden import BASE, FCT, SPEND, spend, workspace

from dpsql.build.engine import BuildOptions, run
from dpsql.build.plan import select
from dpsql.cli.commands import main
from dpsql.compile.checks.contracts import differences
from dpsql.compile.pipeline import compile_project
from dpsql.core.dtypes import widens
from dpsql.core.errors import CODES
from dpsql.core.project import Column, CompiledProject
from dpsql.core.specs import ColumnSpec
from dpsql.load.loader import load_project

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "projects" / "shop"


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


# --- dpsql check ---------------------------------------------------------------------------------


def test_check_reports_everything_at_once_and_never_creates_a_warehouse(tmp_path: Path) -> None:
    root, _ = workspace(tmp_path, {
        FCT: "select sale_id, customer, qty, amount\nfrom {{ ref('stg_sales') }}\n",
        SPEND: spend("from sales.sales\nwhere discount > 0\ngroup by customer\n"),
    })
    result = cli("check", "-p", str(root))
    assert result.exit_code == 1
    assert re.findall(r"error\[(DP\d+)\]", result.stderr) == ["DP301", "DP307"]
    assert "spend.sql:7:7: error[DP307]" in result.stderr
    assert "hint: " in result.stderr and "2 errors" in result.stderr
    assert "Traceback" not in result.output
    assert not (root / "wh.duckdb").exists()
    assert [p.name for p in (root / "target").iterdir()] == ["cache"]  # its compile cache only


def test_check_json_is_one_document_for_ci(tmp_path: Path) -> None:
    root, _ = workspace(tmp_path, {SPEND: BASE[SPEND].replace("::bigint as units", " as units")})
    result = cli("check", "-p", str(root), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    [d] = data["diagnostics"]
    assert set(d) == {"code", "severity", "message", "path", "line", "col", "hint"}
    assert (d["code"], d["severity"], d["line"]) == ("DP305", "error", 4)
    assert "HUGEINT" in d["message"] and "BIGINT" in d["message"]
    assert "CAST(sum(qty) AS BIGINT) AS units" in d["hint"]


def test_check_passes_on_the_example_workspace_without_touching_it(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop, ignore=shutil.ignore_patterns("target", "*.duckdb*"))
    result = cli("check", "-p", str(shop), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ok": True, "diagnostics": []}
    assert not (shop / "warehouse.duckdb").exists()


def test_verbose_check_says_how_each_model_was_typed(tmp_path: Path) -> None:
    root, _ = workspace(tmp_path, {})
    result = cli("-v", "check", "-p", str(root))
    assert result.exit_code == 0, result.output
    typed = [line for line in result.stderr.splitlines() if "typed " in line]
    assert len(typed) == 3
    assert any("spend.spend" in line and "sales.sales (port contract)" in line for line in typed)
    assert any("sales.stg_sales" in line and "(file schema)" in line for line in typed)


def test_contract_breaking_edits_of_the_example_fail_check(tmp_path: Path) -> None:
    """As a new user would: break a contract in projects/shop, `dpsql check` says what to change."""
    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop, ignore=shutil.ignore_patterns("target", "*.duckdb*"))
    yml = shop / "sales" / "orders" / "product.yml"
    yml.write_text(yml.read_text().replace("      - name: coupon_code\n        type: varchar\n"
                                           "        description: NULL when no coupon was used.\n",
                                           ""))
    fct = shop / "sales" / "orders" / "models" / "fct_orders.sql"
    fct.write_text(fct.read_text().replace("    amount,", "    amount / 2 as amount,"))
    result = cli("check", "-p", str(shop))
    assert result.exit_code == 1
    assert "error[DP302]: model `fct_orders` produces column `coupon_code` (VARCHAR)" in result.stderr
    assert "error[DP305]: column `amount` of port `orders.orders` is DOUBLE" in result.stderr
    assert "CAST(amount / 2 AS DECIMAL(18,2)) AS amount" in result.stderr
    assert not (shop / "warehouse.duckdb").exists()


# --- compile and build refuse broken interfaces ----------------------------------------------


@pytest.mark.parametrize("command", ["build", "compile"])
def test_interface_errors_stop_before_the_warehouse(tmp_path: Path, command: str) -> None:
    root, _ = workspace(tmp_path, {SPEND: spend("from sales.sales as s\nwhere s.region = 'eu'\n"
                                                "group by customer\n")})
    result = cli(command, "-p", str(root))
    assert result.exit_code == 1
    assert "[DP307]" in result.stderr and "[DP208]" not in result.stderr
    assert not (root / "wh.duckdb").exists()
    assert not (root / "target" / "manifest.json").exists()


def test_warnings_are_printed_and_the_build_goes_on(tmp_path: Path) -> None:
    root, _ = workspace(tmp_path, {
        "reports/spend/product.yml": BASE["reports/spend/product.yml"].replace(
            "outputs:\n", "  - {name: unused, product: sales, port: sales}\noutputs:\n")})
    result = cli("build", "-p", str(root))
    assert result.exit_code == 0, result.output
    assert "warning[DP311]" in result.stderr
    assert "Built 3 of 3 models" in result.output


# --- the audit after materialization ------------------------------------------------------------

TABLE_INPUT = {
    "dpsql.yml": "name: audit\nwarehouse: wh.duckdb\n",
    "prices/product.yml": """
        name: prices
        domain: shop
        version: 1.0.0
        inputs:
          - name: raw_prices
            table: raw.prices
        outputs:
          - name: prices
            columns:
              - {name: item, type: varchar}
              - {name: price, type: 'decimal(18,2)'}
          - name: price_view
            columns:
              - {name: item, type: varchar}
              - {name: price, type: 'decimal(18,2)'}
    """,
    "prices/models/prices.sql": "select item, price from raw.prices\n",
    "prices/models/price_view.sql":
        "{{ config(materialized='view') }}\nselect item, price from raw.prices\n",
    "shelf/product.yml": """
        name: shelf
        domain: shop
        inputs:
          - {name: prices, product: prices, port: prices}
        outputs:
          - name: shelf
            columns:
              - {name: item, type: varchar}
    """,
    "shelf/models/shelf.sql": "select item from prices.prices\n",
}


def _compiled(root: Path) -> CompiledProject:
    compiled = compile_project(load_project(root))
    assert not compiled.errors, compiled.errors
    return compiled


def test_build_refuses_to_publish_a_port_whose_real_types_break_its_contract(tmp_path: Path) -> None:
    import textwrap

    root = tmp_path / "ws"
    for rel, text in TABLE_INPUT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip("\n"))
    con = duckdb.connect(str(root / "wh.duckdb"))
    con.execute("create schema raw; create table raw.prices (item varchar, price decimal(18,2));"
                "insert into raw.prices values ('tea', 2.50)")
    con.close()
    assert cli("build", "-p", str(root)).exit_code == 0
    compiled = _compiled(root)  # compiled while raw.prices still has the contract's type
    con = duckdb.connect(str(root / "wh.duckdb"))
    con.execute("drop table raw.prices; create table raw.prices (item varchar, price double);"
                "insert into raw.prices values ('tea', 9.75)")
    con.close()
    # table inputs' contents are not fingerprinted: a full refresh rebuilds from the new table
    result = run(compiled, select(compiled), BuildOptions(full_refresh=True))
    by_id = {r.id: r for r in result.results}
    assert by_id["prices.prices"].status == "fail"
    assert ("column `price` is DOUBLE in the built table, DECIMAL(18,2) in the contract"
            in by_id["prices.prices"].message)
    assert "not published" in by_id["prices.prices"].message
    assert by_id["prices.price_view"].status == "fail"
    assert by_id["shelf.shelf"].status == "skipped"
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    assert con.execute("select item, price::varchar, typeof(price) from prices.prices").fetchall() \
        == [("tea", "2.50", "DECIMAL(18,2)")]
    assert con.execute("select count(*) from information_schema.tables "
                       "where table_name like '__dpsql_new_%'").fetchone() == (0,)


# --- static types agree with DuckDB's build ---------------------------------------------------


def _built_types(warehouse: Path, compiled: CompiledProject) -> dict[str, list[tuple[str, str]]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select table_schema, table_name, column_name, data_type "
                       "from information_schema.columns order by ordinal_position").fetchall()
    con.close()
    by_relation: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        by_relation.setdefault((schema, table), []).append((column, data_type))
    return {mid: by_relation.get((m.relation.schema, m.relation.name), [])
            for mid, m in compiled.models.items()}


def _assert_static_types_match_the_build(root: Path, warehouse: Path) -> int:
    result = cli("build", "-p", str(root))
    assert result.exit_code == 0, result.output
    compiled = _compiled(root)
    built = _built_types(warehouse, compiled)
    for mid, model in compiled.models.items():
        assert model.columns is not None, mid
        assert model.typed_by.startswith("DuckDB's binder against stand-ins"), mid
        assert [(c.name, c.type) for c in model.columns] == built[mid], mid
    return len(compiled.models)


def test_static_types_match_the_built_example_workspace(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop, ignore=shutil.ignore_patterns("target", "*.duckdb*"))
    assert _assert_static_types_match_the_build(shop, shop / "warehouse.duckdb") == len(
        list(SHOP.glob("*/*/models/*.sql")))


def test_static_types_match_the_built_generated_workspace(tmp_path: Path) -> None:
    root = generate(tmp_path / "mesh")
    count = _assert_static_types_match_the_build(root, root / "wh.duckdb")
    assert count >= 100
    compiled = _compiled(root)
    types = {c.type for m in compiled.models.values() for c in m.columns or ()}
    assert {"HUGEINT", "DOUBLE", "DECIMAL(38,2)", "INTEGER[]"} <= types
    consumer = compiled.models["p05.stg"]
    assert "p04.events (port contract)" in consumer.typed_by
    assert "(the port has no contract)" in compiled.models["p05.m_cross"].typed_by or \
        "(port contract)" in compiled.models["p05.m_cross"].typed_by


# --- units -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected", "fits"), [
    ("INTEGER", "BIGINT", True), ("BIGINT", "INTEGER", False), ("HUGEINT", "BIGINT", False),
    ("DECIMAL(10,2)", "DECIMAL(18,2)", True), ("DECIMAL(18,2)", "DECIMAL(10,2)", False),
    ("DECIMAL(10,2)", "DECIMAL(10,3)", False), ("DECIMAL(10,2)", "DECIMAL(11,3)", True),
    ("INTEGER", "DECIMAL(12,2)", True), ("BIGINT", "DECIMAL(18,2)", False),
    ("INTEGER", "DOUBLE", True), ("BIGINT", "DOUBLE", False), ("FLOAT", "DOUBLE", True),
    ("DOUBLE", "FLOAT", False), ("UINTEGER", "BIGINT", True), ("UBIGINT", "BIGINT", False),
    ("VARCHAR", "VARCHAR", True), ("DATE", "TIMESTAMP", False), ("DOUBLE", "DECIMAL(38,10)", False),
])
def test_widening(given: str, expected: str, fits: bool) -> None:
    assert widens(given, expected) is fits


def test_differences_name_each_way_a_relation_can_differ() -> None:
    contract = [ColumnSpec("a", "bigint"), ColumnSpec("b", "varchar"), ColumnSpec("c", "date"),
                ColumnSpec("d", None)]
    actual = [Column("a", "INTEGER"), Column("x", "VARCHAR"), Column("d", "DATE"),
              Column("e", "BOOLEAN")]
    kinds = [(d.kind, d.actual.name if d.actual else d.expected.name if d.expected else "")
             for d in differences(contract, actual)]
    assert kinds == [("renamed", "x"), ("missing", "c"), ("extra", "e"), ("type", "a")]
    reordered = differences(contract[:2], [Column("b", "VARCHAR"), Column("a", "BIGINT")])
    assert [d.kind for d in reordered] == ["reordered"]
    assert differences(contract[:3], [Column("A", "BIGINT"), Column("b", "VARCHAR"),
                                      Column("c", "DATE")]) == []


def test_every_interface_code_is_documented() -> None:
    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    section = text.split("## Interfaces (DP3xx)", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| (DP3\d\d) \|", section, re.M))
    assert documented == {code for code in CODES if code.startswith("DP3")}
    assert documented, "no DP3xx code is documented"
    for code in documented:
        assert CODES[code] in section, code
