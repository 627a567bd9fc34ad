"""DuckDB types in Spark: the table in docs/engines.md, type by type, and the types refused."""

from __future__ import annotations

import pytest

from dpsql.compile.typing.sparktypes import NoSparkType, to_spark


@pytest.mark.parametrize("duckdb_type, spark_type", [
    ("BIGINT", "bigint"), ("INTEGER", "int"), ("SMALLINT", "smallint"), ("TINYINT", "tinyint"),
    ("UINTEGER", "bigint"), ("UBIGINT", "decimal(20,0)"), ("HUGEINT", "decimal(38,0)"),
    ("DOUBLE", "double"), ("FLOAT", "float"), ("DECIMAL(18,2)", "decimal(18,2)"),
    ("VARCHAR", "string"), ("UUID", "string"), ("BLOB", "binary"), ("BOOLEAN", "boolean"),
    ("DATE", "date"), ("TIMESTAMP", "timestamp_ntz"), ("TIMESTAMP_S", "timestamp_ntz"),
    ("TIMESTAMP WITH TIME ZONE", "timestamp"), ("INTEGER[]", "array<int>"),
    ("STRUCT(a INTEGER, b VARCHAR[])", "struct<a:int,b:array<string>>"),
    ("MAP(VARCHAR, DOUBLE)", "map<string,double>"),
])
def test_each_duckdb_type_has_its_spark_type(duckdb_type: str, spark_type: str) -> None:
    assert to_spark(duckdb_type) == spark_type


@pytest.mark.parametrize("duckdb_type", ["TIME", "INTERVAL", "TIMESTAMP_NS", "BIT", "UHUGEINT",
                                         "UNION(a INTEGER, b VARCHAR)", "VARINT"])
def test_types_spark_cannot_hold(duckdb_type: str) -> None:
    with pytest.raises(NoSparkType):
        to_spark(duckdb_type)
