"""Golden cases: model templates and the SQL dpsql compiles them to (tests/fixtures)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import BASE, write_files

from dpsql.compile.pipeline import compile_project
from dpsql.load.loader import load_project

FIXTURE = Path(__file__).parent.parent / "fixtures" / "compile_cases.sql"
CASE = re.compile(r"^-- case: (.+?)\n(.*?)^-- expected:\n(.*?)(?=^-- case: |\Z)", re.S | re.M)


def _cases() -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2).strip(), m.group(3).strip())
            for m in CASE.finditer(FIXTURE.read_text(encoding="utf-8"))]


def _compile(tmp_path: Path, template: str) -> str:
    root = write_files(tmp_path / "ws", {
        **BASE,
        "reports/shops/models/shop_totals.sql": template + "\n",
        "reports/shops/models/helper.sql": "select 'a' as shop\n",
    })
    compiled = compile_project(load_project(root), infer_schemas=False)
    assert not compiled.errors, compiled.errors
    return compiled.models["shops.shop_totals"].sql.strip()


@pytest.mark.parametrize(("name", "template", "expected"), _cases(), ids=[c[0] for c in _cases()])
def test_compiled_sql(tmp_path: Path, name: str, template: str, expected: str) -> None:
    got = _compile(tmp_path, template)
    if os.environ.get("DPSQL_UPDATE_GOLDEN"):
        text = FIXTURE.read_text(encoding="utf-8")
        FIXTURE.write_text(text.replace(f"-- expected:\n{expected}\n", f"-- expected:\n{got}\n", 1),
                           encoding="utf-8")
        return
    assert got == expected


def test_fixture_has_cases() -> None:
    assert len(_cases()) >= 8
