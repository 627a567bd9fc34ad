"""Golden interface checks: small workspaces, each with exactly the diagnostics it must produce.

A case is the base workspace below with some files replaced. Expected diagnostics are written as
(code, path, needle): the diagnostic must sit on the first line of `path` holding `needle`, and
an interface diagnostic in a SQL file at the column where `needle` starts. Every diagnostic
`dpsql check` prints must be expected, and every expected one printed.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dpsql.cli.commands import main

SALES_YML = "shop/sales/product.yml"
STG = "shop/sales/models/stg_sales.sql"
FCT = "shop/sales/models/fct_sales.sql"
SPEND_YML = "reports/spend/product.yml"
SPEND = "reports/spend/models/spend.sql"

BASE: dict[str, str] = {
    "dpsql.yml": """
        name: mini
        warehouse: wh.duckdb
    """,
    "data/sales.csv": """
        sale_id,customer,qty,price,sold_on
        1,ann,2,1.50,2024-01-03
        2,bob,1,3.00,2024-01-04
        3,ann,5,0.20,2024-02-01
        4,cid,3,9.99,2024-02-11
    """,
    SALES_YML: """
        name: sales
        domain: shop
        owner: shop@example.com
        version: 1.2.0
        inputs:
          - name: raw_sales
            file: ../../data/sales.csv
        outputs:
          - name: sales
            model: fct_sales
            columns:
              - {name: sale_id, type: bigint}
              - {name: customer, type: varchar}
              - {name: qty, type: integer}
              - {name: amount, type: 'decimal(18,2)'}
              - {name: sold_on, type: date}
    """,
    STG: """
        select
            sale_id::bigint as sale_id,
            customer,
            qty::integer as qty,
            (qty * price)::decimal(18, 2) as amount,
            sold_on::date as sold_on
        from {{ input('raw_sales') }}
    """,
    FCT: """
        select sale_id, customer, qty, amount, sold_on
        from {{ ref('stg_sales') }}
    """,
    SPEND_YML: """
        name: spend
        domain: reports
        owner: reports@example.com
        version: 0.1.0
        inputs:
          - name: sales
            product: sales
            port: sales
            version: ^1.1
            columns:
              - {name: customer, type: varchar}
              - {name: qty, type: bigint}
              - {name: amount, type: 'decimal(20,2)'}
        outputs:
          - name: spend
            columns:
              - {name: customer, type: varchar}
              - {name: orders, type: bigint}
              - {name: units, type: bigint}
              - {name: avg_amount, type: 'decimal(18,2)'}
    """,
    SPEND: """
        select
            customer,
            count(*) as orders,
            sum(qty)::bigint as units,
            (sum(amount) / count(*))::decimal(18, 2) as avg_amount
        from sales.sales
        group by customer
    """,
}
BASE = {path: textwrap.dedent(text).lstrip("\n") for path, text in BASE.items()}

_SPEND_TAIL = """
    count(*) as orders,
    sum(qty)::bigint as units,
    (sum(amount) / count(*))::decimal(18, 2) as avg_amount
"""


def spend(select_from: str) -> str:
    """spend.sql with the base select list and another FROM part."""
    return "select\n    customer," + _SPEND_TAIL + select_from


Expected = list[tuple[str, str, str]]

# name -> (files replaced, diagnostics expected as (code, path, needle))
FAILING: dict[str, tuple[dict[str, str], Expected]] = {
    "hugeint_from_sum": (
        {SPEND: BASE[SPEND].replace("sum(qty)::bigint as units", "sum(qty) as units")},
        [("DP305", SPEND, "units")]),
    "double_from_decimal_division": (
        {SPEND: BASE[SPEND].replace("(sum(amount) / count(*))::decimal(18, 2) as avg_amount",
                                    "sum(amount) / count(*) as avg_amount")},
        [("DP305", SPEND, "avg_amount")]),
    "port_column_missing": (
        {FCT: "select sale_id, customer, qty, amount\nfrom {{ ref('stg_sales') }}\n"},
        [("DP301", SALES_YML, "name: sold_on")]),
    "port_column_extra": (
        {FCT: "select sale_id, customer, qty, amount, sold_on,\n    qty * 2 as double_qty\n"
              "from {{ ref('stg_sales') }}\n"},
        [("DP302", FCT, "double_qty")]),
    "port_column_renamed": (
        {FCT: "select sale_id, customer, qty, amount,\n    sold_on as sale_date\n"
              "from {{ ref('stg_sales') }}\n"},
        [("DP303", FCT, "sale_date")]),
    "port_columns_reordered": (
        {FCT: "select sale_id, qty, customer, amount, sold_on\nfrom {{ ref('stg_sales') }}\n"},
        [("DP304", FCT, "qty")]),
    "port_column_of_another_type": (
        {FCT: "select sale_id, customer,\n    qty::bigint as qty,\n    amount, sold_on\n"
              "from {{ ref('stg_sales') }}\n"},
        [("DP305", FCT, "qty,")]),
    "several_port_problems_at_once": (
        {FCT: "select sale_id,\n    customer::varchar(3) as buyer,\n    qty * 1.5 as qty,\n"
              "    amount\nfrom {{ ref('stg_sales') }}\n"},
        [("DP303", FCT, "buyer"), ("DP305", FCT, "qty,"), ("DP301", SALES_YML, "sold_on")]),
    "select_star_port_model_with_a_column_its_contract_lacks": (
        {SPEND_YML: BASE[SPEND_YML] + "  - name: all_sales\n    columns:\n"
         + BASE[SALES_YML].split("    columns:\n")[1].replace("      - {name: sold_on, type: date}\n", ""),
         "reports/spend/models/all_sales.sql": "select *\nfrom {{ input('sales') }}\n"},
        [("DP302", "reports/spend/models/all_sales.sql", "*")]),
    "consumer_reads_missing_column": (
        {SPEND: spend("from sales.sales\nwhere discount > 0\ngroup by customer\n")},
        [("DP307", SPEND, "discount")]),
    "consumer_reads_port_under_alias": (
        {SPEND: spend("from sales.sales as s\nwhere s.discount > 0\ngroup by customer\n")},
        [("DP307", SPEND, "discount")]),
    "consumer_reads_port_under_alias_with_jinja": (
        {SPEND: spend("from {{ ref('sales', 'sales') }} as s\nwhere s.discount > 0\n"
                      "group by customer\n")},
        [("DP307", SPEND, "discount")]),
    "missing_column_on_a_line_with_jinja": (
        {"macros/money.sql": "{% macro dollars(col) -%}\n    ({{ col }} / 100)::decimal(18, 2)\n"
                             "{%- endmacro %}\n",
         SPEND: "{{ config(materialized='table') }}\n\n" + spend(
             "from {{ ref('sales', 'sales') }} as s where {{ dollars('s.amount') }} > s.floor\n"
             "group by customer\n")},
        [("DP307", SPEND, "floor")]),
    "missing_column_inside_cte": (
        {SPEND: "with kept as (\n    select customer, qty, amount\n    from sales.sales\n"
                "    where not is_refund\n)\n" + spend("from kept\ngroup by customer\n")},
        [("DP307", SPEND, "is_refund")]),
    "missing_column_inside_subquery": (
        {SPEND: spend("from (\n    select customer, qty, amount, channel\n    from sales.sales\n"
                      ") as t\ngroup by customer\n")},
        [("DP307", SPEND, "channel")]),
    "select_star_through_port_then_missing_column": (
        {SPEND: "with s as (select * from sales.sales),\n"
                "t as (select * exclude (sold_on) from s)\n"
                + spend("from t\nwhere t.channel = 'web'\ngroup by customer\n")},
        [("DP307", SPEND, "channel")]),
    "group_by_all_with_missing_column": (
        {SPEND: "select\n    customer,\n    region," + _SPEND_TAIL
                + "from sales.sales\ngroup by all\n"},
        [("DP307", SPEND, "region")]),
    "correlated_subquery_reads_missing_column": (
        {SPEND: spend("from sales.sales as s\nwhere exists (\n    select 1 from sales.sales as r\n"
                      "    where r.customer = s.customer and r.refunded\n)\ngroup by customer\n")},
        [("DP307", SPEND, "refunded")]),
    "several_missing_columns_reported_at_once": (
        {SPEND: spend("from sales.sales\nwhere channel = 'web'\n"
                      "    and region = 'eu'\ngroup by customer\n")},
        [("DP307", SPEND, "channel"), ("DP307", SPEND, "region")]),
    "consumer_is_typed_from_the_contract_not_the_model": (
        {FCT: "select sale_id, customer, qty, amount, sold_on,\n    price_band\n"
              "from (select *, 'low' as price_band from {{ ref('stg_sales') }})\n",
         SPEND: spend("from sales.sales\nwhere price_band = 'low'\ngroup by customer\n")},
        [("DP302", FCT, "price_band"), ("DP307", SPEND, "price_band")]),
    "broken_producer_does_not_hide_consumer_problems": (
        {FCT: "select sale_id, customer, qty, amount, sold_on, nope\n"
              "from {{ ref('stg_sales') }}\n",
         SPEND: spend("from sales.sales\nwhere discount > 0\ngroup by customer\n")},
        [("DP208", FCT, "nope"), ("DP307", SPEND, "discount")]),
    "producer_that_does_not_compile_does_not_hide_consumer_problems": (
        {FCT: "select sale_id, customer, qty, amount, sold_on,\nfrom {{ ref('stg_sales') }} where\n",
         SPEND: spend("from sales.sales\nwhere discount > 0\ngroup by customer\n")},
        [("DP201", FCT, "from"), ("DP307", SPEND, "discount")]),
    "expectation_narrows": (
        {SPEND_YML: BASE[SPEND_YML].replace("{name: qty, type: bigint}",
                                            "{name: qty, type: smallint}")},
        [("DP309", SPEND_YML, "name: qty")]),
    "expectation_decimal_narrows": (
        {SPEND_YML: BASE[SPEND_YML].replace("type: 'decimal(20,2)'", "type: 'decimal(10,2)'")},
        [("DP309", SPEND_YML, "name: amount")]),
    "expectation_of_missing_column": (
        {SPEND_YML: BASE[SPEND_YML].replace(
            "- {name: qty, type: bigint}\n",
            "- {name: qty, type: bigint}\n      - {name: channel}\n")},
        [("DP308", SPEND_YML, "name: channel")]),
    "version_range_not_satisfied": (
        {SPEND_YML: BASE[SPEND_YML].replace("version: ^1.1", "version: ^2")},
        [("DP310", SPEND_YML, "version: ^2")]),
    "version_range_ahead_of_producer": (
        {SPEND_YML: BASE[SPEND_YML].replace("version: ^1.1", "version: '>=1.3, <2'")},
        [("DP310", SPEND_YML, "version: '>=1.3")]),
    "reads_internal_relation": (
        {SPEND: spend("from sales_internal.stg_sales\ngroup by customer\n")},
        [("DP204", SPEND, "sales_internal")]),
    "reads_undeclared_product": (
        {SPEND_YML: "name: spend\ndomain: reports\noutputs:\n  - name: spend\n    columns:\n"
                    "      - {name: customer, type: varchar}\n"},
        [("DP205", SPEND, "sales.sales")]),
    "product_cycle": (
        {SALES_YML: BASE[SALES_YML].replace(
            "inputs:\n", "inputs:\n  - {name: spent, product: spend, port: spend}\n")},
        [("DP207", SPEND_YML, "name: spend"), ("DP311", SALES_YML, "name: spent")]),
}

# warnings only: `dpsql check` exits 0 and prints exactly these
WARNING: dict[str, tuple[dict[str, str], Expected]] = {
    "input_never_read": (
        {SPEND_YML: BASE[SPEND_YML].replace(
            "outputs:\n", "  - {name: old_sales, product: sales, port: sales}\noutputs:\n")},
        [("DP311", SPEND_YML, "name: old_sales")]),
    "port_without_contract": (
        {SPEND_YML: BASE[SPEND_YML].split("outputs:")[0] + "outputs:\n  - name: spend\n"},
        [("DP306", SPEND_YML, "- name: spend")]),
}

# must pass cleanly: no diagnostic at all
PASSING: dict[str, dict[str, str]] = {
    "base": {},
    "group_by_all": {SPEND: BASE[SPEND].replace("group by customer", "group by all")},
    "select_star_port_model": {
        SPEND_YML: BASE[SPEND_YML] + "  - name: all_sales\n    columns:\n"
        + BASE[SALES_YML].split("    columns:\n")[1],
        "reports/spend/models/all_sales.sql": "select * from {{ input('sales') }}\n",
    },
    "reads_inside_cte_and_subquery_under_aliases": {
        SPEND: "with kept as (\n    select s.* from sales.sales as s where s.qty > 0\n)\n"
               + spend("from (select k.customer, k.qty, k.amount from kept as k) as t\n"
                       "where exists (select 1 from sales.sales as r where r.customer = t.customer)\n"
                       "group by customer\n")},
    "union_and_lateral_alias": {
        SPEND: "select customer, orders, units, avg_amount from (\n"
               "    select customer, count(*) as orders, sum(qty)::bigint as units,\n"
               "        (sum(amount) / orders)::decimal(18, 2) as avg_amount\n"
               "    from sales.sales group by customer\n"
               "    union all\n"
               "    select 'nobody', 0, 0, 0\n) as u\n"},
    "widening_expectations": {
        SPEND_YML: BASE[SPEND_YML]
        .replace("{name: customer, type: varchar}", "{name: customer, type: 'varchar(200)'}")
        .replace("{name: qty, type: bigint}", "{name: qty, type: hugeint}")
        .replace("type: 'decimal(20,2)'", "type: 'decimal(19,2)'")},
    "version_ranges": {SPEND_YML: BASE[SPEND_YML].replace("version: ^1.1",
                                                          "version: '>=1.0.0, <2.0.0'")},
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def workspace(tmp_path: Path, changes: dict[str, str]) -> tuple[Path, dict[str, str]]:
    files = {k: textwrap.dedent(v).lstrip("\n") for k, v in BASE.items()}
    files.update({k: textwrap.dedent(v).lstrip("\n") for k, v in changes.items()})
    return write(tmp_path / "ws", files), files


def check(root: Path) -> tuple[Result, list[dict[str, object]]]:
    result = CliRunner().invoke(main, ["check", "-p", str(root), "--format", "json"])
    return result, json.loads(result.stdout)["diagnostics"]


def _with_col(code: str, path: str) -> bool:
    """Interface diagnostics in SQL files are checked down to the column."""
    return code.startswith("DP3") and path.endswith(".sql")


def located(root: Path, files: dict[str, str], expected: Expected) -> list[tuple[str, str, int, int]]:
    out = []
    for code, rel, needle in expected:
        lines = files[rel].splitlines()
        number = next(i for i, line in enumerate(lines, 1) if needle in line)
        col = lines[number - 1].index(needle) + 1 if _with_col(code, rel) else 0
        out.append((code, str(root / rel), number, col))
    return out


def found(root: Path, diagnostics: list[dict[str, object]]) -> list[tuple[str, str, int, int]]:
    out = []
    for d in diagnostics:
        path = Path(str(d["path"]))
        full = str(path if path.is_absolute() else (Path.cwd() / path).resolve())
        col = int(d["col"] or 0) if _with_col(str(d["code"]), str(d["path"])) else 0  # type: ignore[call-overload]
        out.append((str(d["code"]), full, int(d["line"] or 0), col))  # type: ignore[call-overload]
    return out


@pytest.mark.parametrize("case", list(FAILING))
def test_broken_workspace_reports_exactly(tmp_path: Path, case: str) -> None:
    changes, expected = FAILING[case]
    root, files = workspace(tmp_path, changes)
    result, diagnostics = check(root)
    assert result.exit_code == 1, result.output
    assert sorted(found(root, diagnostics)) == sorted(located(root, files, expected)), (
        json.dumps(diagnostics, indent=1))
    for d in diagnostics:
        assert d["hint"], d
    assert not (root / "wh.duckdb").exists()


@pytest.mark.parametrize("case", list(WARNING))
def test_warnings_do_not_fail(tmp_path: Path, case: str) -> None:
    changes, expected = WARNING[case]
    root, files = workspace(tmp_path, changes)
    result, diagnostics = check(root)
    assert result.exit_code == 0, result.output
    assert sorted(found(root, diagnostics)) == sorted(located(root, files, expected)), (
        json.dumps(diagnostics, indent=1))
    assert all(d["severity"] == "warning" for d in diagnostics)


@pytest.mark.parametrize("case", list(PASSING))
def test_clean_workspace_passes(tmp_path: Path, case: str) -> None:
    root, _ = workspace(tmp_path, PASSING[case])
    result, diagnostics = check(root)
    assert diagnostics == [] and result.exit_code == 0, json.dumps(diagnostics, indent=1)
