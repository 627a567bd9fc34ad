"""Type text reaches DuckDB through sqlglot expressions, and types come back as DuckDB wrote them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from dpsql.compile.typing.schema import (
    SchemaCatalog,
    create_schema_sql,
    create_table_sql,
    file_reader_sql,
)
from dpsql.core.dtypes import canonical, is_type, type_expression
from dpsql.core.project import Column
from dpsql.core.relations import Relation

TYPES = [
    "int", "INTEGER", "bigint", "UBIGINT", "HUGEINT", "UHUGEINT", "tinyint", "int8", "long",
    "decimal", "decimal(18, 2)", "DECIMAL(18,3)", "numeric(10,2)", "DECIMAL(38,0)",
    "float", "real", "double", "double precision", "varchar", "varchar(10)", "text", "string",
    "bool", "blob", "bytea", "bit", "uuid", "json", "interval", "date", "time", "timestamp",
    "datetime", "timestamptz", "TIMESTAMP WITH TIME ZONE", "TIME WITH TIME ZONE", "TIMESTAMP_NS",
    "TIMESTAMP_MS", "TIMESTAMP_S", "timestamp(3)", "BIGNUM", "VARINT", "integer[]", "INTEGER[3]",
    "INTEGER[][]", "INTEGER[2][3]", "TIMESTAMP WITH TIME ZONE[]", "MAP(VARCHAR, INTEGER)",
    "MAP(INTEGER, VARCHAR[])", 'STRUCT(a INTEGER, "b c" VARCHAR)', 'STRUCT("a""q" INT)',
    'STRUCT("select" INT, "Group" VARCHAR)', "STRUCT(a STRUCT(b DECIMAL(10,2)))",
    "STRUCT(a INTEGER[])[]", "row(a int)", "ENUM('a', 'b')", "ENUM('it''s', 'b')",
    "UNION(a INT, b VARCHAR)", '"INTEGER"', '"NULL"', 'STRUCT(a "NULL")', '"NULL"[]',
    'UNION(k "NULL")',
]


def _duckdb_typeof(type_text: str) -> str:
    with duckdb.connect() as con:
        row = con.execute(f"SELECT typeof(CAST(NULL AS {type_text}))").fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize("type_text", TYPES)
def test_canonical_is_duckdbs_spelling(type_text: str) -> None:
    assert canonical(type_text) == _duckdb_typeof(type_text)


@pytest.mark.parametrize("bad", ["", "bigintt", "int; drop table x", "x y", "STRUCT(a int",
                                 "int, b int", "INT NOT NULL", "decimal(40, 2)", "nonsense[]"])
def test_not_a_type(bad: str) -> None:
    with pytest.raises(ValueError):
        canonical(bad)
    assert not is_type(bad)


def test_type_expression_is_a_fresh_copy() -> None:
    first = type_expression("STRUCT(a INTEGER)")
    first.set("nested", False)
    assert type_expression("STRUCT(a INTEGER)").args.get("nested") is True


# Column types as DuckDB describes a query, with awkward names: the stand-in of a relation must
# have exactly these columns.
_QUERY = """
select 1 as a, null as n, 'x' collate nocase as c, {'a b': 1, 'q"x': [1.5::decimal(10,2)]} as s,
  map {'k': [1,2]} as m, now() as ts, 'a'::enum('a','b') as e, union_value(k := 1) as u,
  1::bignum as bn, [1,2]::int[2] as arr, interval 1 day as iv, '101'::bit as b, uuid() as id,
  '{}'::json as j, 1::uhugeint as uh, 1.5::float as f, current_time::timetz as tt,
  1::decimal(38,0) as d38, 'x' as "col with space", 1 as "quo""te", [[{'x': 1}]] as nested,
  '2024-01-01'::timestamp_ns as tns, {'a': null} as sn, [null] as ln, map([null], [1]) as mn,
  [[null]] as lln, union_value(k := null) as un, 1 as "Mixed Case", 1 as "select",
  'x'::enum('it''s', 'b') as e2, [1,2]::int[2][] as arr2, 1 as "ünï", 1 as "a.b",
  1::decimal as dd
"""


def test_stand_ins_keep_every_type_and_name() -> None:
    catalog = SchemaCatalog()
    try:
        described = catalog.describe(_QUERY)
        relation = Relation('odd "schema"', "a table")
        catalog.add(relation, iter(described))  # any iterable, read once
        assert catalog.describe(f"select * from {relation.sql}") == described
        table = exp.table_(relation.name, db=relation.schema)
        assert catalog.mapping.column_names(table) == [c.name for c in described]
    finally:
        catalog.close()
    assert {"DECIMAL(18,3)", "TIMESTAMP WITH TIME ZONE", "INTEGER[2]", "ENUM('a', 'b')",
            'MAP("NULL", INTEGER)', '"NULL"[]', "STRUCT(x INTEGER)[][]"} <= {
        c.type for c in described}


def test_generated_ddl() -> None:
    columns = [Column("id", "BIGINT"), Column('say "hi"', "DECIMAL(18,2)"),
               Column("tags", "VARCHAR[]"), Column("n", '"NULL"')]
    assert create_table_sql(Relation("p_internal", "m"), columns) == (
        'CREATE OR REPLACE TABLE "p_internal"."m" ("id" BIGINT, "say ""hi""" DECIMAL(18, 2), '
        '"tags" TEXT[], "n" "NULL")')
    assert create_schema_sql('a"b') == 'CREATE SCHEMA IF NOT EXISTS "a""b"'


def test_file_reader_sql_is_unchanged() -> None:
    # builds fingerprint this text: it reads as it always has
    assert file_reader_sql(Path("/data/o'k.csv"), "csv") == (
        "SELECT * FROM read_csv_auto('/data/o''k.csv')")
    assert file_reader_sql(Path("/data/x.parquet"), "parquet") == (
        "SELECT * FROM read_parquet('/data/x.parquet')")
    assert file_reader_sql(Path("/data/x.jsonl"), "json") == (
        "SELECT * FROM read_json_auto('/data/x.jsonl')")
