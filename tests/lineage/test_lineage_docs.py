"""The lineage docs stay in step with the code: every DP5xx code is documented, and every
`dpsql lineage` option and format appears in docs/lineage.md."""

from __future__ import annotations

import re
from pathlib import Path

from dpsql.cli.commands import LINEAGE_FORMATS, lineage
from dpsql.core.errors import CODES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_lineage_codes_are_documented() -> None:
    text = (DOCS / "diagnostics.md").read_text(encoding="utf-8")
    section = text.split("## Lineage (DP5xx)", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| (DP5\d\d) \|", section, flags=re.M))
    assert documented == {code for code in CODES if code.startswith("DP5")}


def test_lineage_options_and_formats_are_documented() -> None:
    text = (DOCS / "lineage.md").read_text(encoding="utf-8")
    for param in lineage.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--project-dir":
                assert f"`{opt}" in text, opt
    for fmt in LINEAGE_FORMATS:
        assert f"`{fmt}`" in text or f"format {fmt}" in text, fmt
