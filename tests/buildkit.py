"""Helpers for the build tests: tiny workspaces written from a dict of files, the CLI run
in-process, and the warehouse read back on a read-only connection that is always closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from click.testing import Result
from conftest import explain
from conftest import run_cli as invoke


def build(root: Path, *args: str, ok: bool = True) -> Result:
    result = invoke("build", "-p", str(root), *args)
    if ok:
        assert result.exit_code == 0, explain(result)
    return result


def query(root: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def relations(root: Path) -> dict[str, str]:
    """`schema.name` -> 'table' | 'view', for everything in the warehouse."""
    rows = query(root, "select table_schema, table_name, table_type from information_schema.tables"
                       " where table_catalog = current_database()")
    return {f"{s}.{n}": ("view" if t == "VIEW" else "table") for s, n, t in rows}


def run_results(root: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((root / "target" / "run_results.json").read_text(encoding="utf-8"))
    return {r["id"]: r for r in data["results"]}


def statuses(root: Path) -> dict[str, str]:
    return {mid: r["status"] for mid, r in run_results(root).items()}


def with_status(root: Path, status: str) -> set[str]:
    return {mid for mid, s in statuses(root).items() if s == status}


def write_csv(path: Path, header: str, rows: list[tuple[Any, ...]]) -> None:
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
