"""Opening the warehouse, what the engine reads from its catalog (in as few queries as it can),
and the cursors that worker threads share a connection through.

DuckDB takes a lock on the database file: a process that opens it for writing excludes every
other, a read-only one excludes writers. A process that cannot get its lock fails at once, and
that failure becomes a clear DP402 message rather than a DuckDB traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
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
            raise DpsqlError(error("DP402", f"the warehouse {warehouse.name} is in use by "
                                   f"another process{_holder(text)}", where,
                                   _LOCKED_HINT)) from None
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


_LOCKED_HINT = ("the file is locked by another process (a dpsql build, test or query, or a DuckDB "
                "shell); wait for it to finish or close it, then run this again")


def _holder(text: str) -> str:
    """` (PID 123, python3)` from DuckDB's lock message, when it names the process."""
    found = re.search(r"lock is held in (\S+) \(PID (\d+)\)", text)
    return f" (PID {found.group(2)}, {Path(found.group(1)).name})" if found else ""


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


Connection = duckdb.DuckDBPyConnection


class QueryFailed(Exception):
    """DuckDB could not parse or run a query: its message, and where in the query text."""

    def __init__(self, exc: duckdb.Error, sql: str):
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        super().__init__(lines[0])
        self.message = lines[0]
        self.suggestion = next((x.strip() for x in lines[1:] if x.startswith("Did you mean")), "")
        self.line: int | None = None
        self.col = 0
        for i, text in enumerate(lines):
            found = re.match(r"LINE (\d+): ", text)
            if found is None:
                continue
            self.line = int(found.group(1))
            shown = text[found.end():]
            source = sql.splitlines()[self.line - 1:self.line]
            caret = lines[i + 1].find("^") if i + 1 < len(lines) else -1
            if source and source[0] == shown and caret >= found.end():
                self.col = caret - found.end() + 1
            break


def lock_configuration(con: Connection) -> None:
    """No statement run on `con` from now on may change a setting (SET, or a table function
    such as enable_profiling() that writes files)."""
    con.execute("SET lock_configuration = true")


def statement_types(con: Connection, sql: str) -> list[str]:
    """What DuckDB's parser reads `sql` as: one type per statement (SELECT, EXPLAIN, ATTACH...)."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(exc, sql) from None
    types = []
    for statement in statements:
        try:
            types.append(statement.type.name)
        except ValueError:  # a type this duckdb module has no name for
            types.append("UNKNOWN")
    return types


def fetch(con: Connection, sql: str, limit: int) -> tuple[list[str], list[tuple[object, ...]], bool]:
    """Run a query and fetch its first `limit` rows from the stream (the rest is never read):
    column names, rows, and whether there are more."""
    try:
        cursor = con.execute(sql)
        columns = [str(d[0]) for d in cursor.description or ()]
        rows = cursor.fetchmany(limit + 1) if columns else []
    except duckdb.Error as exc:
        raise QueryFailed(exc, sql) from None
    return columns, rows[:limit], len(rows) > limit
