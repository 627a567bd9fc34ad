"""`dpsql import dbt`: a dbt project written for the test becomes a workspace that builds, and
every relation holds the rows that the same SQL, written by hand and run directly in DuckDB,
gives. The auto split is checked on a project with two business areas."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.adopt.dbt_fixture import ORACLE, TEST_ORACLE, write_dbt_project
from tests.buildkit import query
from tests.conftest import explain, run_cli

SEEDS = ("raw_orders", "raw_customers")


def _oracle_db(src: Path) -> duckdb.DuckDBPyConnection:
    """The hand-written SQL, run in order in an in-memory DuckDB: one table per relation."""
    con = duckdb.connect()
    for name, sql in ORACLE.items():
        con.execute(f"create table {name} as " + sql.format(seeds=src / "seeds", root=src))
    return con


def _oracle(src: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Each relation's rows from the hand-written SQL."""
    con = _oracle_db(src)
    return {name: sorted(con.execute(f"from {name}").fetchall(), key=repr) for name in ORACLE}


def _imported(tmp: Path, *options: str) -> tuple[Path, Path, str]:
    src = write_dbt_project(tmp)
    dest = tmp / "ws"
    result = run_cli("import", "dbt", str(src), str(dest), *options)
    assert result.exit_code == 0, explain(result)
    return src, dest, result.output


def _relations(dest: Path) -> dict[str, str]:
    """dbt name -> the schema dpsql built it in."""
    rows = query(dest, "select table_schema, table_name from information_schema.tables "
                       "where table_schema <> '_dpsql'")
    return {name: schema for schema, name in rows}


def _products(dest: Path) -> dict[str, dict[str, Any]]:
    return {p.parent.name: yaml.safe_load(p.read_text()) for p in dest.glob("*/product.yml")}


@pytest.fixture(scope="module")
def auto(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    src, dest, output = _imported(tmp_path_factory.mktemp("auto"),
                                  "--domain-of", "crm=marketing")
    result = run_cli("build", "-p", str(dest))
    assert result.exit_code == 0, explain(result)
    return src, dest, output


def test_every_relation_equals_the_hand_written_sql(auto: tuple[Path, Path, str]) -> None:
    src, dest, _ = auto
    expected = _oracle(src)
    where = _relations(dest)
    assert set(expected) <= set(where)
    for name, rows in expected.items():
        got = sorted(query(dest, f'select * from "{where[name]}"."{name}"'), key=repr)
        assert got == rows, name


def test_seeds_have_the_types_dbt_gives(auto: tuple[Path, Path, str]) -> None:
    _, dest, _ = auto
    where = _relations(dest)
    types = {r[0]: r[1] for r in query(dest, f'describe "{where["raw_orders"]}".raw_orders')}
    assert types == {"id": "INTEGER", "customer_id": "INTEGER", "ordered_on": "DATE",
                     "status": "VARCHAR", "amount_cents": "INTEGER"}
    types = {r[0]: r[1] for r in query(dest, f'describe "{where["raw_customers"]}".raw_customers')}
    assert types["since"] == "VARCHAR"  # the seed's column_types win over the sniffed BIGINT


def test_auto_split_follows_the_business_areas(auto: tuple[Path, Path, str]) -> None:
    _, dest, output = auto
    products = _products(dest)
    assert set(products) == {"sales", "crm"}
    models = {name: sorted(p.stem for p in (dest / name / "models").rglob("*.sql"))
              for name in products}
    assert models == {
        "sales": ["fct_orders", "order_summary", "stg_orders", "stg_payments"],
        "crm": ["customer_value", "dim_customers_v1", "dim_customers_v2", "segments",
                "stg_customers"]}
    assert products["crm"]["domain"] == "marketing"  # --domain-of
    assert products["sales"]["domain"] == "sales"  # from the folders
    assert products["sales"]["owner"] == "finance@example.com"  # the dbt group's owner
    assert "1 ref cut" in output and "fct_orders -> customer_value" in output


def test_the_cut_ref_is_a_typed_port_and_an_input(auto: tuple[Path, Path, str]) -> None:
    _, dest, _ = auto
    products = _products(dest)
    ports = {o["name"]: o for o in products["sales"]["outputs"]}
    assert set(ports) == {"fct_orders", "order_summary"}  # read by crm; public in dbt
    contract = {c["name"]: c["type"] for c in ports["fct_orders"]["columns"]}
    described = {r[0]: r[1].lower() for r in query(dest, "describe sales.fct_orders")}
    assert contract == described
    order_id = next(c for c in ports["fct_orders"]["columns"] if c["name"] == "order_id")
    assert order_id["tests"] == ["unique", "not_null"] and order_id["description"] == "The order."
    inputs = {i["name"]: i for i in products["crm"]["inputs"]}
    assert inputs["fct_orders"] == {"name": "fct_orders", "product": "sales",
                                    "port": "fct_orders", "version": "^1"}


_TEST_NAME = re.compile(r"^(\w+)\(\w+\.(\w+)(?:\.(\w+))?[ )]")


Outcome = tuple[str, str | None, str, str, int]  # relation, column, kind, status, failures


def _by_test(results: list[dict[str, Any]]) -> list[Outcome]:
    """The outcome of each schema.yml test in a results file, sorted; singular tests (named
    `product.file`) are left aside."""
    out = []
    for result in results:
        found = _TEST_NAME.match(result["name"])
        if found is not None:
            kind, relation, column = found.groups()
            out.append((relation, column, kind, result["status"], result["failures"]))
    return sorted(out, key=repr)


def _expected_tests(src: Path) -> list[Outcome]:
    """Each test's failures, counted by its hand-written query over the oracle's tables; a
    failing test of severity warn warns, of severity error fails."""
    con = _oracle_db(src)
    out = []
    for relation, column, kind, sql, severity in TEST_ORACLE:
        (failures,) = con.execute(f"select count(*) from ({sql})").fetchone() or (0,)
        status = "pass" if failures == 0 else "warn" if severity == "warn" else "fail"
        out.append((relation, column, kind, status, failures))
    return sorted(out, key=repr)


def test_every_dbt_test_runs_natively_with_the_status_the_data_gives(
        auto: tuple[Path, Path, str]) -> None:
    src, dest, _ = auto
    expected = _expected_tests(src)
    assert {o[3] for o in expected} == {"pass", "warn"}  # both outcomes are exercised
    built = json.loads((dest / "target" / "run_results.json").read_text())
    in_build = [t for r in built["results"] for t in r.get("tests", [])]
    assert _by_test([*in_build, *built["input_tests"]]) == expected
    result = run_cli("test", "-p", str(dest))
    assert result.exit_code == 0, explain(result)  # a warn test does not fail the run
    tested = json.loads((dest / "target" / "test_results.json").read_text())["results"]
    assert _by_test(tested) == expected
    singular = [t for t in tested if t["name"] == "crm.assert_no_order_without_customer"]
    assert [t["status"] for t in singular] == ["pass"]
    # dbt's artifacts hold each test once, the two uses of `has_rows` included
    manifest = json.loads((dest / "target" / "dbt" / "manifest.json").read_text())
    assert len([n for n in manifest["nodes"] if n.startswith("test.")]) == len(tested)


def test_tests_are_placed_where_dpsql_runs_them(auto: tuple[Path, Path, str]) -> None:
    _, dest, _ = auto
    products = _products(dest)
    sales_models = {m["name"]: m for m in products["sales"]["models"]}
    status = next(c for c in sales_models["stg_orders"]["columns"] if c["name"] == "status")
    assert status["tests"] == [{"accepted_values": {"values": ["placed", "shipped"],
                                                    "config": {"severity": "warn"}}}]
    # a relationships test towards another product's internal model: that model is a port
    crm_ports = {o["name"] for o in products["crm"]["outputs"]}
    assert "stg_customers" in crm_ports
    key = next(c for c in sales_models["stg_orders"]["columns"] if c["name"] == "customer_id")
    assert key["tests"] == [{"relationships": {"to": "crm.stg_customers", "field": "customer_id"}}]
    payments = next(i for i in products["sales"]["inputs"] if i["name"] == "payments")
    assert {c["name"] for c in payments["columns"]} == {"payment_id", "method"}
    assert not list(dest.glob("*/tests/*__*.sql"))  # no schema.yml test became a singular one


def test_import_md_says_what_was_printed(auto: tuple[Path, Path, str]) -> None:
    _, dest, output = auto
    text = (dest / "IMPORT.md").read_text()
    assert text == output
    assert "## Product `sales`" in text and "Louvain" in text and "keeps dbt group `finance`" in text
    # an ephemeral model that is a port (public in dbt) is built as a view, with a note
    assert "`order_summary` is ephemeral in dbt, but it is a port here" in text
    assert query(dest, "select table_type from information_schema.tables "
                       "where table_name = 'order_summary'") == [("VIEW",)]
    # generic test blocks are copied with the macros; a config dpsql lacks is a note
    kept = (dest / "packages" / "kit" / "macros" / "checks.sql").read_text()
    assert "macro pct" in kept and "test positive" in kept
    assert (dest / "macros" / "dbt_tests" / "generic" / "has_rows.sql").is_file()
    assert "config `store_failures` of test `accepted_values` on `stg_orders.status`" in text
    assert "not carried over: no" not in text


@pytest.mark.parametrize("split", ["folders", "groups"])
def test_other_splits_build_the_same_rows(tmp_path: Path, split: str) -> None:
    src, dest, _ = _imported(tmp_path, "--split", split)
    assert run_cli("build", "-p", str(dest)).exit_code == 0
    products = _products(dest)
    expected = {"folders": {"staging", "marts"},
                "groups": {"staging", "marts", "finance"}}[split]
    assert set(products) == expected
    where = _relations(dest)
    for name, rows in _oracle(src).items():
        assert sorted(query(dest, f'select * from "{where[name]}"."{name}"'), key=repr) == rows


def test_a_dbt_folder_without_dpsql_yml_suggests_the_import(tmp_path: Path) -> None:
    src = write_dbt_project(tmp_path)
    result = run_cli("build", "-p", str(src))
    assert result.exit_code == 1
    assert "holds a dbt project" in result.output and "dpsql import dbt" in result.output


def test_an_existing_destination_is_left_alone(tmp_path: Path) -> None:
    src = write_dbt_project(tmp_path)
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    result = run_cli("import", "dbt", str(src), str(dest))
    assert result.exit_code == 1 and "error[DP011]" in result.output
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_a_bad_domain_option_is_a_usage_error(tmp_path: Path) -> None:
    src = write_dbt_project(tmp_path)
    result = run_cli("import", "dbt", str(src), str(tmp_path / "ws"), "--domain-of", "crm")
    assert result.exit_code == 2 and "PATTERN=DOMAIN" in result.output


def _layered_project(root: Path) -> Path:
    """Three areas, each with staging and marts; shared staging models are read across areas,
    the shape where communities of an undirected graph read each other in a circle."""
    files = {"dbt_project.yml": "name: layered\nprofile: x\nmodels:\n  layered:\n"
                                "    +materialized: view\n"}
    areas = ("billing", "shipping", "support")
    for a, area in enumerate(areas):
        files[f"seeds/raw_{area}.csv"] = "id,value\n1,10\n2,20\n"
        files[f"models/staging/stg_{area}.sql"] = f"select * from {{{{ ref('raw_{area}') }}}}\n"
        for n in range(4):
            other = areas[(a + 1) % 3]
            reads = [f"stg_{area}", f"{area}_{n - 1}" if n else f"stg_{other}"]
            union = " union all ".join(f"select id, value from {{{{ ref('{r}') }}}}" for r in reads)
            files[f"models/marts/{area}_{n}.sql"] = union + "\n"
    from tests.conftest import write_files
    return write_files(root, files)


def test_auto_split_never_makes_a_product_cycle(tmp_path: Path) -> None:
    src = _layered_project(tmp_path / "dbt")
    dest = tmp_path / "ws"
    result = run_cli("import", "dbt", str(src), str(dest))
    assert result.exit_code == 0, explain(result)
    products = _products(dest)
    assert len(products) > 1
    check = run_cli("check", "-p", str(dest))
    assert check.exit_code == 0, explain(check)  # DP207 would be a product cycle
    assert "DP207" not in check.output
    built = run_cli("build", "-p", str(dest))
    assert built.exit_code == 0, explain(built)
