"""DuckDB type names: one canonical spelling, and which changes of type are compatible."""

from __future__ import annotations

import functools
import re
import threading

import duckdb

_lock = threading.Lock()
_con: duckdb.DuckDBPyConnection | None = None


@functools.lru_cache(maxsize=4096)
def canonical(type_text: str) -> str:
    """DuckDB's own spelling of a type: `int` -> INTEGER, `decimal(18, 2)` -> DECIMAL(18,2).

    Raises ValueError for text that is not a DuckDB type.
    """
    global _con
    with _lock:
        if _con is None:
            _con = duckdb.connect(":memory:")
        try:
            row = _con.execute(f"SELECT typeof(CAST(NULL AS {type_text}))").fetchone()
        except duckdb.Error as exc:
            raise ValueError(f"`{type_text}` is not a DuckDB type") from exc
    assert row is not None
    return str(row[0])


def is_type(type_text: str) -> bool:
    if not re.fullmatch(r"[A-Za-z0-9_(),\[\]\s\"]+", type_text):
        return False  # keep anything that is not type syntax out of the cast above
    try:
        canonical(type_text)
    except ValueError:
        return False
    return True
