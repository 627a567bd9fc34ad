"""Versioned ports side by side: `orders` and `orders_v2` both build and are published while
consumers move from the deprecated one to its replacement, and `dpsql ls` shows who is left."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import run_cli, write_files
from test_deprecated_ports import MOVED, check, mesh


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPSQL_TODAY", "2027-01-15")


def _rows(root: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _after_table(output: str) -> list[str]:
    return output.split("┘", 1)[1].strip().splitlines()


def test_both_ports_build_side_by_side_and_consumers_move_over(tmp_path: Path) -> None:
    root = mesh(tmp_path)
    built = run_cli("build", "-p", str(root))
    assert built.exit_code == 0, built.output
    assert "warning[DP312]" in built.stderr and "reports/revenue/product.yml" in built.stderr
    assert _rows(root, "select * from orders.orders order by order_id") == [
        (1, 150), (2, 300), (3, 20)]
    assert [str(r[1]) for r in _rows(root, "from orders.orders_v2 order by order_id")] == [
        "1.50", "3.00", "0.20"]
    assert _rows(root, "from revenue.total") == [(470,)]
    assert "still read by: revenue" in run_cli("ls", "-p", str(root)).output

    # revenue moves over: no consumer is left on the old port, and nobody is warned
    write_files(root, MOVED)
    status, found = check(root)
    assert status == 0 and not [d for d in found if d["code"] in {"DP312", "DP313"}]
    rebuilt = run_cli("build", "-p", str(root))
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "DP312" not in rebuilt.stderr
    assert [str(r[0]) for r in _rows(root, "from revenue.total")] == ["4.70"]
    assert _after_table(run_cli("ls", "-p", str(root)).output) == [
        "orders.orders: deprecated since 1.4.0, sunset 2027-06-30, use orders.orders_v2",
        "  still read by: nobody",
        "  orders.orders_v2 read by: audit, revenue"]


def test_after_the_sunset_only_the_consumers_left_behind_fail(tmp_path: Path,
                                                              monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DPSQL_TODAY", "2027-07-01")
    root = mesh(tmp_path)
    status, found = check(root)
    assert status == 1
    assert [(d["code"], str(d["path"]).endswith("reports/revenue/product.yml"))
            for d in found if d["severity"] == "error"] == [("DP313", True)]
    write_files(root, MOVED)
    assert check(root)[0] == 0
    assert run_cli("build", "-p", str(root)).exit_code == 0
