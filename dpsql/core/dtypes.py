"""DuckDB type names: one canonical spelling, and which changes of type are compatible."""

from __future__ import annotations

import functools
import os
import re
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # both imported when first needed: a compile with nothing changed needs neither
    import duckdb
    from sqlglot import exp

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
    import duckdb
    from sqlglot import exp

    cast = exp.cast(exp.null(), type_expression(type_text), copy=False)
    sql = exp.select(exp.func("typeof", cast)).sql(dialect="duckdb")
    global _con
    with _lock:
        if _con is None:
            _con = duckdb.connect(":memory:")
        try:
            row = _con.execute(sql).fetchone()
        except duckdb.Error as exc:
            raise ValueError(f"`{type_text}` is not a DuckDB type") from exc
    assert row is not None
    return str(row[0])


def type_expression(type_text: str) -> exp.DataType:
    """A DuckDB type as a sqlglot expression (a new copy each call), to build SQL with.

    Raises ValueError for text that does not parse as one type.
    """
    return _parsed_type(type_text).copy()


_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+"')
_ARRAY_SUFFIX = re.compile(r"\[(\d*)\]")
_ARRAY_TAIL = re.compile(r"^(.+?)((?:\[\d*\])+)$")


@functools.lru_cache(maxsize=4096)
def _parsed_type(type_text: str) -> exp.DataType:
    from sqlglot import exp, parse_one
    from sqlglot.errors import ParseError, TokenError

    text = type_text.strip()
    try:
        parsed = parse_one(text, read="duckdb", into=exp.DataType)
    except (ParseError, TokenError):
        return _unparsed_type(text, type_text)
    if not isinstance(parsed, exp.DataType):
        raise ValueError(f"`{type_text}` is not a DuckDB type")
    for node in list(parsed.find_all(exp.DataType)):
        if node.this == exp.DataType.Type.NULL:  # DuckDB spells it "NULL": STRUCT(a "NULL")
            null = _named_type('"NULL"')
            if node is parsed:
                return null
            node.replace(null)
    return parsed


def _unparsed_type(text: str, type_text: str) -> exp.DataType:
    """What sqlglot's type parser does not take: a type named by an identifier (VARINT,
    "NULL"), and lists of such types (`"NULL"[]`); anything else is not a type."""
    from sqlglot import exp

    if _NAME.fullmatch(text):
        return _named_type(text)
    tail = _ARRAY_TAIL.match(text)
    if tail is None:
        raise ValueError(f"`{type_text}` is not a DuckDB type")
    out = _parsed_type(tail.group(1)).copy()
    for size in _ARRAY_SUFFIX.findall(tail.group(2)):
        out = exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[out], nested=True,
                           values=[exp.Literal.number(size)] if size else None)
    return out


def _named_type(text: str) -> exp.DataType:
    from sqlglot import exp

    quoted = text.startswith('"')
    name = text[1:-1].replace('""', '"') if quoted else text
    return exp.DataType(this=exp.DataType.Type.USERDEFINED,
                        kind=exp.to_identifier(name, quoted=quoted))


def is_type(type_text: str) -> bool:
    if not re.fullmatch(r"[A-Za-z0-9_(),\[\]\s\"]+", type_text):
        return False  # no quotes, comments or statements: type syntax only
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
