"""DuckDB type names: one canonical spelling, and which changes of type are compatible."""

from __future__ import annotations

import functools
import os
import re
import threading

import duckdb

_lock = threading.Lock()
_con: duckdb.DuckDBPyConnection | None = None


_inherited: list[duckdb.DuckDBPyConnection] = []


def _forget_connection() -> None:
    """A forked worker must not use the parent's DuckDB connection: it opens its own. The old
    one is kept referenced, never closed (its threads do not exist in the child)."""
    global _con
    if _con is not None:
        _inherited.append(_con)
        _con = None


os.register_at_fork(after_in_child=_forget_connection)


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


# --- compatible changes of type (interfaces) ---------------------------------------------------

_SIGNED = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_UNSIGNED = ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")
_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INTEGER": 10, "BIGINT": 19, "HUGEINT": 39,
           "UTINYINT": 3, "USMALLINT": 5, "UINTEGER": 10, "UBIGINT": 20, "UHUGEINT": 39}
_EXACT_IN = {"FLOAT": {"TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"},
             "DOUBLE": {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER",
                        "FLOAT"}}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def _decimal(type_text: str) -> tuple[int, int] | None:
    match = _DECIMAL.match(type_text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def widens(given: str, expected: str) -> bool:
    """True when every value of type `given` is exactly a value of type `expected`.

    Both are canonical DuckDB types. Widening is compatible (INTEGER to BIGINT, DECIMAL(10,2) to
    DECIMAL(18,2), VARCHAR(n) to VARCHAR, INTEGER to DOUBLE); narrowing is not.
    """
    if given == expected:
        return True
    if given in _SIGNED and expected in _SIGNED:
        return _SIGNED.index(given) <= _SIGNED.index(expected)
    if given in _UNSIGNED and expected in _UNSIGNED:
        return _UNSIGNED.index(given) <= _UNSIGNED.index(expected)
    if given in _UNSIGNED and expected in _SIGNED:
        return _UNSIGNED.index(given) < _SIGNED.index(expected)
    target = _decimal(expected)
    if target is not None:
        precision, scale = target
        if given in _DIGITS:
            return _DIGITS[given] <= precision - scale
        source = _decimal(given)
        if source is not None:
            return source[1] <= scale and source[0] - source[1] <= precision - scale
        return False
    return given in _EXACT_IN.get(expected, ())
