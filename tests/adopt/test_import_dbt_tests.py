"""`dpsql import dbt`: what happens to the dbt tests dpsql cannot run as written: each is
named in IMPORT.md's notes (a test that does not compile is taken out of product.yml), and
what can run still does: test configs from dbt_project.yml's folders, a model-level test on a
column, and one on an expression (a singular test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import yaml

from tests.conftest import explain, run_cli, write_files

ITEMS = "id,kind,price\n1,k1,1\n2,k1,2\n3,k2,5\n4,k2,7\n"
KINDS = "kind,label\nk1,One\nk2,Two\n"

FILES = {
    "dbt_project.yml": """
        name: notes
        profile: notes
        data_tests:
          notes:
            b:
              +severity: warn
    """,
    "seeds/raw_items.csv": ITEMS,
    "seeds/kinds.csv": KINDS,
    "seeds/unused.csv": "id\n1\n1\n",
    "seeds/seeds.yml": """
        version: 2
        seeds:
          - name: unused
            columns: [{name: id, data_tests: [unique]}]
    """,
    "macros/broken.sql": """
        {% test broken(model) %}select * from {{ model }} where {{ no_such_macro() }}{% endtest %}
    """,
    "models/a/items.sql": "select * from {{ ref('raw_items') }}\n",
    "models/a/schema.yml": """
        version: 2
        models:
          - name: items
            data_tests:
              - unique: {column_name: "id || '-' || kind"}
              - not_null: {column_name: price}
            columns:
              - name: kind
                data_tests: [{relationships: {to: "ref('kinds')", field: kind}}]
    """,
    "models/b/item_report.sql": """
        select i.id, i.kind, i.price, k.label
        from {{ ref('items') }} as i join {{ ref('kinds') }} as k on k.kind = i.kind
    """,
    "models/b/schema.yml": """
        version: 2
        models:
          - name: item_report
            data_tests: [broken]
            columns:
              - name: price
                data_tests:
                  - accepted_values: {values: [1, 2]}
                  - dbt_utils.accepted_range: {min_value: 0}
              - name: label
                data_tests:
                  - not_null: {config: {error_if: ">10"}}
                  - accepted_values:
                      values: [One]
                      config: {where: "id > {{ var('min_id') }}"}
    """,
}


def _imported(tmp: Path) -> tuple[Path, str]:
    src = write_files(tmp / "dbt", FILES)
    dest = tmp / "ws"
    result = run_cli("import", "dbt", str(src), str(dest), "--split", "folders")
    assert result.exit_code == 0, explain(result)
    return dest, result.output


def test_what_cannot_run_is_named_in_the_notes(tmp_path: Path) -> None:
    dest, output = _imported(tmp_path)
    notes = output.split("## Notes", 1)[1]
    for expected in (
            "1 test on seed `unused` is not carried over: no model reads it",
            "relationships test on `items.kind` is not carried over: `ref('kinds')` is not "
            "something product `a` can read",
            "test `dbt_utils.accepted_range` on `item_report.price` is not carried over: no "
            "`{% test accepted_range %}` block",
            "test `accepted_values` on `item_report.label` is not carried over: its `where` is "
            "a Jinja template",
            "config `error_if` of test `not_null` on `item_report.label` is not carried over",
            # a test whose block does not render in dpsql is taken out, so the rest builds
            "1 test did not compile in dpsql and is left out of product.yml: `broken` on "
            "`item_report` (b). The errors: macros/broken.sql:1: DP102"):
        assert expected in notes, notes
    assert "Problems" not in output  # nothing left that does not compile
    assert (dest / "IMPORT.md").read_text() == output


def _products(dest: Path) -> dict[str, dict[str, Any]]:
    return {p.parent.name: yaml.safe_load(p.read_text()) for p in dest.glob("*/product.yml")}


def test_what_can_run_runs_with_the_status_the_data_gives(tmp_path: Path) -> None:
    dest, _ = _imported(tmp_path)
    # a model-level test on a column is a column test; one on an expression a singular test
    items = next(m for m in _products(dest)["a"]["models"] if m["name"] == "items")
    assert items["columns"] == [{"name": "price", "tests": ["not_null"]}]
    assert [p.name for p in (dest / "a" / "tests").iterdir()] == ["items__unique_1.sql"]
    result = run_cli("build", "-p", str(dest))
    assert result.exit_code == 0, explain(result)
    built = json.loads((dest / "target" / "run_results.json").read_text())
    got = {t["name"].split("(")[0] + "/" + t["name"].split(".")[-1].rstrip(")"):
           (t["status"], t["failures"]) for r in built["results"] for t in r.get("tests", [])}
    con = duckdb.connect()
    con.execute(f"create table items as select * from read_csv('{tmp_path}/dbt/seeds/"
                "raw_items.csv')")
    con.execute(f"create table kinds as select * from read_csv('{tmp_path}/dbt/seeds/kinds.csv')")

    def failures(sql: str) -> int:
        found = con.execute(f"select count(*) from ({sql})").fetchone()
        return int(found[0]) if found else 0

    duplicated = failures("select id || '-' || kind from items group by 1 having count(*) > 1")
    bad_prices = failures("select price from items where price not in (1, 2) group by price")
    no_label = failures("select * from items i left join kinds k using (kind) "
                        "where k.label is null")
    assert bad_prices > 0 and duplicated == 0
    assert got == {
        "a.items__unique_1/items__unique_1": ("pass", duplicated),
        "not_null/price": ("pass", failures("select * from items where price is null")),
        # dbt_project.yml makes the tests of folder b warn: reported, the build still passes
        "accepted_values/price": ("warn", bad_prices),
        "not_null/label": ("warn" if no_label else "pass", no_label),
    }
