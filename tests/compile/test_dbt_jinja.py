"""Templates written for dbt render in dpsql: source('src', 'table'), versioned refs, `{% do %}`,
return(), log(), exceptions, target, invocation_id, run_started_at, adapter.dispatch,
modules.datetime, namespaced package macros, and dbt config() options that warn."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from buildkit import query
from compile.test_templating_arguments import fails_with
from conftest import explain, run_cli, write_files

WS: dict[str, str] = {
    "dpsql.yml": "name: dbtish\nwarehouse: warehouse.duckdb\n",
    "data/items.csv": "item_id,qty,price\n1,2,1.50\n2,1,3.00\n3,5,0.25\n",
    "packages/kit/macros/keys.sql": """
        {% macro surrogate(cols) %}md5(concat_ws('-', {{ cols | join(', ') }})){% endmacro %}
        {% macro cents(col) %}{{ return(adapter.dispatch('cents', 'kit')(col)) }}{% endmacro %}
        {% macro default__cents(col) %}({{ col }} * 100)::bigint{% endmacro %}
    """,
    "macros/lists.sql": """
        {% macro measures() %}
          {% set names = [] %}
          {% for n in ['qty', 'price'] %}{% do names.append(n) %}{% endfor %}
          {% do log('measures: ' ~ names, info=true) %}
          {{ return(names) }}
        {% endmacro %}
        {% macro duckdb__label() %}'duck'{% endmacro %}
        {% macro default__label() %}'default'{% endmacro %}
    """,
    "shop/product.yml": """
        name: shop
        domain: sales
        owner: s@example.com
        version: 1.0.0
        inputs:
          - {name: items, file: ../data/items.csv}
        outputs:
          - {name: report}
    """,
    "shop/models/stg_v1.sql": "select item_id, qty from {{ source('raw', 'items') }}\n",
    "shop/models/stg_v2.sql": """
        {{ config(materialized='view', alias='stg', post_hook='select 1', schema='x') }}
        select item_id, {{ measures() | join(', ') }},
               {{ kit.cents('price') }} as price_cents,
               {{ kit.surrogate(['item_id', 'qty']) }} as item_key
        from {{ source('raw', 'items') }}
    """,
    "shop/models/report.sql": """
        select v2.item_id, v2.qty, v2.price_cents, v2.item_key,
               (select count(*) from {{ ref('stg', v=1) }}) as v1_rows,
               (select count(*) from {{ ref('stg', version=2) }}) as v2_rows,
               '{{ target.name }}/{{ target.schema }}/{{ target.type }}' as target,
               {{ invocation_id | length }} as id_length,
               {{ run_started_at.year }} as started_year,
               '{{ modules.datetime.date(2024, 2, 29) + modules.datetime.timedelta(days=1) }}'
                   as next_day,
               {{ adapter.dispatch('label')() }} as label
        from {{ ref('stg') }} as v2
        order by v2.item_id
    """,
}


def test_dbt_jinja_renders_and_builds(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", WS)
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    # unused dbt options warn, naming each, and do not stop the build
    for key in ("alias", "post_hook", "schema"):
        assert f"config() option `{key}` is not used by dpsql" in result.output, result.output
    assert "warning[DP116]" in result.output
    got = query(root, "select * from shop.report order by item_id")
    oracle = duckdb.connect()
    expected = oracle.execute(
        "select item_id, qty, (price * 100)::bigint, md5(concat_ws('-', item_id, qty)), 3, 3, "
        "'dev/main/duckdb', 36, ?, '2024-03-01', 'duck' "
        f"from read_csv('{root / 'data/items.csv'}') order by item_id",
        [dt.datetime.now(dt.UTC).year]).fetchall()
    assert got == expected


def test_ref_without_a_version_reads_the_latest(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", WS)
    assert run_cli("build", "-p", str(root)).exit_code == 0
    # stg_v2 has price_cents; ref('stg') read it, so the report has the column
    columns = [r[0] for r in query(root, "describe shop.report")]
    assert "price_cents" in columns


def test_raise_compiler_error_stops_with_the_message(tmp_path: Path) -> None:
    files = {**WS, "shop/models/stg_v1.sql": (
        "select 1 as item_id\n"
        "{% if target.type == 'duckdb' %}\n"
        "{{ exceptions.raise_compiler_error('qty must be positive') }}\n"
        "{% endif %}\n")}
    root = write_files(tmp_path / "ws", files)
    fails_with(root, "DP115", "shop/models/stg_v1.sql:3", "qty must be positive")


def test_modules_datetime_hands_out_no_module_internals(tmp_path: Path) -> None:
    files = {**WS, "shop/models/stg_v1.sql": (
        "select 1 as item_id, '{{ modules.datetime.sys }}' as x\n")}
    root = write_files(tmp_path / "ws", files)
    result = run_cli("compile", "-p", str(root))
    assert result.exit_code == 1
    assert "error[DP102]" in result.output and "sys" in result.output, result.output


def test_a_dispatch_with_no_implementation_names_both(tmp_path: Path) -> None:
    files = {**WS, "shop/models/stg_v1.sql": (
        "select {{ adapter.dispatch('nothing', 'kit')() }} as item_id\n")}
    root = write_files(tmp_path / "ws", files)
    result = fails_with(root, "DP103", "shop/models/stg_v1.sql:1",
                        "finds neither `duckdb__nothing` nor `default__nothing`", "compile")
    assert "Traceback" not in result.output


def test_an_unknown_package_macro_is_named(tmp_path: Path) -> None:
    files = {**WS, "shop/models/stg_v1.sql": "select {{ kit.nope() }} as item_id\n"}
    root = write_files(tmp_path / "ws", files)
    fails_with(root, "DP103", "shop/models/stg_v1.sql:1", "package `kit` has no macro `nope`",
               "compile")


def test_the_dbt_objects_keep_their_internals_out_of_reach(tmp_path: Path) -> None:
    for reach in ("adapter._lookup", "kit.__dict__", "exceptions.raise_compiler_error.__globals__",
                  "target.__class__"):
        files = {**WS, "shop/models/stg_v1.sql": f"select '{{{{ {reach} }}}}' as item_id\n"}
        root = write_files(tmp_path / reach.replace(".", "_"), files)
        result = run_cli("compile", "-p", str(root))
        assert result.exit_code == 1, reach
        assert "error[DP109]" in result.output or "error[DP102]" in result.output, result.output
        assert "Traceback" not in result.output


def test_source_finds_the_table_then_the_prefixed_then_the_plain_name(tmp_path: Path) -> None:
    files = {**WS,
             "data/other.csv": "item_id,qty,price\n9,9,9.0\n",
             "shop/product.yml": WS["shop/product.yml"].replace(
                 "- {name: items, file: ../data/items.csv}",
                 "- {name: items, file: ../data/other.csv}\n"
                 "          - {name: raw__items, file: ../data/items.csv}"),
             "shop/models/stg_v1.sql": "select item_id, qty from {{ source('raw', 'items') }}\n"
                                       "union all select item_id, qty from {{ source('x', 'items') }}\n"}
    root = write_files(tmp_path / "ws", files)
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    rows = query(root, "select item_id from shop_internal.stg_v1 order by item_id")
    assert rows == [(1,), (2,), (3,), (9,)]  # raw__items for ('raw', ...), items for ('x', ...)
