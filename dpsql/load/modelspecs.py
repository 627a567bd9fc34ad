"""`models:` in product.yml (tests and descriptions of any model, as in dbt's schema.yml), and
the `tests:` lists (dbt's newer spelling `data_tests:` too) of models, inputs and columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dpsql.core.errors import Location, error
from dpsql.core.specs import ColumnSpec, InputSpec, ModelSpec

_MODEL_KEYS = {"name", "description", "columns", "tests", "data_tests"}

Columns = Callable[[Any, dict[str, Any], tuple[Any, ...]], tuple[ColumnSpec, ...]]


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the text `{value if len(value) <= 40 else value[:37] + '...'}`"
    return {dict: "a mapping", bool: "a boolean"}.get(type(value), f"the number {value}"
                                                      if isinstance(value, int | float)
                                                      else f"a {type(value).__name__}")


def test_list(check: Any, data: dict[str, Any], keys: tuple[Any, ...]) -> tuple[Any, ...]:
    """`tests:` (or `data_tests:`) of a mapping: a list of test entries."""
    key = "data_tests" if "data_tests" in data else "tests"
    tests = data.get(key) or []
    if not isinstance(tests, list):
        check.fail(f"`{key}` must be a list, not {_kind(tests)}", (*keys, key),
                   f"write `{key}:` followed by indented items such as `- not_null`")
        return ()
    return tuple(tests)


def with_tests(check: Any, spec: InputSpec, raw: Any, keys: tuple[Any, ...]) -> InputSpec:
    """The input with the tests written on it as a whole."""
    if not isinstance(raw, dict):
        return spec
    tests = test_list(check, raw, keys)
    return replace(spec, tests=tests) if tests else spec


def model_specs(check: Any, data: dict[str, Any], columns: Columns) -> tuple[ModelSpec, ...]:
    """`models:`: each entry names a model of the product, with tests on it and its columns."""
    out: list[ModelSpec] = []
    seen: dict[str, Location] = {}
    for i, raw in enumerate(check.items(data, "models", ())):
        keys = ("models", i)
        found = check.mapping(raw, keys, _MODEL_KEYS, "a model",
                              "`- name: stg_orders` with `columns:` below it")
        if not found:
            continue
        name = check.name(found, "name", keys)
        where = check.doc.loc(*keys)
        if name.casefold() in seen:
            check.diagnostics.append(error(
                "DP005", f"model `{name}` is listed twice under `models:`", where,
                f"merge the two entries (the other is at line {seen[name.casefold()].line})"))
            continue
        seen[name.casefold()] = where
        out.append(ModelSpec(name, where, check.string(found, "description", keys),
                             columns(check, found, keys), test_list(check, found, keys)))
    return tuple(out)
