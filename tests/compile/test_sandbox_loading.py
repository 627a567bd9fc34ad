"""A template loads only the macro files of its workspace and product: every other file, named
by an absolute path, a relative one, or a path climbing out of macros/, is refused with DP108 at
the template's line, and its contents reach neither the compiled SQL nor the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import BASE, explain, run_cli, write_files
from test_templating_arguments import FROM, SELECT, STG, fails_with, hint_of

SECRET = "TOPSECRET-42"


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The base workspace in tmp/ws, a secret next to it, and the product folder as the current
    directory: a name relative to the current directory reaches the secret with ../../../
    (and paths are printed from there: models/stg_items.sql)"""
    (tmp_path / "secret.txt").write_text(f"{SECRET}\n", encoding="utf-8")
    (tmp_path / "secret.sql").write_text(f"{{% macro y() %}}{SECRET}{{% endmacro %}}\n",
                                         encoding="utf-8")
    root = write_files(tmp_path / "ws", {
        **BASE, "macros/util.sql": "{% macro twice(x) %}{{ x }} * 2{% endmacro %}\n"})
    monkeypatch.chdir(root / "inventory" / "items")
    return root


def _leaked(root: Path) -> bool:
    return any(SECRET in p.read_text(errors="replace")
               for p in root.rglob("*") if p.is_file() and p.suffix != ".duckdb")


def _template(tmp_path: Path, tag: str) -> str:
    return tag.replace("SECRET_DIR", str(tmp_path))


ESCAPES: dict[str, str] = {
    "include_absolute": "{% include 'SECRET_DIR/secret.txt' %}",
    "include_system_file": "{% include '/etc/hostname' %}",
    "include_ignore_missing": "{% include '/etc/hostname' ignore missing %}",
    "include_relative_to_cwd": "{% include '../../../secret.txt' %}",
    "include_climbing_out_of_macros": "{% include 'macros/../../secret.txt' %}",
    "include_one_of_a_list": "{% include ['nope.sql', '/etc/hostname'] %}",
    "import_absolute": "{% import 'SECRET_DIR/secret.sql' as x %}{{ x.y() }}",
    "import_passwd": "{% import '/etc/passwd' as x %}",
    "from_relative": "{% from '../../../secret.sql' import y %}{{ y() }}",
    "extends": "{% extends 'SECRET_DIR/secret.txt' %}",
    "include_a_model_not_a_macro": "{% include 'inventory/items/models/fct_items.sql' %}",
    "include_product_yml": "{% include 'product.yml' %}",
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_a_template_cannot_read_other_files(ws: Path, case: str) -> None:
    tag = _template(ws.parent, ESCAPES[case])
    write_files(ws, {STG: SELECT + FROM + f"where 1 = 1 {tag}\n"})
    result = fails_with(ws, "DP108", "models/stg_items.sql:3", "a template may load only macro files")
    assert "macros/util.sql" in hint_of(result, "DP108")
    assert SECRET not in result.output
    assert not _leaked(ws)


def test_a_macro_file_cannot_read_other_files_either(ws: Path) -> None:
    write_files(ws, {"inventory/items/macros/local.sql":
                     "{% macro m() %}\n1\n{% include '/etc/hostname' %}\n{% endmacro %}\n",
                     STG: SELECT + FROM + "where {{ m() }} = 1\n"})
    fails_with(ws, "DP108", "macros/local.sql:3", "may load only macro files")


def test_a_refused_include_leaves_the_warehouse_as_it_was(ws: Path) -> None:
    assert run_cli("build", "-p", str(ws)).exit_code == 0
    warehouse = ws / "wh.duckdb"
    before = warehouse.read_bytes()
    write_files(ws, {STG: SELECT + FROM + "where '{% include '../../../secret.txt' %}' <> ''\n"})
    result = run_cli("build", "-p", str(ws))
    assert result.exit_code == 1 and "[DP108]" in result.stderr, explain(result)
    assert warehouse.read_bytes() == before
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from items.items").fetchone() == (3,)


def test_macro_files_load_by_their_names(ws: Path) -> None:
    write_files(ws, {
        "inventory/items/macros/local.sql": "{% macro thrice(x) %}{{ x }} * 3{% endmacro %}\n",
        STG: "{% import 'macros/util.sql' as u %}"  # from the workspace root
             "{% from 'macros/local.sql' import thrice %}"  # from the product folder
             "{% import 'inventory/items/macros/local.sql' as l %}\n"  # product, from the root
             "select item_id::bigint as item_id, shop, qty::bigint as qty, price,\n"
             "  {{ u.twice(1) }} + {{ thrice(1) }} + {{ l.thrice(1) }} + {{ twice(1) }} as n\n"
             + FROM})
    result = run_cli("build", "-p", str(ws))
    assert result.exit_code == 0, explain(result)
    con = duckdb.connect(str(ws / "wh.duckdb"), read_only=True)
    assert con.execute("select distinct n from items_internal.stg_items").fetchall() == [(10,)]


def test_a_macro_file_that_is_not_utf8_is_a_clean_error(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ws", BASE)
    (root / "macros").mkdir()
    (root / "macros" / "latin1.sql").write_bytes(b"{% macro a() %}\n'caf\xe9'{% endmacro %}\n")
    result = fails_with(root, "DP102", "macros/latin1.sql:2", "not UTF-8 text: byte 0xe9")
    assert hint_of(result, "DP102") == "save the file as UTF-8"
