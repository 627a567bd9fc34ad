"""Parsed product.yml files come from target/cache/yaml.json when unchanged: a compile after an
edit to a product.yml gives what a compile without any cache gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli, write_files

from dpsql.load.yamlcache import FILE

ITEMS = "inventory/items/product.yml"
SHOPS = "reports/shops/product.yml"


def _compile(root: Path) -> tuple[int, str, str, str]:
    """Exit code, output, manifest and `check --format json` of a compile."""
    result = run_cli("compile", "-p", str(root))
    manifest = root / "target" / "manifest.json"
    check = run_cli("check", "-p", str(root), "--format", "json")
    return (result.exit_code, result.output, manifest.read_text() if result.exit_code == 0
            else "", check.output)


def _cold(root: Path) -> tuple[int, str, str, str]:
    shutil.rmtree(root / "target", ignore_errors=True)
    return _compile(root)


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    text = (root / rel).read_text()
    assert old in text
    write_files(root, {rel: text.replace(old, new)})


def test_a_compile_after_product_yml_edits_is_a_cold_compile(tiny: Path) -> None:
    first = _compile(tiny)
    assert first[0] == 0 and (tiny / "target" / FILE).is_file(), first[1]
    edits = [
        (ITEMS, "owner: supply@example.com", "owner: stock@example.com\n"
                "description: Items on hand"),
        (SHOPS, "- {name: total, type: 'decimal(18,2)'}",
                "- {name: total, type: 'decimal(18,2)', description: Sum of value}"),
        # a YAML date and a set are not kept in the cache: read again every time
        (ITEMS, "version: 1.0.0\n", "version: 1.0.0\ntags: [a, 2024-01-31]\n"),
        # an error, at its line, then fixed
        (SHOPS, "  - name: shop_totals", "  - name: shop_totals\n    name: twice"),
        (SHOPS, "  - name: shop_totals\n    name: twice", "  - name: shop_totals"),
    ]
    for rel, old, new in edits:
        _edit(tiny, rel, old, new)
        warm = _compile(tiny)
        assert warm == _cold(tiny), rel
        again = _compile(tiny)  # from the cache the cold compile wrote
        assert again[2:] == warm[2:]
    manifest = json.loads(again[2])
    items = manifest["products"]["items"]
    assert items["owner"] == "stock@example.com" and items["description"] == "Items on hand"
    assert items["tags"] == ["a", "2024-01-31"]
    port = manifest["products"]["shops"]["outputs"][0]
    assert port["columns"][1]["description"] == "Sum of value"


def test_a_yaml_error_is_reported_the_same_from_a_warm_cache(tiny: Path) -> None:
    assert _compile(tiny)[0] == 0
    _edit(tiny, SHOPS, "  - name: shop_totals", "  - name: shop_totals\n    name: twice")
    warm = _compile(tiny)
    assert warm[0] == 1 and "DP001" in warm[1] and "product.yml:12:5" in warm[1], warm[1]
    assert warm == _cold(tiny)


@pytest.mark.parametrize("damage", ["truncated", "edited", "folder"])
def test_a_damaged_yaml_cache_is_ignored(tiny: Path, damage: str) -> None:
    expected = _compile(tiny)
    path = tiny / "target" / FILE
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:50])
    elif damage == "edited":
        path.write_text(path.read_text().replace("supply", "stock"))
    else:
        path.unlink()
        path.mkdir()
    _edit(tiny, ITEMS, "domain: supply", "domain: supply ")  # the same values, another text
    assert _compile(tiny) == expected
    if damage != "folder":
        assert "stock" not in path.read_text()  # written again
