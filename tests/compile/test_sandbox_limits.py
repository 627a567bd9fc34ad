"""A template's work is bounded: loops nested over huge ranges, values that double until memory
runs out, endless macros and Python's internals all stop the render with one error (DP109) at
the template's line, through the CLI, and a legitimate template keeps working."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import BASE, explain, run_cli, write_files
from test_templating_arguments import FROM, SELECT, STG, fails_with, hint_of

import dpsql.compile.sandbox

DOUBLE = "{% set ns = namespace(v=START) %}{% for i in range(64) %}{% set ns.v = ns.v OP ns.v %}" \
         "{% endfor %}{{ ns.v | length }}"

# each goes on line 3 of a model -> (code, text in the message)
RUNAWAY: dict[str, tuple[str, str, str]] = {
    "nested_ranges": (
        "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}",
        "DP109", "the template does too much work"),
    "nested_loops_writing": (
        "{% for i in range(1000) %}{% for j in range(1000) %}{{ j }}{% endfor %}{% endfor %}",
        "DP109", "the template does too much work"),
    "a_huge_range": ("{% for i in range(10**9) %}{% endfor %}", "DP109",
                     "range() of 1,000,000,000 numbers is over the limit"),
    "lipsum": ("{{ lipsum(n=2000000) }}", "DP102", "'lipsum' is undefined"),
    "repeated_text": ("{{ 'x' * 10**9 }}", "DP109", "repeats a value 1,000,000,000 times"),
    "repeated_list": ("{{ ['x'] * 10**9 }}", "DP109", "repeats a value 1,000,000,000 times"),
    "doubling_text": (DOUBLE.replace("START", "'x'").replace("OP", "~"), "DP109",
                      "the template makes a value of 1,048,576 characters or items"),
    "a_text_over_the_value_limit": ("{{ ('x' * 600000) ~ ('y' * 600000) }}", "DP109",
                                    "the template makes a value of 1,200,000 characters"),
    "doubling_list": (DOUBLE.replace("START", "[1]").replace("OP", "+"), "DP109",
                      "the template makes a value of 1,048,576 characters or items"),
    "nested_doubling": (
        "{% set ns = namespace(v=['x']) %}{% for i in range(64) %}{% set ns.v = [ns.v, ns.v] %}"
        "{% endfor %}{{ ns.v }}", "DP109", "the template makes a value of over 1,000,000"),
    "nested_doubling_joined": (
        "{% set ns = namespace(v=['x']) %}{% for i in range(64) %}{% set ns.v = [ns.v, ns.v] %}"
        "{% endfor %}{{ ns.v | join(',') }}", "DP109", "the template makes a value of over"),
    "many_references_to_a_long_text": (
        "{% set s = 'x' * 100000 %}{{ ([s] * 1000) | string }}", "DP109",
        "the template makes a value of over"),
    "a_list_grown_by_copies": (
        "{% set ns = namespace(v=[]) %}{% for i in range(100000) %}{% set ns.v = ns.v + [i] %}"
        "{% endfor %}", "DP109", "the template does too much work"),
    "squaring_a_number": (DOUBLE.replace("START", "3").replace("OP", "*").replace(
        "| length", ""), "DP109", "the template computes a number of over"),
    "a_huge_power": ("{{ 2 ** 100000000 }}", "DP109", "the template computes a number of over"),
    "a_wide_percent_format": ("{{ '%01000000000d' % 1 }}", "DP109", "formats text wider"),
    "a_wide_format_method": ("{{ '{:>1000000000}'.format(1) }}", "DP109", "formats text wider"),
    "a_wide_center_filter": ("{{ 'x' | center(10**9) }}", "DP109", "formats text wider"),
    "a_wide_format_filter": ("{{ '%*d' | format(10**9, 1) }}", "DP109", "formats text wider"),
    "replace_blowing_up": ("{% set s = 'x' * 100000 %}{{ s.replace('x', s) }}", "DP109",
                           "replace() could make text longer than the limit"),
    "join_blowing_up": ("{% set s = 'x' * 100000 %}{{ s.join(s) }}", "DP109",
                        "the template's join() would make text longer"),
    "join_of_an_iterator_blowing_up": (
        "{% set s = 'x' * 100000 %}{{ s.join(range(100) | map('string')) }}", "DP109",
        "the template's join() would make text longer"),
    "join_filter_blowing_up": (
        "{% set s = 'x' * 100000 %}{{ range(100) | map('string') | join(s) }}", "DP109",
        "the template's join() would make text longer"),
    "a_wide_format_map": ("{{ '{:>{w}}'.format_map({'w': 10**9}) }}", "DP109",
                          "formats text wider"),
    "endless_recursion": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "DP109",
                          "macros call each other too deeply"),
    "exponential_macros": ("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
                           "{% endmacro %}{{ f(40) }}", "DP109", "the template does too much work"),
    "python_internals": ("{{ ''.__class__.__mro__ }}", "DP109",
                         "the template sandbox refuses this: access to attribute '__class__'"),
    "function_globals": ("{{ ref.__globals__ }}", "DP109", "the template sandbox refuses this"),
    "cycler_globals": ("{{ cycler.__init__.__globals__ }}", "DP109",
                       "the template sandbox refuses this"),
    "big_output": ("{% for i in range(2000) %}" + "x" * 10_000 + "{% endfor %}", "DP109",
                   "the template writes over 10,000,000 characters"),
}


@pytest.mark.parametrize("case", sorted(RUNAWAY))
def test_runaway_template_stops_with_a_clear_error(tmp_path: Path, case: str) -> None:
    tag, code, text = RUNAWAY[case]
    root = write_files(tmp_path / "ws", {**BASE, STG: SELECT + FROM + f"where 1 = 1 {tag}\n"})
    fails_with(root, code, f"{STG}:3", text)


def test_a_runaway_macro_is_reported_in_its_file(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE, "macros/grid.sql": "{% macro grid() %}\n{% for i in range(100000) %}"
                                   "{% for j in range(100000) %}{% endfor %}{% endfor %}\n"
                                   "{% endmacro %}\n",
        STG: SELECT + FROM + "where 1 = 1 {{ grid() }}\n"})
    result = fails_with(root, "DP109", "macros/grid.sql:2", "the template does too much work")
    assert "loop over fewer items" in hint_of(result, "DP109")


def test_a_runaway_macro_file_top_level_is_reported_in_its_file(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE, "macros/grid.sql": "{% macro one() %}1{% endmacro %}\n"
                                   "{% for i in range(100000) %}{% for j in range(100000) %}"
                                   "{% endfor %}{% endfor %}\n"})
    fails_with(root, "DP109", "macros/grid.sql:2", "the template does too much work")


def test_render_time_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dpsql.compile.sandbox, "MAX_SECONDS", 0.0)  # every step is too late
    root = write_files(tmp_path / "ws", {**BASE, STG: SELECT + FROM})
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 1, explain(result)
    assert "stg_items.sql:1: error[DP109]: the template has been rendering for over 0 seconds" \
        in result.stderr, explain(result)
    assert "  hint: loop over fewer items" in result.stderr
    assert not (root / "wh.duckdb").exists()


def test_a_runaway_template_leaves_the_warehouse_as_it_was(tiny: Path) -> None:
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    warehouse = tiny / "wh.duckdb"
    before = warehouse.read_bytes()
    write_files(tiny, {STG: SELECT + FROM + RUNAWAY["nested_ranges"][0] + "\n"})
    result = run_cli("build", "-p", str(tiny))
    assert result.exit_code == 1 and "[DP109]" in result.stderr, explain(result)
    assert warehouse.read_bytes() == before


def test_legitimate_templates_keep_working(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE,
        "macros/cols.sql": "{% macro col(i) %}{{ i }} as c{{ i }}{% endmacro %}\n"
                           "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }} * "
                           "{{ fact(n - 1) }}{% endif %}{% endmacro %}\n",
        STG: "select item_id::bigint as item_id, shop, qty::bigint as qty, price,\n"
             "{% for i in range(400) %}{{ col(i) }}, {% endfor %}\n"
             "{% for i in range(30) %}{% for j in range(30) %}{% if i == j %}{{ i * j }} + "
             "{% endif %}{% endfor %}{% endfor %}0 as diag,\n"
             "{{ fact(20) }} as f, '{{ ('ab' * 300) | upper | length }}' as w,\n"
             "'{{ range(200) | map('string') | join(',') | length }}' as j\n" + FROM})
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    row = con.execute("select c399, diag, w, j from items_internal.stg_items limit 1").fetchone()
    assert row == (399, sum(i * i for i in range(30)), "600", "689")
