"""Labels and masks in what dpsql writes: OpenLineage's `masking` flag, the docs site."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from mesh import mesh

SQL = """
select id, sha256(email) as contact, email || country as both_ways, country
from {{ input('customers') }}
"""
COLUMNS = ["{name: id, type: bigint}", "{name: contact, type: varchar}",
           "{name: both_ways, type: varchar, classification: pii}",
           "{name: country, type: varchar}"]


def _fields(root: Path, model: str) -> dict[str, list[dict[str, object]]]:
    result = run_cli("lineage", "-p", str(root), "--format", "openlineage")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    event = next(e for e in events if e["job"]["name"] == model)
    return {name: f["inputFields"] for name, f in
            event["outputs"][0]["facets"]["columnLineage"]["fields"].items()}


def test_openlineage_marks_masked_inputs(tmp_path: Path) -> None:
    fields = _fields(mesh(tmp_path, SQL, COLUMNS), "marketing.contacts")
    [contact] = fields["contact"]
    assert contact["field"] == "email"
    assert contact["transformations"] == [
        {"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": True}]
    # the raw value reaches `both_ways` too: not masked
    assert all(t["masking"] is False for f in fields["both_ways"]
               for t in f["transformations"])  # type: ignore[attr-defined]
    assert all(t["masking"] is False for f in fields["id"]
               for t in f["transformations"])  # type: ignore[attr-defined]


def test_docs_site_shows_labels(tmp_path: Path) -> None:
    root = mesh(tmp_path, SQL, COLUMNS)
    result = run_cli("docs", "-p", str(root))
    assert result.exit_code == 0, result.output
    page = (root / "target" / "docs" / "product-crm.html").read_text(encoding="utf-8")
    assert '<span class="label">pii</span>' in page
