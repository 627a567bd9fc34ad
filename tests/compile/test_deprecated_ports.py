"""Deprecated ports: each bad `deprecated:` value, the warning before the sunset date and the
error after it, the replacement named, and `dpsql ls` listing the products still reading.

The workspace here (a deprecated port and its replacement side by side) is also used by
test_versioned_ports.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import explain, run_cli, write_files

ORDERS_YML = "sales/orders/product.yml"
REVENUE_YML = "reports/revenue/product.yml"
DEPRECATED = "{since: 1.4.0, sunset: 2027-06-30, use: orders_v2}"

MESH: dict[str, str] = {
    "dpsql.yml": "name: mesh\nwarehouse: wh.duckdb\n",
    "data/orders.csv": "order_id,amount_cents\n1,150\n2,300\n3,20\n",
    ORDERS_YML: """
        name: orders
        domain: sales
        owner: sales@example.com
        version: 1.4.0
        inputs:
          - name: raw_orders
            file: ../../data/orders.csv
        outputs:
          - name: orders
            model: fct_orders
            deprecated: DEPRECATED
            columns:
              - {name: order_id, type: bigint}
              - {name: amount_cents, type: bigint}
          - name: orders_v2
            model: fct_orders_v2
            columns:
              - {name: order_id, type: bigint}
              - {name: amount, type: 'decimal(18,2)'}
    """.replace("DEPRECATED", DEPRECATED),
    "sales/orders/models/fct_orders.sql": """
        select order_id::bigint as order_id, amount_cents::bigint as amount_cents
        from {{ input('raw_orders') }}
    """,
    "sales/orders/models/fct_orders_v2.sql": """
        select order_id::bigint as order_id, (amount_cents / 100)::decimal(18,2) as amount
        from {{ input('raw_orders') }}
    """,
    REVENUE_YML: """
        name: revenue
        domain: finance
        version: 1.0.0
        inputs:
          - name: orders
            product: orders
            port: orders
            version: ^1
        outputs:
          - name: total
            columns:
              - {name: cents, type: hugeint}
    """,
    "reports/revenue/models/total.sql": """
        select sum(amount_cents) as cents
        from orders.orders
    """,
    "reports/audit/product.yml": """
        name: audit
        domain: finance
        version: 1.0.0
        inputs:
          - name: orders
            product: orders
            port: orders_v2
        outputs:
          - name: biggest
            columns:
              - {name: amount, type: 'decimal(18,2)'}
    """,
    "reports/audit/models/biggest.sql": """
        select max(amount) as amount
        from orders.orders_v2
    """,
}

# revenue moved over to orders_v2
MOVED: dict[str, str] = {
    REVENUE_YML: MESH[REVENUE_YML].replace("port: orders\n", "port: orders_v2\n")
                                  .replace("type: hugeint", "type: 'decimal(38,2)'"),
    "reports/revenue/models/total.sql": """
        select sum(amount) as cents
        from orders.orders_v2
    """,
}


def mesh(tmp_path: Path, changes: dict[str, str] | None = None) -> Path:
    return write_files(tmp_path / "mesh", {**MESH, **(changes or {})})


def check(root: Path) -> tuple[int, list[dict[str, object]]]:
    """`dpsql check --format json`: the exit status and the diagnostics."""
    result = run_cli("check", "-p", str(root), "--format", "json")
    return result.exit_code, json.loads(result.stdout)["diagnostics"]


def line_of(root: Path, rel: str, text: str, after: str = "") -> int:
    """The 1-based line of the first line holding `text` (after the first holding `after`)."""
    lines = (root / rel).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and text in line) + 1


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPSQL_TODAY", "2027-01-15")


def _deprecated(value: str) -> dict[str, str]:
    """The workspace with `deprecated: value` on orders.orders."""
    return {ORDERS_YML: MESH[ORDERS_YML].replace(DEPRECATED, value)}


# --- each bad `deprecated:` value ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "key", "says"), [
    ("{since: banana}", "since", "not a version like 1.2.0"),
    ("{since: 1.4}", "since", "quote it: `since: '1.4'`"),
    ("{since: 2.0.0}", "since", "above the product's version 1.4.0"),
    ("{sunset: soon}", "sunset", "must be a date, not the text `soon`"),
    ("{sunset: '2027-02-30'}", "sunset", "must be a date"),
    ("{sunset: 30/06/2027}", "sunset", "must be a date"),
    ("{sunset: 2027-06-30 10:00:00}", "sunset", "must be a date, not a datetime"),
    ("{use: 'orders v2'}", "use", "does not name a port"),
    ("{use: a.b.c}", "use", "does not name a port"),
    ("{use: [orders_v2]}", "use", "must be text, not a list"),
    ("{use: orders_v3}", "use", "product `orders` has no output port `orders_v3`"),
    ("{use: orders}", "use", "port `orders` names itself as its replacement"),
    ("{use: orders.orders}", "use", "port `orders` names itself as its replacement"),
    ("{use: Orders_V2}", "use", "did you mean `orders_v2`?"),
    ("{use: shipping.orders}", "use", "names product `shipping`, which does not exist"),
    ("{use: audit.orders}", "use", "product `audit` has no output port `orders`"),
])
def test_each_bad_value_is_dp003_at_its_key(tmp_path: Path, value: str, key: str,
                                            says: str) -> None:
    root = mesh(tmp_path, _deprecated(value))
    status, found = check(root)
    assert status == 1
    [problem] = [d for d in found if d["severity"] == "error"]
    assert problem["code"] == "DP003" and says in str(problem["message"]) + str(problem["hint"])
    assert str(problem["path"]).endswith("product.yml")
    assert problem["line"] == line_of(root, ORDERS_YML, "deprecated:")  # flow style: one line


def test_bad_values_in_block_style_point_at_each_key(tmp_path: Path) -> None:
    block = "\n              since: 9.0.0\n              sunset: never\n              use: nope"
    root = mesh(tmp_path, _deprecated(block))
    status, found = check(root)
    assert status == 1
    errors = sorted((d["line"], d["code"]) for d in found if d["severity"] == "error")
    assert errors == [(line_of(root, ORDERS_YML, key), "DP003")
                      for key in ("since:", "sunset:", "use: nope")]
    assert all("deprecated" not in str(d["message"]) or d["code"] != "DP312" for d in found)


@pytest.mark.parametrize(("value", "code", "says"), [
    ("soon", "DP003", "`deprecated` must be a mapping"),
    ("{sunset: 2027-02-30}", "DP001", "`2027-02-30` is not a valid timestamp"),
    ("{since: 1.0.0, sunst: 2027-06-30}", "DP002", "unknown key `sunst`"),
])
def test_deprecated_must_be_a_mapping_of_known_keys(tmp_path: Path, value: str, code: str,
                                                    says: str) -> None:
    status, found = check(mesh(tmp_path, _deprecated(value)))
    assert status == 1
    assert [(d["code"], says in str(d["message"])) for d in found if d["severity"] == "error"] \
        == [(code, True)]


def test_every_key_is_optional_and_read_as_written(tmp_path: Path) -> None:
    from dpsql.load.loader import load_project

    root = mesh(tmp_path, _deprecated("{since: '1.4', sunset: '2027-06-30', use: orders.orders_v2}"))
    dep = load_project(root).by_name["orders"].spec.output("orders").deprecated  # type: ignore[union-attr]
    assert dep is not None and str(dep.since) == "1.4.0" and str(dep.sunset) == "2027-06-30"
    assert dep.successor("orders") == ("orders", "orders_v2")
    status, found = check(mesh(tmp_path / "bare", _deprecated("{}")))
    assert status == 0
    [warned] = [d for d in found if d["code"] == "DP312"]
    assert "no sunset date yet; it names no replacement" in str(warned["message"])
    assert "ask the owner of `orders` (sales@example.com)" in str(warned["hint"])


# --- consumers: a warning before the sunset, an error after -----------------------------------


def test_consumers_are_warned_before_the_sunset_with_the_replacement(tmp_path: Path,
                                                                     monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = mesh(tmp_path)
    for day in ("2027-01-15", "2027-06-30"):  # the sunset day itself is still a warning
        monkeypatch.setenv("DPSQL_TODAY", day)
        status, found = check(root)
        assert status == 0
        [warned] = [d for d in found if d["code"] == "DP312"]
        assert warned["severity"] == "warning"
        assert warned["message"] == (
            "input `orders` of `revenue` reads port `orders.orders`, deprecated since orders "
            "1.4.0, sunset date 2027-06-30 (reading it after that day is an error); use "
            "`orders.orders_v2` instead")
        assert warned["hint"] == ("write `port: orders_v2` in input `orders`, and read "
                                  "`orders.orders_v2` instead of `orders.orders` in total")
        assert str(warned["path"]).endswith("reports/revenue/product.yml")
        assert warned["line"] == line_of(root, REVENUE_YML, "- name: orders")
    assert not [d for d in found if "audit" in str(d["message"])]  # audit reads orders_v2


def test_reading_after_the_sunset_is_an_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DPSQL_TODAY", "2027-07-01")
    root = mesh(tmp_path)
    status, found = check(root)
    assert status == 1
    [failed] = [d for d in found if d["severity"] == "error"]
    assert failed["code"] == "DP313"
    assert "reads port `orders.orders`" in str(failed["message"])
    assert "sunset date 2027-06-30 has passed; use `orders.orders_v2` instead" in str(
        failed["message"])
    assert failed["line"] == line_of(root, REVENUE_YML, "- name: orders")
    assert str(failed["hint"]).endswith("; or `orders` moves its `sunset:` later")
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 1 and "error[DP313]" in result.stderr
    assert not (root / "wh.duckdb").exists()


def test_today_is_the_machines_date_without_dpsql_today(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from dpsql.compile.checks.deprecation import today

    monkeypatch.delenv("DPSQL_TODAY")
    assert today({}) == date.today() == today({"DPSQL_TODAY": "not a date"})
    assert today({"DPSQL_TODAY": "2030-01-02"}) == date(2030, 1, 2)
    status, found = check(mesh(tmp_path, _deprecated("{sunset: 2000-01-01}")))
    assert status == 1 and [d["code"] for d in found if d["severity"] == "error"] == ["DP313"]


def test_a_replacement_in_another_product_is_named_in_the_hint(tmp_path: Path) -> None:
    status, found = check(mesh(tmp_path, _deprecated("{use: audit.biggest}")))
    assert status == 0
    [warned] = [d for d in found if d["code"] == "DP312"]
    assert "use `audit.biggest` instead" in str(warned["message"])
    assert warned["hint"] == ("declare `product: audit` with `port: biggest` under `inputs:`, "
                              "and read `audit.biggest` instead of `orders.orders` in total")


def test_compile_does_not_replay_yesterdays_warning_after_the_sunset(tmp_path: Path,
                                                                     monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = mesh(tmp_path)
    first = run_cli("compile", "-p", str(root))
    assert first.exit_code == 0 and "warning[DP312]" in first.stderr
    monkeypatch.setenv("DPSQL_TODAY", "2027-07-01")
    second = run_cli("compile", "-p", str(root))
    assert second.exit_code == 1 and "error[DP313]" in second.stderr


def test_the_manifest_holds_each_ports_deprecation(tmp_path: Path) -> None:
    root = mesh(tmp_path)
    assert run_cli("compile", "-p", str(root)).exit_code == 0
    manifest = json.loads((root / "target" / "manifest.json").read_text(encoding="utf-8"))
    old, new = manifest["products"]["orders"]["outputs"]
    assert old["deprecated"] == {"since": "1.4.0", "sunset": "2027-06-30",
                                 "use": "orders.orders_v2"}
    assert new["deprecated"] is None


# --- dpsql ls ------------------------------------------------------------------------------------


def test_ls_lists_who_still_reads_a_deprecated_port(tmp_path: Path) -> None:
    result = run_cli("ls", "-p", str(mesh(tmp_path)))
    assert result.exit_code == 0
    lines = result.output.split("┘", 1)[1].strip().splitlines()
    assert lines == ["orders.orders: deprecated since 1.4.0, sunset 2027-06-30, use "
                     "orders.orders_v2",
                     "  still read by: revenue",
                     "  orders.orders_v2 read by: audit"]


def test_ls_without_deprecated_ports_is_the_table_alone(tmp_path: Path) -> None:
    root = mesh(tmp_path, {ORDERS_YML: MESH[ORDERS_YML].replace(
        f"            deprecated: {DEPRECATED}\n", "")})
    result = run_cli("ls", "-p", str(root))
    assert result.exit_code == 0
    assert result.output.rstrip().endswith("┘") and "read by" not in result.output


def test_ls_json_holds_the_ports_and_their_readers(tmp_path: Path) -> None:
    result = run_cli("ls", "-p", str(mesh(tmp_path)), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [p["name"] for p in data["products"]] == ["audit", "revenue", "orders"]
    orders = data["products"][2]
    assert [(o["relation"], o["deprecated"]) for o in orders["outputs"]] == [
        ("orders.orders", True), ("orders.orders_v2", False)]
    assert data["deprecated_ports"] == [{
        "port": "orders.orders", "since": "1.4.0", "sunset": "2027-06-30",
        "use": "orders.orders_v2", "still_read_by": ["revenue"],
        "replacement_read_by": ["audit"]}]


def test_a_compile_with_nothing_changed_is_judged_on_the_day_it_runs(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import datetime

    from dpsql.compile.checks import deprecation

    class Day(datetime.date):
        current = datetime.date(2027, 1, 15)

        @classmethod
        def today(cls) -> datetime.date:
            return cls.current

    monkeypatch.delenv("DPSQL_TODAY", raising=False)
    monkeypatch.setattr(deprecation, "date", Day)
    root = mesh(tmp_path)
    before = run_cli("compile", "-p", str(root))
    assert before.exit_code == 0 and "DP312" in before.output, explain(before)
    # the same day: the stamp answers, with the same warning
    again = run_cli("compile", "-p", str(root))
    assert again.exit_code == 0 and "DP312" in again.output, explain(again)
    assert "(nothing changed)" in again.output
    # the same files on a later day: the sunset has passed, the stamp must not answer
    Day.current = datetime.date(2027, 7, 1)
    after = run_cli("compile", "-p", str(root))
    assert after.exit_code == 1 and "DP313" in after.output, explain(after)
