"""Fingerprints: what each published relation was built from, kept in the warehouse.

A model's fingerprint covers its compiled SQL (both variants of an incremental model), its
config, its relation, its product's version (for ports), the size and modification time of the
files it reads, and the fingerprints of its upstream models as they are published. The
fingerprints live in `_dpsql.fingerprints`, one row per model (and per file-input view).

The rows are kept conservative: before a build, the rows of everything about to be rebuilt are
deleted, and a row is written only once its relation is published. A build killed at any point
therefore never leaves a row that describes a relation it does not match; at worst a relation
is rebuilt once more. Incremental models write their row in the publishing transaction itself,
so that a killed build never appends the same rows twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dpsql.core.project import Column, CompiledModel, CompiledProject, Materialization
from dpsql.core.relations import Relation, quote

SCHEMA = "_dpsql"
TABLE = Relation(SCHEMA, "fingerprints")
FORMAT = "dpsql-fingerprint-1"  # change it when what a fingerprint covers changes
ABSENT = "absent"
_INSERT = (f"INSERT INTO {TABLE.sql} (id, relation, fingerprint, version, built_at) "
           "VALUES (?, ?, ?, ?, now())")


@dataclass(frozen=True)
class Stored:
    """What the warehouse records about one published relation."""

    fingerprint: str
    relation: str
    version: str | None = None  # the product's version when a port was published


@dataclass(frozen=True)
class Row:
    id: str
    relation: str
    fingerprint: str
    version: str | None = None

    @property
    def params(self) -> list[object]:
        return [self.id, self.relation, self.fingerprint, self.version]


COLUMNS = (("id", "VARCHAR"), ("relation", "VARCHAR"), ("fingerprint", "VARCHAR"),
           ("version", "VARCHAR"), ("built_at", "TIMESTAMP"))


def ensure(con: duckdb.DuckDBPyConnection, have_schema: bool, have_table: bool) -> None:
    if not have_schema:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(SCHEMA)}")
    if not have_table:
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
        con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE.sql} ({columns})")


def damage(kind: str | None, columns: Iterable[Column]) -> str | None:
    """What is wrong with the fingerprint table as found (`kind`: "table", "view" or None when
    it is missing, which is fine), or None when it has the shape dpsql writes."""
    if kind is None:
        return None
    if kind != "table":
        return f"{TABLE} is a {kind}, not a table"
    found = tuple((c.name, c.type.upper()) for c in columns)
    if set(found) == set(COLUMNS):
        return None
    missing = [f"{n} {t}" for n, t in COLUMNS if (n, t) not in found]
    extra = [f"{n} {t}" for n, t in found if (n, t) not in COLUMNS]
    return f"{TABLE} has other columns than dpsql writes (" + "; ".join(
        ([f"missing {', '.join(missing)}"] if missing else [])
        + ([f"unexpected {', '.join(extra)}"] if extra else [])) + ")"


def recreate(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Replace a damaged fingerprint table by an empty one (what it held is rebuilt)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} IF EXISTS {TABLE.sql}")
        ensure(con, True, False)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def read(con: duckdb.DuckDBPyConnection) -> dict[str, Stored]:
    """Every recorded fingerprint (the last row wins if a model has two)."""
    rows = con.execute(f"SELECT id, fingerprint, relation, version FROM {TABLE.sql} "
                       "ORDER BY built_at").fetchall()
    return {str(i): Stored(str(f), str(r), None if v is None else str(v)) for i, f, r, v in rows}


def forget(con: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> None:
    """Delete the rows of relations about to be rebuilt (one statement)."""
    wanted = sorted(set(ids))
    if wanted:
        con.execute(f"DELETE FROM {TABLE.sql} WHERE id IN (SELECT unnest(?))", [wanted])


def write(con: duckdb.DuckDBPyConnection, rows: Iterable[Row]) -> None:
    """Record published relations (one statement for the lot)."""
    batch = list(rows)
    if not batch:
        return
    forget(con, (r.id for r in batch))
    values = ", ".join(["(?, ?, ?, ?, now())"] * len(batch))
    params = [p for row in batch for p in row.params]
    con.execute(f"INSERT INTO {TABLE.sql} (id, relation, fingerprint, version, built_at) "
                f"VALUES {values}", params)


def write_one(cursor: duckdb.DuckDBPyConnection, row: Row) -> None:
    """Record one relation through `cursor`, inside the transaction that publishes it."""
    cursor.execute(f"DELETE FROM {TABLE.sql} WHERE id = ?", [row.id])
    cursor.execute(_INSERT, row.params)


class Fingerprints:
    """Fingerprints of the models of a compiled project, computed on demand and remembered.

    An upstream model that this build does not touch counts with the fingerprint recorded in
    the warehouse (what is published is what the model reads), or `absent` if none is.
    """

    def __init__(self, compiled: CompiledProject, in_build: set[str], stored: Mapping[str, Stored]):
        self.compiled = compiled
        self.in_build = in_build
        self.stored = stored
        self._memo: dict[str, str] = {}
        self._files: dict[Path, str] = {}

    def of(self, mid: str) -> str:
        found = self._memo.get(mid)
        if found is None:
            found = self._memo[mid] = self._compute(self.compiled.models[mid])
        return found

    def effective(self, mid: str) -> str:
        """The fingerprint of the version of `mid` that its consumers read in this build."""
        model = self.compiled.models.get(mid)
        if model is None:
            return ABSENT
        if mid in self.in_build or model.config.materialized == Materialization.EPHEMERAL:
            return self.of(mid)
        stored = self.stored.get(mid)
        return stored.fingerprint if stored is not None else ABSENT

    def _compute(self, model: CompiledModel) -> str:
        product = self.compiled.project.by_name[model.product]
        files = []
        for name in model.inputs:
            spec = product.spec.input(name)
            if spec is not None and spec.kind == "file" and spec.file is not None:
                files.append((name, self.file(spec.file)))
        parts = {
            "format": FORMAT,
            "relation": str(model.relation),
            "materialized": model.config.materialized,
            "unique_key": list(model.config.unique_key),
            "sql": model.sql,
            "incremental_sql": model.incremental_sql,
            "version": str(product.spec.version) if model.port else None,
            "upstream": [(d, self.effective(d)) for d in sorted(model.depends_on)],
            "files": files,
        }
        return digest(parts)

    def file(self, path: Path) -> str:
        found = self._files.get(path)
        if found is None:
            try:
                info = os.stat(path)
                found = f"{path}:{info.st_size}:{info.st_mtime_ns}"
            except OSError:
                found = f"{path}:{ABSENT}"
            self._files[path] = found
        return found


def digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
