"""Opening the warehouse, what the engine reads from its catalog (in as few queries as it can),
and the cursors that worker threads share a connection through.

DuckDB takes a lock on the database file: a second process that opens it for writing fails at
once, and that failure becomes a clear DP402 message rather than a DuckDB traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dpsql.core.errors import DpsqlError, Location, error, error_text
from dpsql.core.project import Column
from dpsql.core.relations import Relation

log = logging.getLogger("dpsql")

STAGING_PREFIX = "__dpsql_new_"  # staging tables of earlier dpsql versions, swept on sight


def connect(warehouse: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, with a clear message when that is not possible."""
    where = Location(warehouse)
    if str(warehouse) == ":memory:":
        return quiet(duckdb.connect(":memory:"))
    if read_only and not warehouse.is_file():
        raise DpsqlError(error("DP402", f"there is no warehouse at {warehouse} yet", where,
                               "run `dpsql build` first"))
    folder = warehouse.parent
    if not folder.is_dir():
        raise DpsqlError(error("DP402", f"the warehouse folder {folder} does not exist", where,
                               "create it, or change `warehouse:` in dpsql.yml"))
    if not read_only and not os.access(folder, os.W_OK):
        raise DpsqlError(error("DP402", f"the warehouse folder {folder} is read-only", where,
                               "make it writable, or point `warehouse:` in dpsql.yml elsewhere"))
    try:
        return quiet(duckdb.connect(str(warehouse), read_only=read_only))
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            hint = ("another dpsql build or a DuckDB session has it open for writing; wait for "
                    "it to finish or close it, then run this again")
            raise DpsqlError(error("DP402", f"the warehouse {warehouse.name} is in use by "
                                   "another process", where, hint)) from None
        if "permission" in text.lower() or "read-only" in text.lower():
            raise DpsqlError(error("DP402", f"the warehouse {warehouse.name} cannot be written: "
                                   "permission denied", where,
                                   "check that the file and its folder are writable")) from None
        raise DpsqlError(error("DP402", f"cannot open the warehouse {warehouse.name}: "
                               f"{error_text(exc)}", where,
                               "check that the file and its folder are writable")) from None
    except duckdb.Error as exc:
        raise DpsqlError(error("DP402", f"cannot open the warehouse {warehouse.name}: "
                               f"{error_text(exc)}", where,
                               "check that the file is a DuckDB database")) from None


def quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No DuckDB progress bar: dpsql draws its own display."""
    con.execute("SET enable_progress_bar = false")
    return con


class Cursors:
    """One DuckDB cursor per worker thread, on one connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.local = threading.local()
        self.all: list[duckdb.DuckDBPyConnection] = []
        self.lock = threading.Lock()

    def get(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self.local, "cursor", None)
        if cursor is None:
            with self.lock:
                cursor = self.local.cursor = quiet(self.con.cursor())
                self.all.append(cursor)
        return cursor

    def interrupt(self) -> None:
        with self.lock:
            for cursor in self.all:
                with contextlib.suppress(duckdb.Error):
                    cursor.interrupt()

    def close(self) -> None:
        """Close every cursor (once the threads using them are done)."""
        with self.lock:
            for cursor in self.all:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()
            self.all.clear()


@dataclass(frozen=True)
class Catalog:
    """The warehouse when the build starts: its relations ("table" | "view") and schemas."""

    kinds: dict[Relation, str]
    schemas: frozenset[str]

    def kind(self, relation: Relation) -> str | None:
        return self.kinds.get(relation)

    def staging(self) -> list[Relation]:
        return [r for r in self.kinds if r.name.startswith(STAGING_PREFIX)]


def read_catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    """Every schema, table and view of the database, in one query."""
    rows = con.execute(
        "SELECT schema_name, NULL, NULL FROM duckdb_schemas() "
        "WHERE database_name = current_database() "
        "UNION ALL SELECT schema_name, table_name, 'table' FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary "
        "UNION ALL SELECT schema_name, view_name, 'view' FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal AND NOT temporary"
    ).fetchall()
    kinds = {Relation(str(s), str(n)): str(k) for s, n, k in rows if n is not None}
    return Catalog(kinds, frozenset(str(r[0]) for r in rows))


def read_columns(con: duckdb.DuckDBPyConnection, relations: Iterable[Relation]
                 ) -> dict[Relation, tuple[Column, ...]]:
    """The columns of some relations, in one query (none when the list is empty)."""
    wanted = set(relations)
    if not wanted:
        return {}
    rows = con.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name IN (SELECT unnest(?)) "
        "ORDER BY schema_name, table_name, column_index",
        [sorted({r.schema for r in wanted})],
    ).fetchall()
    found: dict[Relation, list[Column]] = {}
    for schema, table, column, data_type in rows:
        relation = Relation(str(schema), str(table))
        if relation in wanted:
            found.setdefault(relation, []).append(Column(str(column), str(data_type)))
    return {r: tuple(cols) for r, cols in found.items()}


def read_query(warehouse: Path, sql: str, limit: int) -> tuple[list[str], list[list[str]], int]:
    """Run a query on a read-only connection; returns column names, up to `limit` rows, count."""
    con = connect(warehouse, read_only=True)
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        raise DpsqlError(error("DP403", f"query failed: {error_text(exc)}", None,
                               "`dpsql ls --columns` lists every port and its columns")) from None
    finally:
        con.close()
    shown = [["NULL" if v is None else str(v) for v in row] for row in rows[:limit]]
    return columns, shown, len(rows)
