"""dbt's cross-database macros (`dbt.type_string()`, `dbt.hash(...)`, `dbt.concat([...])`,
`dbt.dateadd(...)`, ...) as DuckDB SQL, the way dbt-duckdb writes them. Packages such as
dbt_utils call them through the `dbt` namespace. Each returns SQL text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _text(value: Any) -> str:
    return str(value)


class DbtMacros:
    """The `dbt` namespace templates see."""

    @staticmethod
    def type_string() -> str:
        return "VARCHAR"

    @staticmethod
    def type_int() -> str:
        return "INTEGER"

    @staticmethod
    def type_bigint() -> str:
        return "BIGINT"

    @staticmethod
    def type_float() -> str:
        return "DOUBLE"

    @staticmethod
    def type_numeric() -> str:
        return "NUMERIC(28,6)"

    @staticmethod
    def type_timestamp() -> str:
        return "TIMESTAMP"

    @staticmethod
    def type_boolean() -> str:
        return "BOOLEAN"

    @staticmethod
    def hash(field: Any) -> str:
        return f"md5(cast({_text(field)} as VARCHAR))"

    @staticmethod
    def concat(fields: Sequence[Any]) -> str:
        return " || ".join(_text(f) for f in fields)

    @staticmethod
    def cast(field: Any, type: Any) -> str:
        return f"cast({_text(field)} as {_text(type)})"

    @staticmethod
    def safe_cast(field: Any, type: Any) -> str:
        return f"try_cast({_text(field)} as {_text(type)})"

    @staticmethod
    def current_timestamp() -> str:
        return "now()"

    @staticmethod
    def date_trunc(datepart: Any, date: Any) -> str:
        return f"date_trunc('{_text(datepart)}', {_text(date)})"

    @staticmethod
    def dateadd(datepart: Any, interval: Any, from_date_or_timestamp: Any) -> str:
        return f"{_text(from_date_or_timestamp)} + (interval '{_text(interval)} {_text(datepart)}')"

    @staticmethod
    def datediff(first_date: Any, second_date: Any, datepart: Any) -> str:
        return (f"date_diff('{_text(datepart)}', {_text(first_date)}::timestamp, "
                f"{_text(second_date)}::timestamp)")

    @staticmethod
    def any_value(expression: Any) -> str:
        return f"any_value({_text(expression)})"

    @staticmethod
    def bool_or(expression: Any) -> str:
        return f"bool_or({_text(expression)})"

    @staticmethod
    def split_part(string_text: Any, delimiter_text: Any, part_number: Any) -> str:
        return f"split_part({_text(string_text)}, {_text(delimiter_text)}, {_text(part_number)})"

    @staticmethod
    def length(expression: Any) -> str:
        return f"length({_text(expression)})"

    @staticmethod
    def replace(field: Any, old_chars: Any, new_chars: Any) -> str:
        return f"replace({_text(field)}, {_text(old_chars)}, {_text(new_chars)})"

    @staticmethod
    def escape_single_quotes(expression: Any) -> str:
        return _text(expression).replace("'", "''")

    @staticmethod
    def string_literal(value: Any) -> str:
        return "'" + _text(value).replace("'", "''") + "'"

    @staticmethod
    def last_day(date: Any, datepart: Any) -> str:
        return (f"cast(date_trunc('{_text(datepart)}', {_text(date)}) + interval '1 "
                f"{_text(datepart)}' - interval '1 day' as date)")
