"""End-to-end builds of small workspaces: inputs of every kind, macros, selection, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from conftest import BASE, run_cli, write_files


def rows(root: Path, sql: str, warehouse: str = "wh.duckdb") -> list[tuple]:
    con = duckdb.connect(str(root / warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_table_parquet_and_json_inputs(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    con = duckdb.connect(str(root / "wh.duckdb"))
    con.execute("create schema raw; create table raw.rates as "
                "select * from (values ('a', 2), ('b', 3)) t(shop, rate)")
    con.execute(f"copy (select 'a' as shop, 10 as n union all select 'b', 20) "
                f"to '{root / 'data' / 'counts.parquet'}' (format parquet)")
    con.close()
    (root / "data" / "labels.json").write_text(
        '[{"shop": "a", "label": "Alpha"}, {"shop": "b", "label": "Beta"}]', encoding="utf-8")
    write_files(root, {
        "dpsql.yml": "name: mixed\nwarehouse: wh.duckdb\n",
        "p/product.yml": """
            name: p
            domain: d
            inputs:
              - {name: rates, table: raw.rates}
              - {name: counts, file: ../data/counts.parquet}
              - {name: labels, file: ../data/labels.json}
            outputs:
              - name: scored
        """,
        "p/models/scored.sql": """
            select l.label, c.n * r.rate as score
            from counts c
            join raw.rates r using (shop)
            join {{ input('labels') }} l using (shop)
            order by l.label
        """,
    })
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 0, result.output
    assert rows(root, "from p.scored") == [("Alpha", 20), ("Beta", 60)]
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    kinds = {i["name"]: i["kind"] for i in manifest["products"]["p"]["inputs"]}
    assert kinds == {"rates": "table", "counts": "file", "labels": "file"}
    assert manifest["models"]["p.scored"]["depends_on"]["inputs"] == ["counts", "rates", "labels"]


def test_table_input_typed_from_declared_columns_before_it_exists(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        "dpsql.yml": "name: t\nwarehouse: wh.duckdb\n",
        "p/product.yml": """
            name: p
            inputs:
              - name: events
                table: raw.events
                columns: [{name: id, type: bigint}, {name: kind, type: varchar}]
            outputs: [{name: kinds}]
        """,
        "p/models/kinds.sql": "select kind, count(*) as n from raw.events group by kind\n",
    })
    result = run_cli("compile", "-p", str(root))
    assert result.exit_code == 0, result.output
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["models"]["p.kinds"]["columns"] == [
        {"name": "kind", "type": "VARCHAR"}, {"name": "n", "type": "BIGINT"}]


def test_compile_writes_sql_and_manifest(tiny: Path) -> None:
    result = run_cli("compile", "-p", str(tiny))
    assert result.exit_code == 0, result.output
    compiled = (tiny / "target" / "compiled" / "shops" / "shop_totals.sql").read_text()
    assert 'FROM "items"."items"' in compiled
    manifest = json.loads((tiny / "target" / "manifest.json").read_text())
    items = manifest["products"]["items"]
    assert (items["domain"], items["owner"], items["version"]) == (
        "supply", "supply@example.com", "1.0.0")
    assert items["outputs"][0]["relation"] == "items.items"
    assert list(manifest["models"]) == ["items.stg_items", "items.fct_items", "shops.shop_totals"]
    totals = manifest["models"]["shops.shop_totals"]
    assert totals["depends_on"] == {"models": ["items.fct_items"], "inputs": ["items"]}
    assert totals["columns"] == [{"name": "shop", "type": "VARCHAR"},
                                 {"name": "total", "type": "DECIMAL(18,2)"}]
    assert totals["materialized"] == "table" and totals["relation"] == "shops.shop_totals"
    assert totals["lineage"]["columns"] == {"shop": {"items.items.shop": ["IDENTITY"]},
                                            "total": {"items.items.value": ["AGGREGATION"]}}
    assert totals["lineage"]["rows"] == {"items.items.shop": ["GROUP_BY"]}
    assert manifest["models"]["items.stg_items"]["relation"] == "items_internal.stg_items"
    assert not (tiny / "wh.duckdb").exists()


def test_port_values_match_the_csv(tiny: Path) -> None:
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    # items.csv: qty 0 is filtered out by var('min_qty') = 0; value = qty * price
    assert rows(tiny, "select item_id, shop, qty, value::varchar from items.items order by 1") == [
        (1, "a", 2, "3.00"), (2, "a", 1, "3.00"), (3, "b", 5, "1.00")]
    assert rows(tiny, "select shop, total::varchar from shops.shop_totals order by 1") == [
        ("a", "6.00"), ("b", "1.00")]
    schemas = rows(tiny, "select table_schema, table_name, table_type from information_schema.tables "
                         "order by 1, 2")
    assert schemas == [
        ("_dpsql", "fingerprints", "BASE TABLE"),
        ("items", "items", "BASE TABLE"),
        ("items_internal", "raw_items", "VIEW"),
        ("items_internal", "stg_items", "VIEW"),
        ("shops", "shop_totals", "BASE TABLE"),
    ]


def test_select_and_exclude_build_only_what_is_asked(tiny: Path) -> None:
    result = run_cli("build", "-p", str(tiny), "--select", "items", "--exclude", "items.fct_items")
    assert result.exit_code == 0, result.output
    assert "items.stg_items" in result.output and "fct_items" not in result.output
    assert rows(tiny, "select count(*) from information_schema.tables "
                      "where table_schema = 'shops'") == [(0,)]


def test_rebuild_switches_view_to_table(tiny: Path) -> None:
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    model = tiny / "inventory" / "items" / "models" / "stg_items.sql"
    model.write_text("{{ config(materialized='table') }}\n" + model.read_text())
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    assert rows(tiny, "select table_type from information_schema.tables "
                      "where table_name = 'stg_items'") == [("BASE TABLE",)]


def test_macros_env_vars_and_this(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DPSQL_TEST_FACTOR", "7")
    root = write_files(tmp_path / "ws", {
        **BASE,
        "macros/util.sql": """
            {% macro double(x) %}({{ x }} * 2){% endmacro %}
            {% macro label() %}'workspace'{% endmacro %}
        """,
        "reports/shops/macros/local.sql": "{% macro label() %}'product'{% endmacro %}\n",
        "reports/shops/models/facts.sql": """
            select {{ double('3') }} as six, {{ label() }} as who,
                   {{ env_var('DPSQL_TEST_FACTOR') }} as factor,
                   '{{ env_var('DPSQL_NOT_SET', 'fallback') }}' as fallback,
                   '{{ this }}' as me
        """,
    })
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 0, result.output
    assert rows(root, "from shops_internal.facts") == [
        (6, "product", 7, "fallback", '"shops_internal"."facts"')]


def test_error_inside_a_macro_names_the_macro_file(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE,
        "macros/broken.sql": "{% macro oops() %}\n{{ ref('nowhere') }}\n{% endmacro %}\n",
        "reports/shops/models/uses.sql": "select 1 as x\n{{ oops() }}\n",
    })
    result = run_cli("compile", "-p", str(root))
    assert result.exit_code == 1
    assert "reports/shops/models/uses.sql:2" in result.stderr
    assert "[DP103]" in result.stderr

    write_files(root, {"macros/broken.sql": "{% macro oops() %}\n{% if %}\n{% endmacro %}\n"})
    result = run_cli("compile", "-p", str(root))
    assert result.exit_code == 1
    assert "macros/broken.sql:2" in result.stderr and "[DP101]" in result.stderr


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path / "w")).exit_code == 0
    result = run_cli("init", str(tmp_path / "w"))
    assert result.exit_code == 1 and "already holds a workspace" in result.stderr


def test_ls_lists_products(tiny: Path) -> None:
    result = run_cli("ls", "-p", str(tiny), "--columns")
    assert result.exit_code == 0
    for text in ("supply", "reporting", "items.items", "shops.shop_totals", "1.0.0",
                 "total decimal(18,2)"):
        assert text in result.output
