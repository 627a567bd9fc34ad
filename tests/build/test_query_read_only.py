"""`dpsql query` runs exactly one read-only statement: whatever text it is given, the warehouse,
other databases and the file system are left as they were, and a refusal is one clear message
with a location and a hint."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pytest
from buildkit import build, explain, invoke
from conftest import write_files

FILES = {
    "dpsql.yml": "name: ws\nwarehouse: warehouse.duckdb\n",
    "sales/product.yml": """
        name: sales
        outputs:
          - name: sales
            columns:
              - {name: id, type: bigint}
              - {name: amount, type: integer}
          - name: big
            columns:
              - {name: i, type: bigint}
        """,
    "sales/models/sales.sql": "select range as id, (range * 10)::integer as amount from range(3)\n",
    # a port far larger than any --limit; reading it past its first rows fails loudly
    "sales/models/big.sql": """
        {{ config(materialized='view') }}
        select case when n < 10000000 then n else ('past ' || n)::bigint end as i
        from range(1000000000) as t(n)
        """,
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = write_files(tmp_path_factory.mktemp("query") / "ws", FILES)
    build(workspace)
    # another workspace's warehouse, which `dpsql query` must not reach
    other = duckdb.connect(str(workspace.parent / "other.duckdb"))
    other.execute("create schema sales; create table sales.sales as select 1 as id")
    other.close()
    os.link(workspace / "warehouse.duckdb", workspace.parent / "link.duckdb")
    return workspace


def snapshot(path: Path) -> list[tuple[object, ...]]:
    """Every relation of a database file with its row count (the file is left closed)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute("select schema_name, table_name from duckdb_tables() "
                            "where database_name = current_database() order by all").fetchall()
        return [(s, t, con.execute(f'select count(*) from "{s}"."{t}"').fetchone())
                for s, t in names]
    finally:
        con.close()


def query(root: Path, sql: str, *args: str):  # type: ignore[no-untyped-def]
    return invoke("query", "-p", str(root), *args, "--", sql)


def position(sql: str, start: str) -> str:
    """`line:col` of where `start` begins in `sql`."""
    offset = sql.index(start)
    return f"{sql.count(chr(10), 0, offset) + 1}:{offset - (sql.rfind(chr(10), 0, offset) + 1) + 1}"


# case -> (the SQL, where the refused statement starts, what the message says)
REFUSED = {
    "attach_other_read_write": (
        "attach '{other}' as o (read_write); drop table o.sales.sales", "drop",
        "2 (ATTACH, DROP)"),
    "attach_hard_link": ("attach '{link}' as l", "attach", "ATTACH is refused"),
    "attach_then_select": ("ATTACH '{link}' AS l;\nselect 1", "select", "2 (ATTACH, SELECT)"),
    "copy_to_a_file": ("copy sales.sales to '{out}'", "copy", "COPY is refused"),
    "copy_query_to_a_file": ("copy (from sales.sales) to '{out}'", "copy", "COPY is refused"),
    "export_database": ("export database '{out}'", "export", "EXPORT is refused"),
    "install": ("install httpfs", "install", "INSTALL is refused"),
    "load": ("load httpfs", "load", "LOAD is refused"),
    "set": ("set threads = 1", "set", "SET is refused"),
    "pragma": ("pragma version", "pragma", "PRAGMA is refused"),
    "call": ("call pragma_version()", "call", "CALL is refused"),
    "checkpoint": ("checkpoint", "checkpoint", "CHECKPOINT is refused"),
    "drop": ("  drop table sales.sales", "drop", "DROP is refused"),
    "create": ("create table t as select 1", "create", "CREATE is refused"),
    "insert_after_with": ("with a as (select 1 as id, 2 as amount)\ninsert into sales.sales "
                          "select * from a", "with", "this is INSERT"),
    "delete_after_a_select": ("select 1;\n-- and then\ndelete from sales.sales", "delete",
                              "2 (SELECT, DELETE)"),
    "explain_analyze_a_drop": ("explain analyze drop table sales.sales", "drop",
                               "DROP is refused"),
    "begin": ("begin transaction", "begin", "BEGIN is refused"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_statement_that_is_not_a_read_only_query_is_refused(root: Path, case: str) -> None:
    template, start, text = REFUSED[case]
    out = root.parent / f"out_{case}"
    sql = template.format(other=root.parent / "other.duckdb", link=root.parent / "link.duckdb",
                          out=out)
    before = snapshot(root / "warehouse.duckdb"), snapshot(root.parent / "other.duckdb")
    result = query(root, sql)
    assert result.exit_code == 1, explain(result)
    assert f"<query>:{position(sql, start)}: error[DP412]:" in result.output, explain(result)
    assert text in result.output
    assert "hint: " in result.output and "Traceback" not in result.output
    assert (snapshot(root / "warehouse.duckdb"), snapshot(root.parent / "other.duckdb")) == before
    assert not out.exists()  # no file was written


def test_a_select_cannot_change_settings_or_write_a_file(root: Path) -> None:
    out = root.parent / "profile.txt"
    result = query(root, f"from enable_profiling(save_location='{out}')")
    assert result.exit_code == 1, explain(result)
    assert "error[DP403]" in result.output and "locked" in result.output
    assert query(root, "select 42 as answer").exit_code == 0
    assert not out.exists()


ALLOWED = {
    "select": ("select amount from sales.sales order by id", ["0", "10", "20"]),
    "from_first": ("from sales.sales select amount where id = 1;", ["10"]),
    "with": ("with s as (from sales.sales) select max(amount) as m from s", ["20"]),
    "values": ("values (7), (8)", ["7", "8"]),
    "union": ("(select 1 as x) union all (select 2)", ["1", "2"]),
    "describe": ("describe sales.sales", ["id", "amount"]),
    "describe_a_query": ("describe select 1 as one", ["one"]),
    "show": ("show sales.sales", ["id", "amount"]),
    "summarize": ("summarize sales.sales", ["id", "amount"]),
    "explain": ("explain select * from sales.sales", ["physical_plan"]),
    "explain_analyze": ("-- a comment first\nexplain analyze from sales.sales", ["analyzed_plan"]),
}


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_read_only_statements_run(root: Path, case: str) -> None:
    sql, expected = ALLOWED[case]
    result = query(root, sql)
    assert result.exit_code == 0, explain(result)
    for value in expected:
        assert re.search(rf"\b{value}\b", result.output), (value, result.output)


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment", ";"])
def test_no_statement_is_a_usage_error(root: Path, sql: str) -> None:
    result = query(root, sql)
    assert result.exit_code == 2, explain(result)
    assert "give one read-only SQL statement" in result.output
    assert "Traceback" not in explain(result)


def test_a_negative_limit_is_a_usage_error(root: Path) -> None:
    result = query(root, "from sales.sales", "--limit", "-1")
    assert result.exit_code == 2, explain(result)
    assert "--limit" in result.output


def test_the_limit_is_exact(root: Path) -> None:
    for limit, shown, more in ((0, [], True), (2, ["0", "1"], True), (3, ["0", "1", "2"], False)):
        result = query(root, "select id from sales.sales order by id", "--limit", str(limit))
        assert result.exit_code == 0, explain(result)
        assert re.findall(r"│ (\d+)\s*│", result.output) == shown
        assert ("there are more" in result.output) == more


def test_a_limit_reads_only_the_rows_it_shows(root: Path) -> None:
    """big holds a billion rows, and reading past its first ten million fails: only the rows
    shown are read from the result."""
    result = query(root, "from sales.big", "--limit", "5")
    assert result.exit_code == 0, explain(result)
    assert re.findall(r"│ (\d+)\s*│", result.output) == ["0", "1", "2", "3", "4"]
    assert "the first 5 rows; there are more" in result.output


def test_a_failing_query_is_located_in_the_query_text(root: Path) -> None:
    result = query(root, "select id,\n       amount_x\nfrom sales.sales")
    assert result.exit_code == 1, explain(result)
    assert "<query>:2:8: error[DP403]: query failed: Binder Error" in result.output
    assert "hint: " in result.output and "Traceback" not in result.output
