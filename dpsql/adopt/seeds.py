"""The types dbt gives a seed's columns, so that an imported seed reads as dbt loads it.

dbt infers a seed's types with agate and maps them to the adapter's types: on DuckDB a whole
number is INTEGER (DuckDB's own reader says BIGINT), a number with decimals DOUBLE, then DATE,
TIMESTAMP, BOOLEAN and VARCHAR. The seed's `column_types` override the inference."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from dpsql.compile.typing.schema import file_reader_sql, literal_pattern

_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT", "UHUGEINT"}
_INT32 = 2**31 - 1


def _dbt_type(sniffed: str, low: object, high: object) -> str:
    upper = sniffed.upper()
    if upper in _INTEGERS:
        fits = all(isinstance(v, int) and abs(v) <= _INT32 for v in (low, high) if v is not None)
        return "INTEGER" if fits else "BIGINT"
    if upper in ("DOUBLE", "FLOAT", "REAL") or upper.startswith("DECIMAL"):
        return "DOUBLE"
    if upper == "DATE" or upper == "BOOLEAN":
        return upper
    if upper.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return "VARCHAR"


def seed_column_types(path: Path, declared: Mapping[str, str]) -> dict[str, str]:
    """Every column of the seed at `path` with the type dbt would load it as."""
    con = duckdb.connect()
    try:
        reader = file_reader_sql(path, "csv")
        described = con.execute(f"describe {reader}").fetchall()
        out: dict[str, str] = {}
        for name, sniffed, *_ in described:
            low = high = None
            if str(sniffed).upper() in _INTEGERS:
                quoted = '"' + str(name).replace('"', '""') + '"'
                low, high = con.execute(f"select min({quoted}), max({quoted}) from "
                                        f"read_csv_auto('{literal_pattern(str(path))}')"
                                        ).fetchone() or (None, None)
            out[str(name)] = declared.get(str(name)) or _dbt_type(str(sniffed), low, high)
        return out
    finally:
        con.close()
