"""DuckDB types in Spark: the type each DuckDB type is published as on a Spark target.

Models are typed by DuckDB at compile time; on Spark each model's result is cast to the Spark
spelling of those types (`to_spark`), so both engines publish the same values with the same
meaning. The spelling is Spark's own `simpleString` (`bigint`, `decimal(18,2)`, `string`,
`timestamp_ntz`, `array<int>`, `struct<a:int,b:string>`), the form Spark reports for a
table's columns, so a built table's types compare as text. docs/engines.md lists the mapping.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError

T = exp.DataType.Type

SCALARS: dict[Any, str] = {
    T.BOOLEAN: "boolean",
    T.TINYINT: "tinyint", T.SMALLINT: "smallint", T.INT: "int", T.BIGINT: "bigint",
    T.UTINYINT: "smallint", T.USMALLINT: "int", T.UINT: "bigint", T.UBIGINT: "decimal(20,0)",
    T.INT128: "decimal(38,0)",
    T.FLOAT: "float", T.DOUBLE: "double",
    T.VARCHAR: "string", T.TEXT: "string", T.CHAR: "string", T.NCHAR: "string",
    T.NVARCHAR: "string", T.UUID: "string", T.JSON: "string", T.ENUM: "string",
    T.BLOB: "binary", T.VARBINARY: "binary", T.BINARY: "binary",
    T.DATE: "date",
    T.TIMESTAMP: "timestamp_ntz", T.TIMESTAMPNTZ: "timestamp_ntz", T.DATETIME: "timestamp_ntz",
    T.TIMESTAMP_S: "timestamp_ntz",
    T.TIMESTAMP_MS: "timestamp_ntz",
    T.TIMESTAMPTZ: "timestamp", T.TIMESTAMPLTZ: "timestamp",
}


class NoSparkType(ValueError):
    """A DuckDB type that Spark cannot hold faithfully (TIME, INTERVAL, TIMESTAMP_NS, ...)."""


def to_spark(duckdb_type: str) -> str:
    """The Spark type a DuckDB type is published as; NoSparkType if there is none."""
    try:
        parsed = exp.DataType.build(duckdb_type, dialect="duckdb")
    except (ParseError, ValueError):
        raise NoSparkType(f"`{duckdb_type}` is not a type dpsql can read") from None
    return _map(parsed, duckdb_type)


def _map(node: exp.DataType, text: str) -> str:
    kind = node.this
    if kind == T.DECIMAL:
        params = [p.this.name if isinstance(p, exp.DataTypeParam) else p.name
                  for p in node.expressions]
        precision, scale = (params + ["18", "3"][len(params):])[:2]
        return f"decimal({precision},{scale})"
    if kind in SCALARS:
        return SCALARS[kind]
    inner = [e for e in node.expressions if isinstance(e, exp.DataType | exp.ColumnDef)]
    if kind in (T.ARRAY, T.LIST) and len(inner) == 1 and isinstance(inner[0], exp.DataType):
        return f"array<{_map(inner[0], text)}>"
    if kind == T.MAP and len(inner) == 2:
        key, value = (_map(e, text) for e in inner if isinstance(e, exp.DataType))
        return f"map<{key},{value}>"
    if kind == T.STRUCT and inner:
        fields = []
        for field in inner:
            if not isinstance(field, exp.ColumnDef) or not isinstance(field.args.get("kind"),
                                                                      exp.DataType):
                raise NoSparkType(f"`{text}` has a field dpsql cannot read")
            fields.append(f"{field.name}:{_map(field.args['kind'], text)}")
        return f"struct<{','.join(fields)}>"
    raise NoSparkType(f"Spark has no type that holds DuckDB's `{node.sql('duckdb')}`")
