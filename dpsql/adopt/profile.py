"""The DuckDB file a dbt project builds into (its profile's target), read for the columns of
its sources: a `table:` input that declares its columns can be typed before dpsql's own
warehouse holds the table."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from dpsql.core.errors import DpsqlError
from dpsql.core.relations import quote, table_relation
from dpsql.load.yamlfile import load_yaml

log = logging.getLogger("dpsql")


def _mapping(path: Path) -> dict[str, Any]:
    try:
        data = load_yaml(path).data
    except DpsqlError:
        return {}
    return data if isinstance(data, dict) else {}


def profile_database(root: Path) -> Path | None:
    """The DuckDB file of the project's profile and default target, if it exists."""
    profile = str(_mapping(root / "dbt_project.yml").get("profile") or "")
    folders = [root, Path(os.environ.get("DBT_PROFILES_DIR", root)), Path.home() / ".dbt"]
    for folder in folders:
        entry = _mapping(folder / "profiles.yml").get(profile)
        if not isinstance(entry, dict):
            continue
        outputs = entry.get("outputs") or {}
        target = outputs.get(str(entry.get("target") or "dev")) if isinstance(outputs, dict) else None
        if isinstance(target, dict) and target.get("type") == "duckdb" and target.get("path"):
            path = Path(str(target["path"]))
            path = path if path.is_absolute() else root / path
            return path if path.is_file() else None
    return None


def source_columns(root: Path, relations: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """`schema.table` -> its columns and types in the profile's DuckDB file (those found)."""
    database = profile_database(root)
    if database is None:
        return {}
    out: dict[str, list[dict[str, str]]] = {}
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        log.info("cannot open %s for the sources' columns: %s", database, exc)
        return {}
    try:
        for text in relations:
            relation = table_relation(text)
            with contextlib.suppress(duckdb.Error):
                rows = con.execute(f"describe {quote(relation.schema)}.{quote(relation.name)}"
                                   ).fetchall()
                out[text] = [{"name": str(r[0]), "type": str(r[1]).lower()} for r in rows]
    finally:
        con.close()
    return out
