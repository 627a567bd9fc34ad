"""Data tests where dbt users put them: on internal models (`models:` in product.yml) and on
inputs, with `where:` and `severity: warn`, custom generic tests from `{% test %}` blocks, and
a relationships test towards a downstream product. The failing rows are counted here from the
CSV, independently of dpsql."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from buildkit import build, query, run_results
from conftest import explain, run_cli, write_files

ROWS = [(1, 10, "placed", "5.00"), (2, 10, "shipped", "7.50"), (3, 11, "returned", "-2.00"),
        (4, 12, "placed", "")]

FILES = {
    "dpsql.yml": "name: tt\nwarehouse: warehouse.duckdb\n",
    "macros/tests.sql": """
        {% test is_positive(model, column_name) %}
        select * from {{ model }} where {{ column_name }} <= 0
        {% endtest %}

        {% test row_count_at_least(model, n) %}
        select count(*) as n_rows from {{ model }} having count(*) < {{ n }}
        {% endtest %}
    """,
    "sales/orders/product.yml": """
        name: orders
        domain: sales
        version: 1.0.0
        inputs:
          - name: raw_orders
            file: ../../data/orders.csv
            tests:
              - row_count_at_least: {n: 2}
            columns:
              - name: order_id
                tests: [not_null, unique]
              - name: amount
                tests:
                  - not_null: {config: {severity: warn}}
        models:
          - name: stg_orders
            tests:
              - row_count_at_least: {n: 3}
            columns:
              - name: status
                tests:
                  - accepted_values:
                      values: [placed, shipped]
                      config: {where: "status <> 'returned'"}
              - name: amount
                data_tests:
                  - is_positive: {where: "status <> 'returned'"}
        outputs:
          - name: orders
            model: fct_orders
            columns:
              - {name: order_id, type: bigint}
              - name: customer_id
                type: bigint
                tests: [{relationships: {to: customers.customers, field: customer_id}}]
              - {name: amount, type: 'decimal(10,2)'}
    """,
    "sales/orders/models/stg_orders.sql": """
        select order_id::bigint as order_id, customer_id::bigint as customer_id, status,
               amount::decimal(10,2) as amount
        from {{ input('raw_orders') }}
    """,
    "sales/orders/models/fct_orders.sql": """
        select order_id, customer_id, amount from {{ ref('stg_orders') }}
    """,
    "crm/customers/product.yml": """
        name: customers
        domain: crm
        version: 1.0.0
        inputs:
          - {name: orders, product: orders, port: orders, version: ^1}
        outputs:
          - name: customers
            columns:
              - {name: customer_id, type: bigint}
    """,
    "crm/customers/models/customers.sql": """
        select distinct customer_id from {{ input('orders') }}
    """,
}


def _workspace(root: Path, rows: list[tuple[Any, ...]], **changes: str) -> Path:
    write_files(root, {**FILES, **changes})
    (root / "data").mkdir(exist_ok=True)
    with (root / "data" / "orders.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer_id", "status", "amount"])
        writer.writerows(rows)
    return root


def _tests(root: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((root / "target" / "test_results.json").read_text())
    return {r["name"]: r for r in data["results"]}


def _oracle(rows: list[tuple[Any, ...]], customers: set[int]) -> dict[str, tuple[str, int]]:
    """Each test's expected status and failing count, from the rows."""
    ids = [r[0] for r in rows]
    null_amounts = sum(1 for r in rows if r[3] == "")
    kept = [r for r in rows if r[2] != "returned"]
    bad_status = len({r[2] for r in kept if r[2] not in ("placed", "shipped")})
    not_positive = sum(1 for r in kept if r[3] != "" and float(r[3]) <= 0)
    orphans = len({r[1] for r in rows if r[1] not in customers})
    def res(n: int, warn: bool = False) -> tuple[str, int]:
        return ("pass" if n == 0 else "warn" if warn else "fail", n)
    return {
        "row_count_at_least(orders.raw_orders)": res(1 if len(rows) < 2 else 0),
        "not_null(orders.raw_orders.order_id)": res(0),
        "unique(orders.raw_orders.order_id)": res(len({i for i in ids if ids.count(i) > 1})),
        "not_null(orders.raw_orders.amount)": res(null_amounts, warn=True),
        "row_count_at_least(orders.stg_orders)": res(1 if len(rows) < 3 else 0),
        "accepted_values(orders.stg_orders.status) where status <> 'returned'": res(bad_status),
        "is_positive(orders.stg_orders.amount) where status <> 'returned'": res(not_positive),
        "relationships(orders.orders.customer_id -> customers.customers.customer_id)":
            res(orphans),
    }


def test_tests_on_models_and_inputs_run_in_build_and_test(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", ROWS)
    check = run_cli("check", "-p", str(root))
    assert check.exit_code == 0 and "DP207" not in check.output, explain(check)
    result = build(root)
    assert "WARN  not_null(orders.raw_orders.amount): 1 NULL rows" in result.output
    assert "PASS  unique(orders.raw_orders.order_id)" not in result.output
    results = run_results(root)
    assert {t["name"] for t in results["orders.stg_orders"]["tests"]} == {
        "row_count_at_least(orders.stg_orders)",
        "accepted_values(orders.stg_orders.status) where status <> 'returned'",
        "is_positive(orders.stg_orders.amount) where status <> 'returned'"}
    # the relationships test towards the downstream product runs with that product's model
    customers = {r[0] for r in query(root, "from customers.customers")}
    assert customers == {10, 11, 12}
    expected = _oracle(ROWS, customers)
    ran = {t["name"]: (t["status"], t["failures"]) for r in results.values() for t in r["tests"]}
    built = json.loads((root / "target" / "run_results.json").read_text())
    ran.update({t["name"]: (t["status"], t["failures"]) for t in built["input_tests"]})
    assert ran == expected
    # dpsql test runs the same tests on what is published; a warning fails nothing
    tested = run_cli("test", "-p", str(root))
    assert tested.exit_code == 0, explain(tested)
    assert "1 warned" in tested.output
    assert {n: (r["status"], r["failures"]) for n, r in _tests(root).items()} == expected


def test_failing_tests_stop_what_they_guard(tmp_path: Path) -> None:
    rows = [*ROWS, (5, 13, "shipped", "-1"), (6, 13, "lost", "4")]
    root = _workspace(tmp_path / "ws", rows)
    result = build(root, ok=False)
    assert result.exit_code == 1
    statuses = {mid: r["status"] for mid, r in run_results(root).items()}
    assert statuses == {"orders.stg_orders": "fail", "orders.fct_orders": "skipped",
                        "customers.customers": "skipped"}
    failed = {t["name"]: t["failures"] for t in run_results(root)["orders.stg_orders"]["tests"]
              if t["status"] == "fail"}
    expected = _oracle(rows, set())
    assert failed == {n: c for n, (s, c) in expected.items() if s == "fail" and "stg" in n}
    # an input whose test fails holds back every model that reads it
    dup = _workspace(tmp_path / "dup", [*ROWS, (1, 10, "placed", "1.00")])
    result = build(dup, ok=False)
    assert "input raw_orders: its test unique(orders.raw_orders.order_id) failed" in \
        result.output, explain(result)
    assert {mid: r["status"] for mid, r in run_results(dup).items()} == {
        "orders.stg_orders": "skipped", "orders.fct_orders": "skipped",
        "customers.customers": "skipped"}


def test_custom_test_problems_are_located(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", ROWS)
    yml = root / "sales/orders/product.yml"
    yml.write_text(yml.read_text().replace("is_positive:", "is_positve:"))
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 1
    assert "product.yml" in result.output and "error[DP601]: unknown test `is_positve`" in \
        result.output and "did you mean `is_positive`" in result.output, result.output
    yml.write_text(yml.read_text().replace("is_positve: {where: \"status <> 'returned'\"}",
                                           "is_positive: {where: \"status <> \"}"))
    result = run_cli("check", "-p", str(root))
    assert "DP602" in result.output and "is not a SQL condition" in result.output, result.output
