"""Labels are followed as well when every model's types and lineage come from the compile cache."""

from __future__ import annotations

from pathlib import Path

from conftest import explain, run_cli

POLICIES = "\npolicies:\n  classifications:\n    pii: {masked_by: [md5]}\n"


def test_a_label_added_after_a_compile_is_followed(tiny: Path) -> None:
    workspace = tiny / "dpsql.yml"
    workspace.write_text(workspace.read_text() + POLICIES)
    assert run_cli("compile", "-p", str(tiny)).exit_code == 0  # types and lineage cached
    product = tiny / "inventory/items/product.yml"
    text = product.read_text()
    assert "    file: ../../data/items.csv\n" in text
    product.write_text(text.replace(
        "    file: ../../data/items.csv\n",
        "    file: ../../data/items.csv\n    columns:\n      - {name: shop, classification: pii}\n"))
    result = run_cli("check", "-p", str(tiny))
    assert result.exit_code == 1, explain(result)
    assert "error[DP808]: port column `items.items.shop` carries `pii`" in result.output
