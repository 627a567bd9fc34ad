"""Names that would collide in the warehouse are refused at load time: product, model, port and
input names compared ignoring case (as DuckDB compares them), and product names that are a
schema or catalog DuckDB or dpsql uses. Each is one error naming both sides, with a hint, and
the warehouse stays as it was."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from conftest import BASE, explain, run_cli, write_files

from dpsql.build import state
from dpsql.build.engines.duckdb import STAGING_PREFIX
from dpsql.compile.ephemeral import EPHEMERAL_PREFIX
from dpsql.load.names import RESERVED_PREFIX, STATE_SCHEMA, catalog_name

ITEMS_YML = "inventory/items/product.yml"
SHOPS_YML = "reports/shops/product.yml"
ITEMS = BASE[ITEMS_YML]
SHOPS = BASE[SHOPS_YML]

# a second product whose port `items` would be the relation `items.items` of product `items`
OTHER_ITEMS = {
    "other/product.yml": "name: Items\ndomain: other\noutputs:\n  - name: items\n",
    "other/models/items.sql": "select 99 as item_id\n",
}


def _snapshot(warehouse: Path) -> tuple[int, bytes]:
    return warehouse.stat().st_mtime_ns, warehouse.read_bytes()


def _single_error(result_stderr: str) -> str:
    errors = [line for line in result_stderr.splitlines() if "error[" in line]
    assert len(errors) == 1, result_stderr
    return errors[0]


def test_products_differing_only_in_case_are_refused(tiny: Path) -> None:
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    before = _snapshot(tiny / "wh.duckdb")
    write_files(tiny, OTHER_ITEMS)
    result = run_cli("build", "-p", str(tiny))
    assert result.exit_code == 1, explain(result)
    line = _single_error(result.stderr)
    assert "other/product.yml:1:1: error[DP004]" in line
    assert f"product `Items` is defined twice (also as `items` in {tiny / ITEMS_YML})" in line
    assert "names are compared ignoring case" in result.stderr
    assert _snapshot(tiny / "wh.duckdb") == before, "the port of `items` must not be replaced"
    con = duckdb.connect(str(tiny / "wh.duckdb"), read_only=True)
    assert con.execute("select count(*) from items.items where item_id = 99").fetchone() == (0,)


@pytest.mark.parametrize(("files", "where", "message"), [
    ({"inventory/items/models/Stg_Items.sql": "select 1 as x\n"},
     "models/stg_items.sql:1", "model `stg_items` of product `items` is defined twice (also as "
     "`Stg_Items` in {root}/inventory/items/models/Stg_Items.sql)"),
    ({"inventory/items/models/sub/FCT_ITEMS.sql": "select 1 as x\n"},
     "models/sub/FCT_ITEMS.sql:1", "model `FCT_ITEMS` of product `items` is defined twice (also "
     "as `fct_items` in {root}/inventory/items/models/fct_items.sql)"),
    ({"inventory/items/models/Raw_Items.sql": "select 1 as x\n"},
     "models/Raw_Items.sql:1", "model `Raw_Items` has the name of input `raw_items` of product "
     "`items` ({root}/inventory/items/product.yml)"),
    ({ITEMS_YML: ITEMS + "  - {name: ITEMS, model: stg_items}\n"},
     f"{ITEMS_YML}:16", "output port `ITEMS` is declared twice (also as `items`, line 9)"),
    ({ITEMS_YML: ITEMS.replace("outputs:", "  - {name: RAW_items, table: raw.items}\noutputs:")},
     f"{ITEMS_YML}:8", "input `RAW_items` is declared twice (also as `raw_items`, line 6)"),
    ({ITEMS_YML: ITEMS.replace("{name: shop, type: varchar}", "{name: Item_ID, type: varchar}")},
     f"{ITEMS_YML}:13", "column `Item_ID` is declared twice (also as `item_id`, line 12)"),
], ids=["model_case", "model_in_subfolder", "model_and_input", "port", "input", "column"])
def test_names_in_a_product_differing_only_in_case_are_refused(
        tmp_path: Path, files: dict[str, str], where: str, message: str) -> None:
    root = write_files(tmp_path / "ws", {**BASE, **files})
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 1, explain(result)
    line = _single_error(result.stderr)
    assert f"{where}: error[DP005]" in line, result.stderr
    assert message.format(root=root) in line, result.stderr
    assert "hint:" in result.stderr and "ignoring case" in result.stderr
    assert not (root / "wh.duckdb").exists()


RESERVED = {
    "_dpsql": "is the schema where dpsql keeps its build state",
    "main": "is a schema DuckDB keeps in every database",
    "Information_Schema": "is a schema DuckDB keeps in every database",
    "pg_catalog": "is a schema DuckDB keeps in every database",
    "temp": "is a database DuckDB attaches to every connection",
    "SYSTEM": "is a database DuckDB attaches to every connection",
    "items_internal": "reserved for the schema of a product's internal models (`items_internal` "
                      "is that of product `items`)",
    "other_internal": "names ending in `_internal` are reserved",
    "wh": "is the name DuckDB gives the warehouse file, so `wh.<relation>` would be ambiguous",
    "__dpsql_x": "names starting with `__dpsql` are reserved",
}


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_reserved_product_names_are_refused(tiny: Path, name: str) -> None:
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    before = _snapshot(tiny / "wh.duckdb")
    write_files(tiny, {SHOPS_YML: SHOPS.replace("name: shops", f"name: {name}")})
    result = run_cli("build", "-p", str(tiny))
    assert result.exit_code == 1, explain(result)
    line = _single_error(result.stderr)
    assert f"{SHOPS_YML}:1: error[DP003]: " in line and f"`{name}` cannot be used" in line
    assert RESERVED[name] in line
    assert "hint: choose another" in result.stderr
    assert _snapshot(tiny / "wh.duckdb") == before
    check = run_cli("check", "-p", str(tiny), "--format", "json")
    assert check.exit_code == 1
    [diagnostic] = json.loads(check.stdout)["diagnostics"]
    assert diagnostic["hint"] and diagnostic["line"] == 1


def test_a_reserved_name_from_the_folder_says_where_it_comes_from(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE,
        "dpsql.yml": "name: tiny\nwarehouse: data/Warehouse.v2.duckdb\n",
        "reports/warehouse/product.yml": "domain: reporting\n",
        "reports/warehouse/models/standalone.sql": "select 1 as x\n",
    })
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 1
    line = _single_error(result.stderr)
    assert "reports/warehouse/product.yml:1: error[DP003]: product name `warehouse`" in line
    assert "the name comes from the folder `warehouse`: add another `name:`" in result.stderr


def test_model_with_dpsqls_staging_prefix_is_refused(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", {
        **BASE, f"inventory/items/models/{STAGING_PREFIX}stg_items.sql": "select 1 as x\n"})
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 1
    line = _single_error(result.stderr)
    assert f"error[DP005]: model `{STAGING_PREFIX}stg_items` cannot be used" in line
    assert "hint: rename the file" in result.stderr


@pytest.mark.parametrize("file", ["wh.duckdb", "x.y.duckdb", "noext", "Ware House.db",
                                  ".hidden.duckdb"])
def test_catalog_name_is_the_one_duckdb_gives(tmp_path: Path, file: str) -> None:
    con = duckdb.connect(str(tmp_path / file))
    try:
        assert con.execute("select current_database()").fetchone() == (catalog_name(tmp_path / file),)
    finally:
        con.close()
    assert catalog_name(Path(":memory:")) == duckdb.connect(":memory:").execute(
        "select current_database()").fetchone()[0]  # type: ignore[index]


def test_reserved_names_follow_the_names_dpsql_uses() -> None:
    assert state.SCHEMA == STATE_SCHEMA
    assert STAGING_PREFIX.startswith(RESERVED_PREFIX)
    assert EPHEMERAL_PREFIX.startswith(RESERVED_PREFIX)
