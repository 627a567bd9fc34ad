"""Views, tables and ephemeral models: what lands in the warehouse and what the SQL carries."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import sqlglot
from buildkit import build, explain, invoke, query, relations
from conftest import write_files
from sqlglot import exp

FILES = {
    "dpsql.yml": "name: ws\nwarehouse: warehouse.duckdb\n",
    "data/sales.csv": "id,store,cents\n1,north,1250\n2,south,899\n3,north,4500\n4,east,-20\n",
    "sales/product.yml": """
        name: sales
        inputs:
          - {name: raw, file: ../data/sales.csv}
        outputs:
          - name: by_store
            model: by_store
            columns:
              - {name: store, type: varchar, tests: [unique]}
              - {name: dollars, type: 'decimal(18,2)'}
        """,
    # an ephemeral that reads another ephemeral; both inlined in their consumers
    "sales/models/cleaned.sql": """
        {{ config(materialized='ephemeral') }}
        with typed as (select id::bigint as id, store, cents from {{ input('raw') }})
        select * from typed where cents > 0
        """,
    "sales/models/in_dollars.sql": """
        {{ config(materialized='ephemeral') }}
        select id, store, (cents / 100.0)::decimal(18,2) as dollars from {{ ref('cleaned') }}
        """,
    "sales/models/by_store.sql": """
        with totals as (
            select store, sum(dollars)::decimal(18,2) as dollars from {{ ref('in_dollars') }} c
            group by store
        )
        select store, dollars from totals
        where store in (select store from cleaned)
        """,
    "sales/models/as_view.sql": "select * from {{ ref('in_dollars') }}\n",
    "sales/tests/positive.sql": "select * from {{ ref('in_dollars') }} where dollars <= 0\n",
}


def test_ephemeral_models_are_inlined_and_have_no_relation(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", FILES)
    result = build(root)
    assert "cleaned" not in result.output and "in_dollars" not in result.output
    found = relations(root)
    assert found["sales.by_store"] == "table"
    assert found["sales_internal.as_view"] == "view"
    assert not {"sales_internal.cleaned", "sales_internal.in_dollars"} & set(found)
    assert query(root, "select * from sales.by_store order by store") == [
        ("north", Decimal("57.50")), ("south", Decimal("8.99"))]
    assert query(root, "select count(*) from sales_internal.as_view") == [(3,)]

    compiled = (root / "target" / "compiled" / "sales" / "by_store.sql").read_text()
    tree = sqlglot.parse_one(compiled, dialect="duckdb")
    ctes = [c.alias for c in tree.args["with_"].expressions]
    # each ephemeral once, upstream first, before the model's own CTE
    assert ctes == ["__dpsql_ephemeral_cleaned", "__dpsql_ephemeral_in_dollars", "totals"]
    tables = {t.name for t in tree.find_all(exp.Table)}
    assert "cleaned" not in tables and "in_dollars" not in tables
    # the ephemeral's own CTE stays nested inside it
    cleaned = tree.args["with_"].expressions[0].this
    assert [c.alias for c in cleaned.args["with_"].expressions] == ["typed"]


def test_a_model_reading_ephemeral_models_is_typed_again_alone(tmp_path: Path) -> None:
    """Edited alone, the consumer is typed against what its ephemeral models read (they are
    inlined in its SQL), not only against what it names: the others come from the cache."""
    root = write_files(tmp_path / "ws", FILES)
    build(root)
    path = root / "sales/models/as_view.sql"
    path.write_text("select store, dollars * 2 as doubled from {{ ref('in_dollars') }}\n")
    build(root)
    assert query(root, "select sum(doubled) from sales_internal.as_view") == [
        (Decimal("132.98"),)]  # (12.50 + 8.99 + 45.00) * 2


def test_singular_tests_read_ephemeral_models(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", FILES)
    build(root)
    result = invoke("test", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    assert "sales.positive" in result.output


def test_a_port_cannot_be_ephemeral(tmp_path: Path) -> None:
    files = dict(FILES)
    files["sales/models/by_store.sql"] = "{{ config(materialized='ephemeral') }}\n" + \
        files["sales/models/by_store.sql"]
    root = write_files(tmp_path / "ws", files)
    result = invoke("check", "-p", str(root))
    assert result.exit_code == 1
    assert "DP404" in result.output and "by_store.sql:1" in result.output, result.output


def test_unique_key_checks(tmp_path: Path) -> None:
    files = dict(FILES)
    files["sales/models/as_view.sql"] = "{{ config(unique_key='id') }}\n" + \
        files["sales/models/as_view.sql"]
    files["sales/models/incr.sql"] = (
        "{{ config(materialized='incremental', unique_key=['id', 'nope']) }}\n"
        "select id from {{ ref('cleaned') }}\n")
    root = write_files(tmp_path / "ws", files)
    result = invoke("check", "-p", str(root))
    assert result.exit_code == 1
    assert "warning[DP405]" in result.output and "as_view.sql:1" in result.output, result.output
    assert "error[DP406]" in result.output and "`nope`" in result.output


def test_a_model_can_change_from_view_to_table_and_back(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", FILES)
    build(root)
    model = root / "sales" / "models" / "as_view.sql"
    model.write_text("{{ config(materialized='table') }}\n" + model.read_text())
    build(root)
    assert relations(root)["sales_internal.as_view"] == "table"
    model.write_text(model.read_text().replace("'table'", "'view'"))
    build(root)
    assert relations(root)["sales_internal.as_view"] == "view"
    assert query(root, "select count(*) from sales_internal.as_view") == [(3,)]
