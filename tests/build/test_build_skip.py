"""Skip what has not changed, and build one product against its upstreams' published ports."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from buildkit import build, explain, query, relations, run_results, with_status
from conftest import write_files

FILES = {
    "dpsql.yml": "name: ws\nwarehouse: warehouse.duckdb\nthreads: 3\n",
    "data/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n3,cid,oslo\n",
    "people/product.yml": """
        name: people
        version: 1.2.0
        inputs:
          - {name: raw, file: ../data/people.csv}
        outputs:
          - name: people
            model: dim_people
            columns:
              - {name: id, type: bigint, tests: [unique]}
              - {name: name, type: varchar}
              - {name: city, type: varchar}
        """,
    "people/models/stg_people.sql": "select id::bigint as id, name, city from {{ input('raw') }}\n",
    "people/models/dim_people.sql": "select * from {{ ref('stg_people') }}\n",
    "cities/product.yml": """
        name: cities
        inputs:
          - name: people
            product: people
            port: people
            version: ^1.1
            columns:
              - {name: id, type: bigint}
              - {name: city, type: varchar}
        outputs:
          - name: cities
            model: cities
            columns:
              - {name: city, type: varchar}
              - {name: n, type: bigint}
        """,
    "cities/models/cities.sql": "select city, count(*) as n from {{ input('people') }} group by city\n",
    "cities/models/city_names.sql": "select upper(city) as city from {{ ref('cities') }}\n",
    "other/product.yml": "name: other\noutputs:\n  - {name: numbers, model: numbers}\n",
    "other/models/numbers.sql": "select range as n from range(3)\n",
}
BAD = "count(*) + 0 * max(city::integer) as n"
ALL = {"people.stg_people", "people.dim_people", "cities.cities", "cities.city_names",
       "other.numbers"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = write_files(tmp_path / "ws", FILES)
    build(workspace)
    assert with_status(workspace, "success") == ALL
    return workspace


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_nothing_changed_rebuilds_nothing(root: Path) -> None:
    before = query(root, "select id, fingerprint, built_at from _dpsql.fingerprints order by id")
    result = build(root)
    assert with_status(root, "unchanged") == ALL
    assert "Nothing changed" in result.output
    after = query(root, "select id, fingerprint, built_at from _dpsql.fingerprints order by id")
    assert after == before  # not even the fingerprints were rewritten


def test_editing_one_model_rebuilds_it_and_its_dependents(root: Path) -> None:
    edit(root / "people" / "models" / "dim_people.sql", "select *", "select id, upper(name) as name, city")
    result = build(root)
    assert with_status(root, "success") == {"people.dim_people", "cities.cities",
                                              "cities.city_names"}
    assert with_status(root, "unchanged") == {"people.stg_people", "other.numbers"}
    assert "Skipped 2 unchanged" in result.output, explain(result)
    assert query(root, "select name from people.people order by id") == [("ANN",), ("BOB",), ("CID",)]
    build(root)
    assert with_status(root, "unchanged") == ALL


def test_a_changed_input_file_rebuilds_its_readers(root: Path) -> None:
    csv = root / "data" / "people.csv"
    csv.write_text(csv.read_text() + "4,dan,rome\n")
    build(root)
    assert with_status(root, "success") == ALL - {"other.numbers"}
    assert query(root, "select * from cities.cities order by city") == [("oslo", 2), ("rome", 2)]
    info = csv.stat()  # same size and content, newer time: rebuilt too (as documented)
    os.utime(csv, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))
    build(root)
    assert "people.stg_people" in with_status(root, "success")


def test_a_relation_dropped_by_hand_is_rebuilt(root: Path) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("drop table cities.cities")
    con.close()
    build(root)
    assert with_status(root, "success") == {"cities.cities"}
    assert "cities.cities" in relations(root)


def test_full_refresh_rebuilds_everything(root: Path) -> None:
    build(root, "--full-refresh")
    assert with_status(root, "success") == ALL


def test_a_failing_model_keeps_its_previous_data_and_skips_its_consumers(root: Path) -> None:
    # binds at compile time, fails on the data
    edit(root / "cities" / "models" / "cities.sql", "count(*) as n", BAD)
    result = build(root, ok=False)
    assert result.exit_code == 1
    assert "DP401" in result.output and "Conversion Error" in result.output, explain(result)
    assert run_results(root)["cities.cities"]["status"] == "error"
    assert run_results(root)["cities.city_names"]["status"] == "skipped"
    assert query(root, "select * from cities.cities order by city") == [("oslo", 2), ("rome", 1)]
    assert query(root, "select * from cities_internal.city_names order by city") == [
        ("OSLO",), ("ROME",)]
    # fixed: the failed model is rebuilt (its old fingerprint was kept), the rest stays
    edit(root / "cities" / "models" / "cities.sql", BAD, "count(*) as n")
    build(root)
    assert with_status(root, "success") == set()
    assert with_status(root, "unchanged") == ALL


def test_threads_build_the_same_warehouse(tmp_path: Path) -> None:
    for threads in ("1", "4"):
        workspace = write_files(tmp_path / f"t{threads}", FILES)
        build(workspace, "--threads", threads)
        assert with_status(workspace, "success") == ALL
    for relation in ("people.people", "cities.cities", "cities_internal.city_names"):
        one = query(tmp_path / "t1", f"select * from {relation} order by all")
        four = query(tmp_path / "t4", f"select * from {relation} order by all")
        assert one == four and one


# --- independent product builds ---------------------------------------------------------


def test_a_product_builds_alone_against_published_ports(root: Path) -> None:
    edit(root / "cities" / "models" / "city_names.sql", "upper(city)", "lower(city)")
    build(root, "--select", "cities")
    assert with_status(root, "success") == {"cities.city_names"}
    assert set(run_results(root)) == {"cities.cities", "cities.city_names"}


def test_a_rebuilt_upstream_rebuilds_its_consumer_next_time(root: Path) -> None:
    csv = root / "data" / "people.csv"
    csv.write_text(csv.read_text() + "4,dan,paris\n")
    build(root, "--select", "people")
    build(root, "--select", "cities")  # its upstream's published version changed
    assert with_status(root, "success") == {"cities.cities", "cities.city_names"}
    assert ("paris", 1) in query(root, "select * from cities.cities")


def test_a_missing_upstream_port_fails_before_anything_is_built(tmp_path: Path) -> None:
    workspace = write_files(tmp_path / "ws", FILES)
    result = build(workspace, "--select", "cities", ok=False)
    assert result.exit_code == 1
    assert "DP408" in result.output and "people.people" in result.output, explain(result)
    assert "dpsql build --select people" in result.output
    assert not (workspace / "target" / "run_results.json").exists()
    assert "cities.cities" not in relations(workspace)


def test_published_columns_that_break_expectations_fail_before_anything_is_built(
        root: Path) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("create or replace table people.people as "
                "select id::hugeint as id, name from people_internal.stg_people")
    con.close()
    edit(root / "cities" / "models" / "city_names.sql", "upper(city)", "lower(city)")
    result = build(root, "--select", "cities", ok=False)
    assert result.exit_code == 1
    assert "DP409" in result.output, explain(result)
    assert "`city`" in result.output and "HUGEINT" in result.output
    assert query(root, "select * from cities_internal.city_names order by city") == [
        ("OSLO",), ("ROME",)]


def test_published_version_out_of_range_fails(root: Path) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("update _dpsql.fingerprints set version = '2.0.0' where id = 'people.dim_people'")
    con.close()
    result = build(root, "--select", "cities", ok=False)
    assert result.exit_code == 1
    assert "DP410" in result.output and "2.0.0" in result.output, explain(result)


def test_a_file_input_view_dropped_by_hand_is_published_again(root: Path) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("drop view people_internal.raw")
    con.close()
    build(root)
    assert with_status(root, "unchanged") == ALL
    assert query(root, "select count(*) from people_internal.stg_people") == [(3,)]
