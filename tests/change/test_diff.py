"""`dpsql diff` on a copy of the example workspace: each change kind, each impact, the ripple,
the version bump and the exit status, the formats and the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import Result
from conftest import explain, run_cli
from shopcopy import FCT_ORDERS, ORDERS_YML, STG_ORDERS, Edit, copy_shop, git, replace, shop_in_git

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas"
                     / "diff.schema.json").read_text(encoding="utf-8"))


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return shop_in_git(tmp_path)


def diff_json(root: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    result = run_cli("diff", "-p", str(root), "--format", "json", *args)
    assert result.exit_code in (0, 1), explain(result)
    data = json.loads(result.output)
    jsonschema.validate(data, SCHEMA)
    return result, data


def only_change(data: dict[str, Any]) -> dict[str, Any]:
    assert len(data["changes"]) == 1, data["changes"]
    return data["changes"][0]


def impacts(change: dict[str, Any]) -> dict[str, str]:
    return {c["product"]: c["impact"] for c in change["consumers"] if c["depth"] == 1}


def product(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in data["products"] if p["product"] == name)


STATUS_MACRO = replace("sales/orders/macros/status.sql", "then 'open'", "then 'opened'")

CASES: list[tuple[str, Edit, str, str | None, dict[str, str], str]] = [
    ("removed", replace(FCT_ORDERS, "    amount,\n", ""),
     "column_removed", "amount", {"customer_360": "breaking", "revenue": "breaking"}, "major"),
    ("renamed", replace(FCT_ORDERS, "    amount,\n", "    amount as amount_usd,\n"),
     "column_renamed", "amount_usd", {"customer_360": "breaking", "revenue": "breaking"}, "major"),
    ("added", replace(FCT_ORDERS, "    amount,\n", "    amount,\n    amount * 2 as amount_x2,\n"),
     "column_added", "amount_x2", {"customer_360": "none", "revenue": "none"}, "minor"),
    ("widened", replace(FCT_ORDERS, "    amount,\n", "    amount::decimal(38, 2) as amount,\n"),
     "type_widened", "amount", {"customer_360": "affected", "revenue": "affected"}, "minor"),
    ("narrowed", replace(FCT_ORDERS, "    amount,\n", "    amount::decimal(12, 2) as amount,\n"),
     "type_narrowed", "amount", {"customer_360": "breaking", "revenue": "breaking"}, "major"),
    ("retyped", replace(FCT_ORDERS, "    amount,\n", "    amount::varchar as amount,\n"),
     "type_changed", "amount", {"customer_360": "breaking", "revenue": "breaking"}, "major"),
    ("logic", STATUS_MACRO,
     "logic_changed", "status_group", {"customer_360": "affected", "revenue": "affected"}, "minor"),
    ("rows", replace(STG_ORDERS, "where order_date::date >=", "where order_date::date >"),
     "rows_changed", None, {"customer_360": "affected", "revenue": "affected"}, "minor"),
]


@pytest.mark.parametrize(("edit", "kind", "column", "expected", "bump"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_change_kind_and_its_impact(shop: Path, edit: Edit, kind: str, column: str | None,
                                         expected: dict[str, str], bump: str) -> None:
    edit(shop)
    result, data = diff_json(shop)
    change = only_change(data)
    assert (change["product"], change["port"], change["kind"], change["column"]) == (
        "orders", "orders", kind, column)
    assert impacts(change) == expected
    orders = product(data, "orders")
    assert orders["required_bump"] == bump and orders["ok"] is False
    assert result.exit_code == 1 and data["ok"] is False
    assert product(data, "revenue")["required_bump"] == "none"  # not edited: ripple only


def test_a_rename_keeps_its_old_name_and_types(shop: Path) -> None:
    replace(FCT_ORDERS, "    coupon_code,\n", "    coupon_code as coupon,\n")(shop)
    change = only_change(diff_json(shop)[1])
    assert change["renamed_from"] == "coupon_code"
    assert (change["before"], change["after"]) == ("varchar", "varchar")


def test_port_removed_breaks_every_consumer(shop: Path) -> None:
    yml = shop / "finance/payments/product.yml"
    text = yml.read_text(encoding="utf-8")
    yml.write_text(text[:text.index("  - name: order_payments")], encoding="utf-8")
    change = only_change(diff_json(shop)[1])
    assert (change["kind"], change["port"], change["column"]) == ("port_removed", "order_payments",
                                                                  None)
    assert impacts(change) == {"revenue": "breaking"}


def test_port_added_needs_a_minor_bump(shop: Path) -> None:
    (shop / "customer/customers/models/customer_emails.sql").write_text(
        "select customer_id, email from {{ ref('dim_customers') }}\n", encoding="utf-8")
    yml = shop / "customer/customers/product.yml"
    yml.write_text(yml.read_text(encoding="utf-8").replace(
        "version: 1.1.0", "version: 1.2.0") + "  - name: emails\n    model: customer_emails\n",
        encoding="utf-8")
    result, data = diff_json(shop)
    change = only_change(data)
    assert (change["kind"], change["port"], change["consumers"]) == ("port_added", "emails", [])
    customers = product(data, "customers")
    assert (customers["required_bump"], customers["declared_bump"], customers["ok"]) == (
        "minor", "minor", True)
    assert result.exit_code == 0


CAMPAIGNS_YML = """\
name: campaigns
domain: marketing
owner: growth-marketing@example.com
description: Who to mail, from the customer profiles.
version: 1.0.0
inputs:
  - name: customer_360
    product: customer_360
    port: customer_360
outputs:
  - name: audience
    model: audience
"""
AUDIENCE_SQL = """\
select customer_id, email, segment
from {{ input('customer_360') }}
where lifetime_value > 100
"""


def add_campaigns(root: Path) -> None:
    """A consumer of customer_360, which consumes orders: depth 2 from orders."""
    folder = root / "marketing" / "campaigns"
    (folder / "models").mkdir(parents=True)
    (folder / "product.yml").write_text(CAMPAIGNS_YML, encoding="utf-8")
    (folder / "models" / "audience.sql").write_text(AUDIENCE_SQL, encoding="utf-8")


def test_ripple_reaches_consumers_of_consumers_at_depth_2(tmp_path: Path) -> None:
    root = copy_shop(tmp_path / "shop")
    add_campaigns(root)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    replace(FCT_ORDERS, "    amount,\n", "    amount * 2 as amount,\n")(root)
    change = only_change(diff_json(root)[1])
    assert change["kind"] == "logic_changed"
    ripple = [c for c in change["consumers"] if c["depth"] == 2]
    assert ripple == [{"product": "campaigns", "impact": "affected",
                       "reads": ["lifetime_value", "segment"], "depth": 2,
                       "via": ["customer_360.customer_360.lifetime_value",
                               "customer_360.customer_360.segment"]}]
    # customer_360 breaks; its previous version stays published, so campaigns is affected
    replace(FCT_ORDERS, "    amount * 2 as amount,\n", "")(root)
    change = only_change(diff_json(root)[1])
    deep = {c["product"]: (c["impact"], c["depth"]) for c in change["consumers"]}
    assert deep == {"customer_360": ("breaking", 1), "revenue": ("breaking", 1),
                    "campaigns": ("affected", 2)}
    # a column customer_360 copies as it is disappears from its port: campaigns breaks too
    replace("customer/customers/models/dim_customers.sql", "email", "lower(email) as e_mail")(root)
    change = next(c for c in diff_json(root)[1]["changes"] if c["product"] == "customers")
    deep = {c["product"]: (c["impact"], c["depth"], tuple(c["via"])) for c in change["consumers"]}
    assert deep["campaigns"] == ("breaking", 2, ("customer_360.customer_360.email",))


@pytest.mark.parametrize(("version", "exit_code"), [("2.0.0", 0), ("1.3.0", 1), ("1.2.1", 1)])
def test_exit_status_follows_the_declared_bump(shop: Path, version: str, exit_code: int) -> None:
    replace(FCT_ORDERS, "    amount,\n", "")(shop)
    replace(ORDERS_YML, "version: 1.2.0", f"version: {version}")(shop)
    result = run_cli("diff", "-p", str(shop))
    assert result.exit_code == exit_code, explain(result)
    assert "orders.orders.amount: column_removed" in result.output
    assert "customer_360: breaking (reads amount" in result.output
    if exit_code:
        assert "needs a major version bump" in result.output
        assert "set `version: 2.0.0`" in result.output


def test_formatting_comments_aliases_and_order_are_no_change(shop: Path) -> None:
    (shop / STG_ORDERS).write_text("""\
-- Reformatted by hand: the same query.
SELECT order_id::bigint AS order_id, customer_id::bigint AS customer_id,
       order_date::date AS order_date, lower(trim(status)) AS status,
       {{ cents_to_dollars('amount_cents') }} AS amount,
       /* an empty code is no code */ nullif(trim(coupon_code), '') AS coupon_code
FROM {{ input('raw_orders') }} AS r
WHERE cast('{{ var("start_date") }}' as date) <= r.order_date::date
""", encoding="utf-8")
    replace(FCT_ORDERS, "customer_order_seq = 1 as", "1 = customer_order_seq AS")(shop)
    replace(FCT_ORDERS, "cleaned", "cleaned_orders")(shop)
    for old, new in (("(p.", "(pay."), ("on p.", "on pay."), ("as p\n", "as pay\n")):
        replace("finance/revenue/models/order_revenue.sql", old, new)(shop)
    result, data = diff_json(shop)
    assert data["changes"] == []
    assert {p["product"]: p["required_bump"] for p in data["products"] if p["edited"]} == {
        "orders": "none", "revenue": "none"}
    assert result.exit_code == 0


def test_base_as_a_path_needs_no_git(tmp_path: Path) -> None:
    base = copy_shop(tmp_path / "before")
    root = copy_shop(tmp_path / "after")
    STATUS_MACRO(root)
    replace(ORDERS_YML, "version: 1.2.0", "version: 1.3.0")(root)
    result, data = diff_json(root, "--base", str(base))
    assert data["base"] == str(base)
    assert only_change(data)["kind"] == "logic_changed"
    assert result.exit_code == 0
    assert not (root / "target").exists() and not (base / "target").exists()


def test_markdown_and_text_name_consumers_and_the_bump(shop: Path) -> None:
    replace(FCT_ORDERS, "    amount,\n", "")(shop)
    md = run_cli("diff", "-p", str(shop), "--format", "markdown")
    assert md.exit_code == 1
    assert "| `orders.orders.amount` | column_removed" in md.output
    assert "| customer_360 | **breaking** | `amount` | 1 |" in md.output
    assert "`version: 2.0.0`" in md.output


def test_nothing_is_written_and_git_is_untouched(shop: Path) -> None:
    replace(FCT_ORDERS, "    amount,\n", "")(shop)
    status = git(shop, "status", "--porcelain")
    head = git(shop, "rev-parse", "HEAD")
    run_cli("diff", "-p", str(shop))
    assert git(shop, "status", "--porcelain") == status
    assert git(shop, "rev-parse", "HEAD") == head
    assert git(shop, "worktree", "list").count("\n") == 1
    assert not (shop / "target").exists()


def test_check_with_a_base_reports_the_bump(shop: Path) -> None:
    replace(FCT_ORDERS, "    amount,\n", "")(shop)
    result = run_cli("check", "-p", str(shop), "--base", "HEAD", "--format", "json")
    assert result.exit_code == 1
    codes = {d["code"] for d in json.loads(result.output)["diagnostics"]}
    assert {"DP704", "DP705"} <= codes
    replace(ORDERS_YML, "version: 1.2.0", "version: 2.0.0")(shop)
    result = run_cli("check", "-p", str(shop), "--base", "HEAD", "--format", "json")
    codes = {d["code"] for d in json.loads(result.output)["diagnostics"]}
    assert "DP704" not in codes and "DP705" in codes


def test_the_readme_example_is_what_dpsql_prints(shop: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("$ dpsql diff -p projects/shop\n", 1)[1].split("```", 1)[0]
    replace(FCT_ORDERS, "    status,\n", "    status as order_status,\n")(shop)
    replace(ORDERS_YML, "      - name: status\n", "      - name: order_status\n")(shop)
    result = run_cli("diff", "-p", str(shop))
    assert result.exit_code == 1
    assert result.output.strip() == shown.strip()


def test_a_column_removed_upstream_inside_the_product_is_removed_from_the_port(shop: Path) -> None:
    # fct_orders still names `amount`, but stg_orders no longer provides it
    replace(STG_ORDERS, "    {{ cents_to_dollars('amount_cents') }} as amount,\n", "")(shop)
    result, data = diff_json(shop)
    change = only_change(data)
    assert (change["kind"], change["column"], change["after"]) == ("column_removed", "amount", None)
    assert impacts(change) == {"customer_360": "breaking", "revenue": "breaking"}
    assert result.exit_code == 1


def test_a_target_the_base_does_not_declare_compares_on_the_base_default(tmp_path: Path) -> None:
    """The change adds a target and the diff runs on it: the base, which does not know that
    target, is compiled on its own default; a target neither side knows is still an error."""
    base = copy_shop(tmp_path / "before")
    root = copy_shop(tmp_path / "after")
    replace("dpsql.yml", "targets:\n", "targets:\n  ci: {type: duckdb, path: ci.duckdb}\n")(root)
    STATUS_MACRO(root)
    replace(ORDERS_YML, "version: 1.2.0", "version: 1.3.0")(root)
    result, data = diff_json(root, "--base", str(base), "--target", "ci")
    assert only_change(data)["kind"] == "logic_changed"
    assert result.exit_code == 0
    unknown = run_cli("diff", "-p", str(root), "--base", str(base), "--target", "nope")
    assert unknown.exit_code == 1
    assert "DP014" in unknown.output and "Traceback" not in unknown.output
