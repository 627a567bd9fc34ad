"""End to end: build the example workspace projects/shop and check every output port.

The expected rows are computed here in plain Python from the raw CSV files (csv module,
dicts, Decimal), following the business rules stated in each product.yml, never by
running the workspace's SQL.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import explain
from conftest import run_cli as invoke

SHOP = Path(__file__).resolve().parents[1] / "projects" / "shop"
DATA = SHOP / "data"
START_DATE = date(2024, 1, 1)  # vars.start_date in projects/shop/dpsql.yml
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# product -> the relations its schema must hold: its output ports and nothing else
PORTS = {
    "customers": {"customers"},
    "orders": {"orders"},
    "payments": {"payments", "order_payments"},
    "revenue": {"monthly_revenue"},
    "customer_360": {"customer_360"},
}
# product -> internal models that must live in <product>_internal
INTERNAL_MODELS = {
    "customers": {"stg_customers"},
    "orders": {"stg_orders"},
    "payments": {"stg_payments"},
    "revenue": {"order_revenue"},
}
CONTRACTS = {
    "customers.customers": [
        ("customer_id", "BIGINT"),
        ("full_name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("country_code", "VARCHAR"),
        ("region", "VARCHAR"),
        ("signup_date", "DATE"),
    ],
    "orders.orders": [
        ("order_id", "BIGINT"),
        ("customer_id", "BIGINT"),
        ("order_date", "DATE"),
        ("status", "VARCHAR"),
        ("status_group", "VARCHAR"),
        ("amount", "DECIMAL(18,2)"),
        ("coupon_code", "VARCHAR"),
        ("customer_order_seq", "BIGINT"),
        ("is_first_order", "BOOLEAN"),
    ],
    "payments.payments": [
        ("payment_id", "BIGINT"),
        ("order_id", "BIGINT"),
        ("payment_method", "VARCHAR"),
        ("amount", "DECIMAL(18,2)"),
        ("is_refund", "BOOLEAN"),
        ("paid_at", "TIMESTAMP"),
    ],
    "payments.order_payments": [
        ("order_id", "BIGINT"),
        ("payment_count", "BIGINT"),
        ("gross_paid", "DECIMAL(18,2)"),
        ("refunded", "DECIMAL(18,2)"),
        ("net_paid", "DECIMAL(18,2)"),
        ("last_paid_at", "TIMESTAMP"),
    ],
    "revenue.monthly_revenue": [
        ("month", "DATE"),
        ("order_count", "BIGINT"),
        ("customer_count", "BIGINT"),
        ("gross_revenue", "DECIMAL(18,2)"),
        ("refunds", "DECIMAL(18,2)"),
        ("net_revenue", "DECIMAL(18,2)"),
        ("cumulative_net_revenue", "DECIMAL(18,2)"),
    ],
    "customer_360.customer_360": [
        ("customer_id", "BIGINT"),
        ("full_name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("region", "VARCHAR"),
        ("order_count", "BIGINT"),
        ("lifetime_value", "DECIMAL(18,2)"),
        ("first_order_date", "DATE"),
        ("last_order_date", "DATE"),
        ("segment", "VARCHAR"),
        ("value_rank", "BIGINT"),
    ],
}


# --------------------------------------------------------------------------- expectations


def read_csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def dollars(cents: str) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(CENT)


def blank_to_none(value: str) -> str | None:
    value = value.strip()
    return value or None


REGIONS = {
    "US": "NA", "CA": "NA",
    "GB": "EU", "DE": "EU", "FR": "EU", "NL": "EU", "ES": "EU",
    "AU": "APAC", "JP": "APAC",
    "BR": "LATAM",
}  # fmt: skip


def expected_customers() -> list[tuple[Any, ...]]:
    rows = []
    for r in read_csv("customers.csv"):
        email = r["email"].strip().lower()
        country = r["country"].strip().upper()
        rows.append(
            (
                int(r["customer_id"]),
                f"{r['first_name'].strip()} {r['last_name'].strip()}",
                email or None,
                country,
                REGIONS[country],
                date.fromisoformat(r["signup_date"]),
            )
        )
    return sorted(rows)


def status_group(status: str) -> str:
    if status in ("placed", "shipped"):
        return "open"
    if status == "completed":
        return "fulfilled"
    return "lost"


def expected_orders() -> list[tuple[Any, ...]]:
    kept = [r for r in read_csv("orders.csv") if date.fromisoformat(r["order_date"]) >= START_DATE]
    seq: dict[int, int] = {}
    per_customer: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for r in kept:
        per_customer[int(r["customer_id"])].append(
            (date.fromisoformat(r["order_date"]), int(r["order_id"]))
        )
    for orders in per_customer.values():
        for n, (_, order_id) in enumerate(sorted(orders), start=1):
            seq[order_id] = n
    rows = []
    for r in kept:
        order_id = int(r["order_id"])
        status = r["status"].strip().lower()
        rows.append(
            (
                order_id,
                int(r["customer_id"]),
                date.fromisoformat(r["order_date"]),
                status,
                status_group(status),
                dollars(r["amount_cents"]),
                blank_to_none(r["coupon_code"]),
                seq[order_id],
                seq[order_id] == 1,
            )
        )
    return sorted(rows)


def expected_payments() -> list[tuple[Any, ...]]:
    rows = []
    for r in read_csv("payments.csv"):
        amount = dollars(r["amount_cents"])
        rows.append(
            (
                int(r["payment_id"]),
                int(r["order_id"]),
                r["payment_method"].strip().lower(),
                amount,
                amount < 0,
                datetime.fromisoformat(r["paid_at"]),
            )
        )
    return sorted(rows)


def expected_order_payments() -> list[tuple[Any, ...]]:
    by_order: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for p in expected_payments():
        by_order[p[1]].append(p)
    rows = []
    for order_id, pays in by_order.items():
        amounts = [p[3] for p in pays]
        gross = sum((a for a in amounts if a > 0), ZERO)
        refunded = -sum((a for a in amounts if a < 0), ZERO)
        rows.append(
            (order_id, len(pays), gross, refunded, gross - refunded, max(p[5] for p in pays))
        )
    return sorted(rows)


def expected_monthly_revenue() -> list[tuple[Any, ...]]:
    paid = {r[0]: r for r in expected_order_payments()}
    months: dict[date, dict[str, Any]] = {}
    for order_id, customer_id, order_date, status, *_ in expected_orders():
        if status == "cancelled":
            continue
        m = months.setdefault(
            order_date.replace(day=1),
            {"orders": 0, "customers": set(), "gross": ZERO, "refunds": ZERO, "net": ZERO},
        )
        m["orders"] += 1
        m["customers"].add(customer_id)
        if order_id in paid:
            _, _, gross, refunded, net, _ = paid[order_id]
            m["gross"] += gross
            m["refunds"] += refunded
            m["net"] += net
    rows, running = [], ZERO
    for month in sorted(months):
        m = months[month]
        running += m["net"]
        rows.append(
            (month, m["orders"], len(m["customers"]), m["gross"], m["refunds"], m["net"], running)
        )
    return rows


def expected_customer_360() -> list[tuple[Any, ...]]:
    kept: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for _, customer_id, order_date, _, group, amount, *_ in expected_orders():
        if group != "lost":
            kept[customer_id].append((order_date, amount))
    profiles = []
    for customer_id, full_name, email, _, region, _ in expected_customers():
        orders = kept.get(customer_id, [])
        count = len(orders)
        value = sum((a for _, a in orders), ZERO)
        if count == 0:
            segment = "prospect"
        elif value >= 1000:
            segment = "vip"
        elif count >= 2:
            segment = "repeat"
        else:
            segment = "one_time"
        profiles.append(
            [
                customer_id,
                full_name,
                email,
                region,
                count,
                value,
                min((d for d, _ in orders), default=None),
                max((d for d, _ in orders), default=None),
                segment,
            ]
        )
    for rank, p in enumerate(sorted(profiles, key=lambda p: (-p[5], p[0])), start=1):
        p.append(rank)
    return sorted(tuple(p) for p in profiles)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of projects/shop, built with `dpsql build`."""
    root = tmp_path_factory.mktemp("example") / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "*.duckdb*", "__pycache__"))
    result = invoke("build", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    assert (root / "warehouse.duckdb").exists()
    return root


@pytest.fixture
def con(built: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(built / "warehouse.duckdb"), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def fetch(con: duckdb.DuckDBPyConnection, relation: str, order_by: str) -> list[tuple[Any, ...]]:
    return con.execute(f"select * from {relation} order by {order_by}").fetchall()


def relations_by_schema(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_catalog = current_database()"
    ).fetchall()
    out: dict[str, set[str]] = defaultdict(set)
    for schema, name in rows:
        out[schema].add(name)
    return out


# --------------------------------------------------------------------------- tests


def test_product_schemas_hold_only_ports(con: duckdb.DuckDBPyConnection) -> None:
    schemas = relations_by_schema(con)
    for product, ports in PORTS.items():
        assert schemas.get(product, set()) == ports, product


def test_internal_models_live_in_internal_schemas(con: duckdb.DuckDBPyConnection) -> None:
    schemas = relations_by_schema(con)
    for product, models in INTERNAL_MODELS.items():
        assert models <= schemas.get(f"{product}_internal", set()), product
        assert not models & schemas.get(product, set()), product


@pytest.mark.parametrize("port", sorted(CONTRACTS))
def test_port_columns_match_contract(con: duckdb.DuckDBPyConnection, port: str) -> None:
    described = [(row[0], row[1]) for row in con.execute(f"describe {port}").fetchall()]
    assert described == CONTRACTS[port]


def test_customers_port(con: duckdb.DuckDBPyConnection) -> None:
    expected = expected_customers()
    assert len(expected) == 300
    assert fetch(con, "customers.customers", "customer_id") == expected


def test_orders_port(con: duckdb.DuckDBPyConnection) -> None:
    expected = expected_orders()
    assert len(expected) < len(read_csv("orders.csv"))  # start_date dropped the oldest orders
    assert fetch(con, "orders.orders", "order_id") == expected


def test_payments_port(con: duckdb.DuckDBPyConnection) -> None:
    expected = expected_payments()
    assert any(p[4] for p in expected)  # there are refunds
    assert fetch(con, "payments.payments", "payment_id") == expected


def test_order_payments_port(con: duckdb.DuckDBPyConnection) -> None:
    assert fetch(con, "payments.order_payments", "order_id") == expected_order_payments()


def test_monthly_revenue_port(con: duckdb.DuckDBPyConnection) -> None:
    expected = expected_monthly_revenue()
    assert [m[0] for m in expected] == [date(2024, month, 1) for month in range(1, 13)]
    assert fetch(con, "revenue.monthly_revenue", "month") == expected


def test_customer_360_port(con: duckdb.DuckDBPyConnection) -> None:
    expected = expected_customer_360()
    assert {p[8] for p in expected} == {"prospect", "vip", "repeat", "one_time"}
    assert fetch(con, "customer_360.customer_360", "customer_id") == expected


def test_order_totals_per_customer_agree_across_products(con: duckdb.DuckDBPyConnection) -> None:
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for r in read_csv("orders.csv"):
        status = r["status"].strip().lower()
        if date.fromisoformat(r["order_date"]) >= START_DATE and status not in (
            "returned",
            "cancelled",
        ):
            totals[int(r["customer_id"])] += dollars(r["amount_cents"])
    got = dict(
        con.execute(
            "select customer_id, lifetime_value from customer_360.customer_360"
            " where order_count > 0"
        ).fetchall()
    )
    assert got == dict(totals)


def test_data_tests_pass(built: Path) -> None:
    """Column tests in the contracts and the singular test in sales/orders/tests all pass."""
    result = invoke("test", "-p", str(built))
    assert result.exit_code == 0, explain(result)
