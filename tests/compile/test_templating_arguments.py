"""Template functions called wrongly get an error in dpsql's words, never Python's: what is
wrong, the template's file:line and a hint showing the right call. Also the helpers the other
template tests share (`fails_with`, `hint_of`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from conftest import BASE, explain, run_cli, write_files

STG = "inventory/items/models/stg_items.sql"
SELECT = "select item_id::bigint as item_id, shop, qty::bigint as qty, price\n"
FROM = "from {{ input('raw_items') }}\n"


def fails_with(root: Path, code: str, where: str, text: str, command: str = "build") -> Result:
    """`command` exits 1 with exactly one error `code`, at `where` (a `path:line` suffix), whose
    message holds `text`, followed by a hint line; no traceback; no warehouse was created."""
    result = run_cli(command, "-p", str(root))
    output = explain(result)
    assert result.exit_code == 1, output
    assert "Traceback" not in output, output
    lines = result.stderr.splitlines()
    found = [i for i, line in enumerate(lines) if f"error[{code}]" in line]
    assert len(found) == 1, output
    line = lines[found[0]]
    assert re.search(re.escape(where) + r":(\d+:)? error", line), output
    assert text in line, output
    assert found[0] + 1 < len(lines) and lines[found[0] + 1].startswith("  hint: "), output
    for name in ("wh.duckdb", "warehouse.duckdb"):
        assert not (root / name).exists(), "a failed compile must not create the warehouse"
    return result


def hint_of(result: Result, code: str) -> str:
    lines = result.stderr.splitlines()
    index = next(i for i, line in enumerate(lines) if f"error[{code}]" in line)
    return lines[index + 1].removeprefix("  hint: ")


# template line 3 holds the call -> (code, text in the message, text in the hint)
CALLS: dict[str, tuple[str, str, str, str]] = {
    "input_with_two_arguments": (
        "{{ input('raw_items', 'x') }}", "DP107",
        "input() takes 1 argument; it was given 2 positional arguments", "input('raw_orders')"),
    "ref_with_a_version_that_does_not_exist": (
        "{{ ref('stg_items', version=2) }}", "DP103", "has no model `stg_items_v2`",
        "stg_items"),
    "ref_with_an_unknown_keyword": (
        "{{ ref('stg_items', package='x') }}", "DP107", "ref() has no argument `package`",
        "ref('stg_orders')"),
    "ref_with_three_arguments": (
        "{{ ref('items', 'items', 'x') }}", "DP107",
        "ref() takes 1 or 2 arguments; it was given 3", "ref('customers', 'customers')"),
    "ref_without_arguments": (
        "{{ ref() }}", "DP107", "ref() takes 1 or 2 arguments; it was given 0",
        "ref('stg_orders')"),
    "ref_of_a_number": (
        "{{ ref(42) }}", "DP107", "ref() takes names in quotes, not a number `42`",
        "ref('stg_orders')"),
    "ref_of_an_undefined_name": (
        "{{ ref(stg_items) }}", "DP102", "'stg_items' is undefined", "define it"),
    "source_the_dbt_way_undeclared": (
        "{{ source('raw', 'things') }}", "DP104", "source('raw', 'things'): product `items` "
        "declares no input for it", "`table: raw.things`"),
    "source_with_three_arguments": (
        "{{ source('raw', 'items', 'x') }}", "DP107",
        "source() takes 1 or 2 arguments; it was given 3", "source('jaffle', 'orders')"),
    "config_with_a_positional_argument": (
        "{{ config('table') }}", "DP107", "config() takes only named options",
        "config(materialized='table'"),
    "config_tags_a_number": (
        "{{ config(tags=5) }}", "DP106", "tags=a number `5` is not a name or a list of names",
        "config(tags=['one', 'two'])"),
    "config_materialized_a_list": (
        "{{ config(materialized=['table']) }}", "DP106",
        "materialized=a list `['table']` is not a materialization", "use one of: view"),
    "config_description_a_number": (
        "{{ config(description=1) }}", "DP106", "description=a number `1` is not text",
        "config(description="),
    "var_with_three_arguments": (
        "{{ var('min_qty', 0, 1) }}", "DP107", "var() takes 1 or 2 arguments; it was given 3",
        "var('start_date', '2024-01-01')"),
    "var_with_an_unknown_keyword": (
        "{{ var('min_qty', fallback=0) }}", "DP107", "var() has no argument `fallback`",
        "var('start_date')"),
    "env_var_of_a_list": (
        "{{ env_var(['HOME']) }}", "DP107", "env_var() takes names in quotes, not a list",
        "env_var('USER', 'nobody')"),
    "is_incremental_with_an_argument": (
        "{{ is_incremental(1) }}", "DP107", "is_incremental() takes no arguments; it was given 1",
        "{% if is_incremental() %}"),
}


@pytest.mark.parametrize("case", sorted(CALLS))
def test_a_wrong_call_gets_dpsql_words(tmp_path: Path, case: str) -> None:
    call, code, text, hint = CALLS[case]
    root = write_files(tmp_path / "ws", {**BASE, STG: SELECT + FROM + f"where 1 = 1 {call}\n"})
    result = fails_with(root, code, f"{STG}:3", text)
    assert hint in hint_of(result, code)
    for internal in ("_input", "_ref", "positional argument but", "TypeError", "keyword argument"):
        assert internal not in result.output


def test_every_wrong_call_in_a_model_is_reported_at_once(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**BASE, STG: (
        "select {{ var() }} as a,\n"
        "       {{ env_var('HOME', 'x', 'y') }} as b\n"
        "from {{ input() }}\n")})
    result = run_cli("compile", "-p", str(root))
    assert result.exit_code == 1
    found = re.findall(r"stg_items\.sql:(\d+): error\[(DP\d+)\]", result.stderr)
    assert found == [("1", "DP107"), ("2", "DP107"), ("3", "DP107")], result.output
    assert result.stderr.count("  hint: write ") == 3


def test_a_call_at_the_top_of_a_macro_file_points_at_the_macro_file(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE, "macros/util.sql": "{% macro twice(x) %}{{ x }} * 2{% endmacro %}\n\n"
                                   "{% set items = ref('stg_items') %}\n"})
    result = fails_with(root, "DP107", "macros/util.sql:3", "ref() is called outside a model")
    assert "inside a macro's body" in hint_of(result, "DP107")


def test_an_unset_var_hint_names_the_var(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE, STG: SELECT + FROM + "where qty > {{ var('max_qty') }}\n"})
    result = fails_with(root, "DP105", f"{STG}:3", "var('max_qty') is not set")
    hint = hint_of(result, "DP105")
    assert "var('max_qty', ...)" in hint and "{name}" not in hint


def test_right_calls_still_work(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {**BASE, STG: (
        "{{ config(materialized='table', tags=['daily'], description='items') }}\n" + SELECT
        + "from {{ source('raw_items') }}\n"
        "where qty > {{ var('min_qty', default=0) }} and shop <> '{{ env_var('NO_SUCH_VAR_X', "
        "default='z') }}'\n{% if is_incremental() %}and 1 = 0{% endif %}\n")})
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 0, explain(result)
