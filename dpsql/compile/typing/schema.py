"""Static schema inference: the columns and DuckDB types of every relation, with no data read.

Upstream relations are stood in for by empty tables in an in-memory DuckDB database, and each
model's query is described against them; DuckDB's own binder gives the exact output types.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import duckdb
from sqlglot import exp
from sqlglot.schema import MappingSchema

from dpsql.core.project import Column
from dpsql.core.relations import Relation, quote

log = logging.getLogger("dpsql")

_READERS = {"csv": "read_csv_auto", "parquet": "read_parquet", "json": "read_json_auto"}


def file_reader_sql(path: Path, file_format: str) -> str:
    """The SELECT that exposes a file input (the same in the stand-in and in the warehouse)."""
    literal = "'" + str(path).replace("'", "''") + "'"
    return f"SELECT * FROM {_READERS[file_format]}({literal})"


class BindError(Exception):
    """DuckDB could not bind a query against its upstream schemas."""


class SchemaCatalog:
    """An in-memory DuckDB holding empty stand-ins for every relation typed so far."""

    def __init__(self) -> None:
        self._con = duckdb.connect(":memory:")
        self._schemas: set[str] = {"main"}
        # the same columns for sqlglot, filled as relations are typed (one object, reused)
        self.mapping = MappingSchema(dialect="duckdb", normalize=False)

    def close(self) -> None:
        self._con.close()

    def _ensure_schema(self, schema: str) -> None:
        if schema not in self._schemas:
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            self._schemas.add(schema)

    def add(self, relation: Relation, columns: Iterable[Column]) -> None:
        """Create (or replace) the empty stand-in for `relation`."""
        self._ensure_schema(relation.schema)
        cols = ", ".join(f"{quote(c.name)} {c.type}" for c in columns)
        self._con.execute(f"CREATE OR REPLACE TABLE {relation.sql} ({cols})")
        self.mapping.add_table(
            exp.Table(this=exp.to_identifier(relation.name), db=exp.to_identifier(relation.schema)),
            {c.name: c.type for c in columns}, dialect="duckdb")

    def describe(self, sql: str) -> tuple[Column, ...]:
        """The output columns of a query, as DuckDB binds it."""
        try:
            rows = self._con.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.Error as exc:
            raise BindError(_first_line(str(exc))) from None
        return tuple(Column(str(r[0]), str(r[1])) for r in rows)

    def describe_file(self, path: Path, file_format: str) -> tuple[Column, ...]:
        return self.describe(file_reader_sql(path, file_format))


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else message


def warehouse_columns(warehouse: Path, relations: Iterable[Relation]) -> dict[Relation, tuple[Column, ...]]:
    """Columns of existing warehouse tables, read from the catalog (read-only, no data)."""
    wanted = list(relations)
    if not wanted or not warehouse.is_file():
        return {}
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        log.info("cannot read the warehouse catalog of %s: %s", warehouse, exc)
        return {}
    try:
        rows = con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    found: dict[Relation, list[Column]] = {}
    want = set(wanted)
    for schema, table, column, data_type in rows:
        rel = Relation(schema, table)
        if rel in want:
            found.setdefault(rel, []).append(Column(column, data_type))
    return {rel: tuple(cols) for rel, cols in found.items()}
