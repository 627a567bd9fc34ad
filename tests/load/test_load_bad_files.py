"""Bad workspace files: each is one DP001/DP003 error at its file:line with a hint, exit 1,
no traceback, and nothing created in the warehouse. Covers bytes that are not text, YAML that
parses into the wrong shape or type, YAML features that would hang or recurse, duplicate keys,
versions YAML reads as numbers, and a type split at its comma in flow style."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import BASE, explain, run_cli, write_files

ITEMS_YML = "inventory/items/product.yml"
SHOPS_YML = "reports/shops/product.yml"
STG = "inventory/items/models/stg_items.sql"
ITEMS = BASE[ITEMS_YML]
SHOPS = BASE[SHOPS_YML]


def _bomb(levels: int) -> str:
    """A "billion laughs": each alias level repeats the one before nine times."""
    lines = ["name: items", "description: x", f"l0: &l0 [{', '.join(['ha'] * 9)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# name -> (files to change, code, "path:line[:col]" in the error line, text in the message)
CASES: dict[str, tuple[dict[str, str | bytes], str, str, str]] = {
    # bytes that are not UTF-8 text, and NUL bytes
    "product_yml_not_utf8": (
        {ITEMS_YML: ITEMS.encode() + b"description: caf\xe9\n"},
        "DP001", f"{ITEMS_YML}:16:17", "product.yml is not UTF-8 text: byte 0xe9"),
    "dpsql_yml_not_utf8": (
        {"dpsql.yml": b"name: tiny\nwarehouse: wh.duckdb\ndescription: \xff\xfe\n"},
        "DP001", "dpsql.yml:3:14", "dpsql.yml is not UTF-8 text: byte 0xff"),
    "model_not_utf8": (
        {STG: b"select 1 as x\nfrom t -- \x96 comment\n"},
        "DP001", f"{STG}:2:11", "stg_items.sql is not UTF-8 text: byte 0x96"),
    "product_yml_in_utf16": (
        {ITEMS_YML: ITEMS.encode("utf-16")},
        "DP001", f"{ITEMS_YML}:1:1", "is not UTF-8 text"),
    "nul_byte_in_product_yml": (
        {ITEMS_YML: ITEMS.encode() + b"description: a\x00b\n"},
        "DP001", f"{ITEMS_YML}:16:15", "product.yml holds a NUL byte"),
    "nul_byte_in_model": (
        {STG: b"select 1 as x\x00\n"},
        "DP001", f"{STG}:1:14", "stg_items.sql holds a NUL byte"),
    "control_character_in_yaml": (
        {ITEMS_YML: ITEMS + "description: a\x01b\n"},
        "DP001", f"{ITEMS_YML}:16:15", "character #x0001 is not allowed"),
    # YAML values a tag cannot hold, and tags dpsql does not read
    "timestamp_junk": (
        {ITEMS_YML: ITEMS + "description: !!timestamp junk\n"},
        "DP001", f"{ITEMS_YML}:16:14", "`junk` is not a valid timestamp"),
    "impossible_date": (
        {ITEMS_YML: ITEMS + "description: 2024-13-45\n"},
        "DP001", f"{ITEMS_YML}:16:14", "`2024-13-45` is not a valid timestamp"),
    "unknown_tag": (
        {ITEMS_YML: ITEMS + "description: !python/object x\n"},
        "DP001", f"{ITEMS_YML}:16:14", "the tag `!python/object` is not supported"),
    # aliases
    "recursive_alias": (
        {ITEMS_YML: ITEMS + "tags: &t [a, *t]\n"},
        "DP001", f"{ITEMS_YML}:16:7", "this alias contains itself"),
    "billion_laughs": (
        {ITEMS_YML: _bomb(6)},  # 9**6 values once expanded
        "DP001", f"{ITEMS_YML}:3", "holds more than 100000 values once its aliases are expanded"),
    "nested_too_deep": (
        {ITEMS_YML: ITEMS + "description: " + "[" * 150 + "]" * 150 + "\n"},
        "DP001", f"{ITEMS_YML}:16", "nested more than 100 deep"),
    # duplicate keys: the second one is the error
    "duplicate_key": (
        {ITEMS_YML: ITEMS.replace("version: 1.0.0\n", "version: 1.0.0\nversion: 2.0.0\n")},
        "DP001", f"{ITEMS_YML}:5:1", "key `version` is given twice in this mapping (first at line 4)"),
    "duplicate_key_in_flow_mapping": (
        {ITEMS_YML: ITEMS.replace("{name: shop, type: varchar}",
                                  "{name: shop, type: varchar, name: shops}")},
        "DP001", f"{ITEMS_YML}:13:37", "key `name` is given twice"),
    "duplicate_key_in_dpsql_yml": (
        {"dpsql.yml": "name: tiny\nwarehouse: wh.duckdb\nthreads: 2\nthreads: 3\n"},
        "DP001", "dpsql.yml:4:1", "key `threads` is given twice"),
    # files of the wrong shape
    "product_yml_is_a_list": (
        {ITEMS_YML: "- name: items\n- version: 1.0.0\n"},
        "DP003", f"{ITEMS_YML}:1", "product.yml must be a mapping of keys to values, not a list"),
    "product_yml_is_a_scalar": (
        {ITEMS_YML: "items\n"},
        "DP003", f"{ITEMS_YML}:1", "product.yml must be a mapping of keys to values, not `items`"),
    "dpsql_yml_is_a_list": (
        {"dpsql.yml": "- name: tiny\n"},
        "DP003", "dpsql.yml:1", "dpsql.yml must be a mapping of keys to values, not a list"),
    "dpsql_yml_is_a_scalar": (
        {"dpsql.yml": "42\n"},
        "DP003", "dpsql.yml:1", "dpsql.yml must be a mapping of keys to values, not `42`"),
    "outputs_is_a_mapping": (
        {ITEMS_YML: ITEMS.replace("  - name: items\n    model: fct_items\n    columns:\n",
                                  "  name: items\n  model: fct_items\n  columns:\n")},
        "DP003", f"{ITEMS_YML}:9", "`outputs` must be a list, not a mapping"),
    "input_is_a_string": (
        {ITEMS_YML: ITEMS.replace("  - name: raw_items\n    file: ../../data/items.csv\n",
                                  "  - raw_items\n")},
        "DP003", f"{ITEMS_YML}:6", "an input must be a mapping of keys to values, not `raw_items`"),
    # values of the wrong type
    "threads_is_text": (
        {"dpsql.yml": "name: tiny\nwarehouse: wh.duckdb\nthreads: many\n"},
        "DP003", "dpsql.yml:3", "`threads` must be a whole number of at least 1, not the text `many`"),
    "threads_is_a_list": (
        {"dpsql.yml": "name: tiny\nwarehouse: wh.duckdb\nthreads: [4]\n"},
        "DP003", "dpsql.yml:3", "`threads` must be a whole number of at least 1, not a list"),
    "vars_is_a_list": (
        {"dpsql.yml": "name: tiny\nwarehouse: wh.duckdb\nvars: [min_qty]\n"},
        "DP003", "dpsql.yml:3", "`vars` must be a mapping of names to values, not a list"),
    "tests_is_text": (
        {ITEMS_YML: ITEMS.replace("{name: item_id, type: bigint}",
                                  "{name: item_id, type: bigint, tests: not_null}")},
        "DP003", f"{ITEMS_YML}:12", "`tests` must be a list, not the text `not_null`"),
    "version_is_a_list": (
        {ITEMS_YML: ITEMS.replace("version: 1.0.0", "version: [1, 0, 0]")},
        "DP003", f"{ITEMS_YML}:4", "`version: [1, 0, 0]` is read by YAML as a list"),
    # versions YAML reads as numbers
    "version_is_a_float": (
        {ITEMS_YML: ITEMS.replace("version: 1.0.0", "version: 1.10")},
        "DP003", f"{ITEMS_YML}:4", "`version: 1.10` is read by YAML as the number 1.1, not as text"),
    "version_is_an_int": (
        {ITEMS_YML: ITEMS.replace("version: 1.0.0", "version: 2")},
        "DP003", f"{ITEMS_YML}:4", "`version: 2` is read by YAML as the number 2"),
    "version_range_is_a_float": (
        {SHOPS_YML: SHOPS.replace("version: ^1", "version: 1.2")},
        "DP003", f"{SHOPS_YML}:9", "`version: 1.2` is read by YAML as the number 1.2"),
    "version_range_is_an_int": (
        {SHOPS_YML: SHOPS.replace("version: ^1", "version: 1")},
        "DP003", f"{SHOPS_YML}:9", "`version: 1` is read by YAML as the number 1"),
    # a type with a comma in a flow mapping
    "decimal_type_in_flow_style": (
        {ITEMS_YML: ITEMS.replace("type: 'decimal(18,2)'", "type: decimal(18,2)")},
        "DP003", f"{ITEMS_YML}:15", "the type `decimal(18,2)` is split at its comma"),
    "struct_type_in_flow_style": (
        {ITEMS_YML: ITEMS.replace("type: 'decimal(18,2)'",
                                  "type: struct(a int, b int, c varchar), description: v")},
        "DP003", f"{ITEMS_YML}:15", "the type `struct(a int,b int,c varchar)` is split"),
}

# the hint each case must give (a part of it)
HINTS = {
    "product_yml_not_utf8": "save the file as UTF-8",
    "nul_byte_in_model": "remove it",
    "timestamp_junk": "quote it to keep it as text ('junk')",
    "recursive_alias": "may not refer to a mapping or list it is part of",
    "billion_laughs": "write the values out",
    "duplicate_key": "remove one of them",
    "product_yml_is_a_list": "write product.yml as indented `key: value` lines",
    "outputs_is_a_mapping": "write `outputs:` followed by indented `- ...` items",
    "input_is_a_string": "`- name: raw_orders` with `file: ../data/orders.csv` below it",
    "threads_is_text": "`threads: 4`",
    "version_is_a_float": "quote it: `version: '1.10'`",
    "version_range_is_a_float": "quote it: `version: '1.2'`",
    "decimal_type_in_flow_style": "quote it: `type: 'decimal(18,2)'`",
}


def _workspace(root: Path, files: dict[str, str | bytes]) -> Path:
    write_files(root, {k: v for k, v in BASE.items() if k not in files})
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_one_located_error(tmp_path: Path, case: str) -> None:
    files, code, where, text = CASES[case]
    root = _workspace(tmp_path / "ws", files)
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 1, explain(result)
    assert result.exception is None or isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if "error[" in line]
    assert len(errors) == 1, result.stderr
    assert f"error[{code}]" in errors[0] and where in errors[0], result.stderr
    assert text in errors[0], result.stderr
    assert "hint:" in result.stderr
    assert HINTS.get(case, "") in result.stderr
    assert not (root / "wh.duckdb").exists(), "a failed load must not create the warehouse"
    assert not (root / "target" / "manifest.json").exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_diagnostic_has_a_hint_and_a_line(tmp_path: Path, case: str) -> None:
    root = _workspace(tmp_path / "ws", CASES[case][0])
    result = run_cli("check", "-p", str(root), "--format", "json")
    assert result.exit_code == 1, explain(result)
    diagnostics = json.loads(result.stdout)["diagnostics"]
    assert diagnostics
    for diagnostic in diagnostics:
        assert diagnostic["hint"], diagnostic
        assert diagnostic["path"] and diagnostic["line"] >= 1, diagnostic


def test_quoted_values_are_accepted(tmp_path: Path) -> None:
    """What each hint says to write works: quoted versions, a quoted flow-style type."""
    root = _workspace(tmp_path / "ws", {
        ITEMS_YML: ITEMS.replace("version: 1.0.0", "version: '1.10'"),
        SHOPS_YML: SHOPS.replace("version: ^1", "version: '1.10'"),
    })
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    manifest = json.loads((root / "target" / "manifest.json").read_text(encoding="utf-8"))
    assert "1.10.0" in json.dumps(manifest)


def test_several_yaml_problems_in_one_file_are_reported_together(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", {
        ITEMS_YML: ITEMS.replace("domain: supply\n", "domain: supply\ndomain: x\n")
        + "description: !!timestamp junk\n",
    })
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 1
    assert re.findall(r"product\.yml:(\d+):\d+: error\[DP001\]", result.stderr) == ["3", "17"]


def test_aliases_within_the_limit_still_work(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", {
        "dpsql.yml": "name: tiny\nwarehouse: wh.duckdb\nvars:\n  limits: &l {low: &zero 0, high: 9}\n"
                     "  again: *l\n  min_qty: *zero\n",
        STG: BASE[STG].replace("var('min_qty')", "var('again')['low']"),
    })
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 0, explain(result)


@pytest.mark.parametrize("kind", ["fifo", "symlink_loop"])
def test_product_yml_that_is_not_a_file_is_an_error(tmp_path: Path, kind: str) -> None:
    """A FIFO would block the read for ever; a symlink loop cannot be resolved."""
    root = _workspace(tmp_path / "ws", {})
    (root / "odd").mkdir()
    if kind == "fifo":
        os.mkfifo(root / "odd" / "product.yml")
    else:
        (root / "odd" / "product.yml").symlink_to("product.yml")
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 1, explain(result)
    assert "Traceback" not in explain(result)
    line = [line for line in result.stderr.splitlines() if "error[" in line]
    assert len(line) == 1 and "odd/product.yml:1: error[DP001]" in line[0], result.stderr
    assert ("is not a regular file" if kind == "fifo" else "Too many levels") in line[0]
    assert "hint:" in result.stderr
