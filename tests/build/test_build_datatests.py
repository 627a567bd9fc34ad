"""Data tests: column tests from contracts, singular tests, `dpsql test`, and tests run on the
new version of a port before it is published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from buildkit import build, explain, invoke, query, run_results, with_status
from conftest import write_files

FILES = {
    "dpsql.yml": "name: ws\nwarehouse: warehouse.duckdb\nthreads: 2\n",
    "data/customers.csv": "id,country\n1,NO\n2,IT\n3,NO\n",
    "data/orders.csv": "order_id,customer_id,status\n10,1,open\n11,2,open\n12,3,done\n13,1,done\n",
    "customers/product.yml": """
        name: customers
        inputs:
          - {name: raw, file: ../data/customers.csv}
        outputs:
          - name: customers
            columns:
              - {name: id, type: bigint, tests: [not_null, unique]}
              - {name: country, type: varchar, tests: [{accepted_values: ['NO', IT, FR]}]}
        """,
    "customers/models/customers.sql": "select id::bigint as id, country from {{ input('raw') }}\n",
    "orders/product.yml": """
        name: orders
        inputs:
          - {name: raw, file: ../data/orders.csv}
          - {name: customers, product: customers, port: customers}
        outputs:
          - name: orders
            columns:
              - name: order_id
                type: bigint
                tests: [unique]
              - name: customer_id
                type: bigint
                tests: [{relationships: {to: customers.customers, field: id}}]
              - name: status
                type: varchar
                tests: [{accepted_values: {values: [open, done]}}]
        """,
    "orders/models/orders.sql": """
        {{ config(materialized='table') }}
        select order_id::bigint as order_id, customer_id::bigint as customer_id, status
        from {{ input('raw') }}
        """,
    "orders/models/open_orders.sql": "select * from {{ ref('orders') }} where status = 'open'\n",
    "orders/tests/one_status_per_order.sql": """
        -- every order has exactly one status
        select order_id, count(distinct status) as n from {{ ref('orders') }}
        group by order_id having count(distinct status) <> 1
        """,
    "orders/tests/open_orders_are_open.sql":
        "select * from {{ ref('open_orders') }} where status <> 'open'\n",
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = write_files(tmp_path / "ws", FILES)
    build(workspace)
    return workspace


def test_every_test_passes_after_a_build(root: Path) -> None:
    result = invoke("test", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    assert "Ran 8 tests" in result.output and "8 passed" in result.output, result.output
    saved = json.loads((root / "target" / "test_results.json").read_text())
    names = {r["name"] for r in saved["results"]}
    assert "relationships(orders.orders.customer_id -> customers.customers.id)" in names
    assert "orders.one_status_per_order" in names
    assert {r["status"] for r in saved["results"]} == {"pass"}


def test_build_runs_a_port_s_tests_before_publishing(root: Path) -> None:
    tests = {t["name"]: t["status"] for t in run_results(root)["orders.orders"]["tests"]}
    assert tests == {
        "unique(orders.orders.order_id)": "pass",
        "relationships(orders.orders.customer_id -> customers.customers.id)": "pass",
        "accepted_values(orders.orders.status)": "pass",
        "orders.one_status_per_order": "pass",
    }
    assert [t["name"] for t in run_results(root)["orders.open_orders"]["tests"]] == [
        "orders.open_orders_are_open"]


def test_select_picks_the_tests_of_the_selected_models(root: Path) -> None:
    result = invoke("test", "-p", str(root), "--select", "customers")
    assert result.exit_code == 0, explain(result)
    # the customers port's own tests, and the test of orders that reads it
    assert "Ran 4 tests" in result.output
    assert "relationships(orders.orders.customer_id" in result.output
    assert "orders.one_status_per_order" not in result.output


def test_a_failing_test_keeps_the_previous_version_and_skips_consumers(root: Path) -> None:
    csv = root / "data" / "orders.csv"
    csv.write_text(csv.read_text() + "10,2,open\n14,9,lost\n")  # a duplicate, an orphan, a bad status
    result = build(root, ok=False)
    assert result.exit_code == 1
    entry = run_results(root)["orders.orders"]
    assert entry["status"] == "fail" and entry["code"] == "DP604"
    failed = {t["name"]: t for t in entry["tests"] if t["status"] == "fail"}
    assert set(failed) == {
        "unique(orders.orders.order_id)",
        "relationships(orders.orders.customer_id -> customers.customers.id)",
        "accepted_values(orders.orders.status)",
    }
    assert failed["unique(orders.orders.order_id)"]["failures"] == 1
    assert failed["unique(orders.orders.order_id)"]["sample"] == [["10", "2"]]
    assert failed["accepted_values(orders.orders.status)"]["sample"] == [["lost", "1"]]
    # the sample and the count are on screen too
    assert "1 duplicated values" in result.output and "lost" in result.output, result.output
    assert run_results(root)["orders.open_orders"]["status"] == "skipped"
    # the previous version is still what readers see
    assert query(root, "select order_id from orders.orders order by order_id") == [
        (10,), (11,), (12,), (13,)]


def test_a_failing_singular_test_blocks_its_model(root: Path) -> None:
    model = root / "orders" / "models" / "open_orders.sql"
    model.write_text("select * from {{ ref('orders') }}\n")  # no longer filters
    result = build(root, ok=False)
    assert run_results(root)["orders.open_orders"]["status"] == "fail", explain(result)
    assert "orders.open_orders_are_open" in result.output
    assert "2 rows" in result.output
    assert query(root, "select count(*) from orders_internal.open_orders") == [(2,)]


def test_dpsql_test_reports_failures_with_exit_status_1(root: Path) -> None:
    test = root / "orders" / "tests" / "no_done_orders.sql"
    test.write_text("select order_id, status from {{ ref('orders') }} where status = 'done'\n")
    result = invoke("test", "-p", str(root), "--select", "orders")
    assert result.exit_code == 1
    assert "FAIL  orders.no_done_orders: 2 rows" in result.output, explain(result)
    assert "DP604" in result.output and "no_done_orders.sql" in result.output
    assert "12" in result.output and "13" in result.output  # the sample


def test_a_test_on_a_port_that_was_never_built_cannot_run(tmp_path: Path) -> None:
    workspace = write_files(tmp_path / "ws", FILES)
    build(workspace, "--select", "customers")
    result = invoke("test", "-p", str(workspace))
    assert result.exit_code == 1
    assert "DP605" in result.output and "could not run" in result.output, explain(result)


@pytest.mark.parametrize(("tests", "code", "words"), [
    ("[not_nul]", "DP601", "did you mean `not_null`"),
    ("[{accepted_values: {}}]", "DP602", "needs a list of values"),
    ("[{relationships: {field: id}}]", "DP602", "needs `to:`"),
    ("[{relationships: {to: nowhere.nothing}}]", "DP603", "neither a port or model"),
], ids=["unknown", "accepted_values", "relationships_to", "relationships_target"])
def test_bad_column_tests_are_reported_by_check(tmp_path: Path, tests: str, code: str,
                                                words: str) -> None:
    files = dict(FILES)
    files["orders/product.yml"] = files["orders/product.yml"].replace("tests: [unique]",
                                                                      f"tests: {tests}")
    workspace = write_files(tmp_path / "ws", files)
    result = invoke("check", "-p", str(workspace))
    assert result.exit_code == 1
    assert code in result.output and words in result.output, result.output
    assert "orders/product.yml:" in result.output


def test_yaml_booleans_in_accepted_values_of_text_are_reported(tmp_path: Path) -> None:
    files = dict(FILES)
    files["orders/product.yml"] = files["orders/product.yml"].replace(
        "values: [open, done]", "values: [open, done, no]")
    workspace = write_files(tmp_path / "ws", files)
    result = invoke("check", "-p", str(workspace))
    assert result.exit_code == 1
    assert "DP602" in result.output and "quote them" in result.output, result.output


def test_a_singular_test_reading_an_unknown_relation_is_a_compile_error(tmp_path: Path) -> None:
    files = dict(FILES)
    files["orders/tests/bad.sql"] = "select * from nowhere\n"
    workspace = write_files(tmp_path / "ws", files)
    result = invoke("check", "-p", str(workspace))
    assert result.exit_code == 1
    assert "bad.sql:1" in result.output and "DP203" in result.output, result.output


def test_unchanged_models_are_not_tested_again(root: Path) -> None:
    build(root)
    assert with_status(root, "unchanged") == set(run_results(root))
