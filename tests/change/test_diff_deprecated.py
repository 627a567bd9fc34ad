"""`dpsql diff` shows the migrations under way: each deprecated port, its replacement, and who
still reads the old one."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import explain, run_cli
from shopcopy import ORDERS_YML, copy_shop, replace

V2 = "sales/orders/models/fct_orders_v2.sql"


def publish_v2_and_deprecate(root: Path) -> None:
    (root / V2).write_text("select * from {{ ref('fct_orders') }}\n", encoding="utf-8")
    replace(ORDERS_YML, "version: 1.2.0", "version: 1.3.0")(root)
    replace(ORDERS_YML, "outputs:\n  - name: orders\n    model: fct_orders\n",
            "outputs:\n  - name: orders_v2\n    model: fct_orders_v2\n"
            "  - name: orders\n    model: fct_orders\n"
            "    deprecated: {since: 1.3.0, sunset: 2099-12-31, use: orders_v2}\n")(root)


def test_diff_lists_who_still_reads_a_deprecated_port(tmp_path: Path) -> None:
    base = copy_shop(tmp_path / "before")
    root = copy_shop(tmp_path / "after")
    publish_v2_and_deprecate(root)
    result = run_cli("diff", "-p", str(root), "--base", str(base), "--format", "json")
    assert result.exit_code == 0, explain(result)
    data = json.loads(result.stdout)
    assert data["deprecated_ports"] == [{
        "port": "orders.orders", "use": "orders.orders_v2", "sunset": "2099-12-31",
        "still_read_by": ["customer_360", "revenue"], "replacement_read_by": []}]
    assert [c["kind"] for c in data["changes"]] == ["port_added"]

    text = run_cli("diff", "-p", str(root), "--base", str(base))
    assert "orders.orders: deprecated, sunset 2099-12-31, use orders.orders_v2" in text.stdout
    assert "still read by: customer_360, revenue" in text.stdout
    assert "orders.orders_v2 read by: nobody" in text.stdout
