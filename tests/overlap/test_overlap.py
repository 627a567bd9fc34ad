"""`dpsql overlap` on planted duplicates and decoys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dpsql.overlap.find import Finding, find_overlap
from tests.conftest import explain, run_cli, write_files
from tests.overlap.planted import DECOYS, MODELS, planted


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted(tmp_path_factory.mktemp("overlap") / "ws")


@pytest.fixture(scope="module")
def findings(workspace: Path) -> list[Finding]:
    return find_overlap(workspace)


def _models(finding: Finding) -> set[str]:
    return {m.model for m in finding.members}


def _finding(findings: list[Finding], *models: str) -> Finding:
    found = [f for f in findings if set(models) <= _models(f)]
    assert found, f"{models} not found together in {[sorted(_models(f)) for f in findings]}"
    return found[0]


def test_an_exact_copy_is_found(findings: list[Finding]) -> None:
    finding = _finding(findings, "peaks", "peaks_copy")
    assert finding.kind == "model"
    assert finding.similarity == 1.0
    assert finding.sources == ("readings.readings.kwh", "readings.readings.region")
    assert "port of readings" in finding.suggestion


def test_aliases_formatting_column_and_join_order_hide_nothing(findings: list[Finding]) -> None:
    finding = _finding(findings, "costed", "cost_view")
    assert finding.kind == "model"
    assert {m.location for m in finding.members} == {"billing/models/costed.sql:1",
                                                      "grid/models/cost_view.sql:2"}
    assert "new intermediary product reading meters, readings" in finding.suggestion


def test_the_same_aggregation_over_a_republished_copy_is_found(findings: list[Finding]) -> None:
    finding = _finding(findings, "usage_daily", "daily_load")
    assert finding.kind == "model"
    assert finding.sources == ("readings.readings.day", "readings.readings.kwh",
                               "readings.readings.meter_id", "readings.readings.status")
    assert {m.product for m in finding.members} == {"billing", "grid"}


def test_a_cte_that_duplicates_another_products_model_is_found(findings: list[Finding]) -> None:
    finding = _finding(findings, "monthly", "busiest")
    assert finding.kind == "query_part"
    assert {(m.product, m.model) for m in finding.members} == {("billing", "monthly"),
                                                                ("grid", "busiest")}
    assert finding.sources == ("readings.readings.day", "readings.readings.meter_id")


def test_a_shared_case_expression_is_found(findings: list[Finding]) -> None:
    finding = _finding(findings, "tiers", "bands")
    assert finding.kind == "expression"
    assert {(m.model, m.column) for m in finding.members} == {("tiers", "tier"), ("bands", "band")}
    assert finding.sources == ("readings.readings.kwh",)


@pytest.mark.parametrize(("one", "other"), DECOYS)
def test_decoys_are_never_reported_together(findings: list[Finding], one: str,
                                            other: str) -> None:
    assert not [f for f in findings if {one, other} <= _models(f)]


def test_nothing_else_is_reported(findings: list[Finding]) -> None:
    """Units inside a reported copy are not reported again; decoys and re-publishes not at all."""
    assert sorted(sorted(_models(f)) for f in findings) == [
        ["bands", "tiers"], ["busiest", "monthly"], ["cost_view", "costed"],
        ["daily_load", "usage_daily"], ["peaks", "peaks_copy"]]


def test_json_has_the_keys_of_the_contract(workspace: Path) -> None:
    result = run_cli("overlap", "-p", str(workspace), "--format", "json")
    assert result.exit_code == 0, explain(result)
    data = json.loads(result.output)
    assert set(data) == {"findings"}
    for finding in data["findings"]:
        assert set(finding) >= {"kind", "similarity", "members", "sources", "suggestion"}
        assert finding["kind"] in {"model", "query_part", "expression"}
        for member in finding["members"]:
            assert set(member) >= {"product", "model", "column", "location"}
            assert (member["column"] is None) == (finding["kind"] != "expression")
    expression = next(f for f in data["findings"] if f["kind"] == "expression")
    assert {m["column"] for m in expression["members"]} == {"tier", "band"}


def test_text_names_members_sources_and_suggestion(workspace: Path) -> None:
    result = run_cli("overlap", "-p", str(workspace))
    assert result.exit_code == 0, explain(result)
    assert "billing.peaks (whole model)  billing/models/peaks.sql:1" in result.output
    assert "sources: readings.readings.kwh, readings.readings.region" in result.output
    assert "suggestion: " in result.output


def test_fail_on_overlap_exits_1_only_when_something_is_found(workspace: Path,
                                                             tmp_path: Path) -> None:
    result = run_cli("overlap", "-p", str(workspace), "--fail-on-overlap")
    assert result.exit_code == 1, explain(result)
    clean = {k: v for k, v in _files(workspace).items() if not k.startswith(("grid/", "ops/"))}
    other = write_files(tmp_path / "clean", clean)
    result = run_cli("overlap", "-p", str(other), "--fail-on-overlap")
    assert result.exit_code == 0, explain(result)
    assert "No transformation is written more than once." in result.output


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in root.rglob("*") if p.is_file() and "target" not in p.parts
            and p.suffix in (".sql", ".yml", ".csv")}


def test_planted_models_all_compile(workspace: Path) -> None:
    result = run_cli("check", "-p", str(workspace))
    assert result.exit_code == 0, explain(result)
    assert len(MODELS) == 21


def test_equivalent_spellings_are_one() -> None:
    import sqlglot

    from dpsql.overlap.normal import canonical_sql

    def text(sql: str) -> str:
        return canonical_sql(sqlglot.parse_one(sql, read="duckdb"))

    assert text("count(1)") == text("count(*)")
    assert text("not a = b") == text("a <> b")
    assert text("b + a") == text("a + b")
    assert text("y > 1 or x = 2 and z") == text("x = 2 and z or y > 1")
    assert text("sum(a)") != text("avg(a)")
    assert text("a > 50") != text("a > 60")
    assert text("0 < a and b <= 2") == text("2 >= b and a > 0")
    assert text("a < 0") != text("a > 0")


def test_a_generated_mesh_of_200_models_runs(tmp_path: Path) -> None:
    from dpsql.bench.mesh import generate_mesh

    mesh = generate_mesh(tmp_path / "mesh", products=20, models_per_product=10, rows=20)
    result = run_cli("overlap", "-p", str(mesh.workspace), "--format", "json")
    assert result.exit_code == 0, explain(result)
    assert isinstance(json.loads(result.output)["findings"], list)


def test_the_docs_site_has_an_overlap_page(workspace: Path) -> None:
    result = run_cli("docs", "-p", str(workspace))
    assert result.exit_code == 0, explain(result)
    page = (workspace / "target" / "docs" / "overlap.html").read_text(encoding="utf-8")
    assert page.count('class="finding"') == 5
    for text in ("<code>peaks_copy</code>", "<code>band</code>", "grid/models/cost_view.sql:2",
                 "readings.readings.status", 'href="product-billing.html"'):
        assert text in page
    index = (workspace / "target" / "docs" / "index.html").read_text(encoding="utf-8")
    assert 'href="overlap.html"' in index


def test_subqueries_and_unions_are_units(tmp_path: Path) -> None:
    extra = {
        "ops/models/sub_a.sql": """
            select s.region, s.total * 2 as doubled
            from (select region, sum(kwh) as total from readings.readings
                  where status = 'bad' group by region) as s
            """,
        "grid/models/sub_b.sql": """
            select x.region, x.total + 1 as bumped
            from (select region, sum(kwh) as total from readings.readings
                  where status = 'bad' group by region) x
            """,
        "ops/models/union_a.sql": "select meter_id from readings.readings where kwh > 1000 "
                                  "union select meter_id from meters.meters where tariff > 9",
        "billing/models/union_b.sql": "select meter_id from meters.meters where tariff > 9 "
                                      "union select meter_id from readings.readings "
                                      "where kwh > 1000",
    }
    root = planted(tmp_path / "ws")
    write_files(root, extra)
    findings = find_overlap(root)
    sub = _finding(findings, "sub_a", "sub_b")
    assert sub.kind == "query_part"
    assert sub.sources == ("readings.readings.kwh", "readings.readings.region",
                           "readings.readings.status")
    union = _finding(findings, "union_a", "union_b")
    assert union.kind == "model"
    assert "meters.meters.tariff" in union.sources and "readings.readings.kwh" in union.sources


def test_self_joins_keep_their_sides_apart(tmp_path: Path) -> None:
    extra = {
        "ops/models/pairs_a.sql": "select a.meter_id, b.kwh - a.kwh as gap from readings.readings a"
                                  " join readings.readings b on a.region = b.region "
                                  "and a.day < b.day",
        "grid/models/pairs_b.sql": "select a.meter_id, b.kwh - a.kwh as gap from readings.readings a"
                                   " join readings.readings b on a.region = b.region "
                                   "and a.day < b.day",
        "billing/models/pairs_c.sql": "select a.meter_id, b.kwh - a.kwh as gap "
                                      "from readings.readings a join readings.readings b "
                                      "on a.region = b.region and a.meter_id < b.meter_id",
    }
    root = write_files(planted(tmp_path / "ws"), extra)
    findings = find_overlap(root)
    pair = _finding(findings, "pairs_a", "pairs_b")
    assert not [f for f in findings if "pairs_c" in _models(f)]
    assert "readings.readings.day" in pair.sources
    assert not [f for f in findings if any("#" in s for s in f.sources)]


def test_the_example_workspace_shows_its_planted_copy_as_documented(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    shop = tmp_path / "shop"
    shutil.copytree(root / "projects" / "shop", shop,
                    ignore=shutil.ignore_patterns("target", "*.duckdb*"))
    doc = (root / "docs" / "overlap.md").read_text(encoding="utf-8")
    shown = doc.split("$ dpsql overlap -p projects/shop\n", 1)[1].split("```", 1)[0]
    result = run_cli("overlap", "-p", str(shop))
    assert result.exit_code == 0, explain(result)
    assert result.output.strip() == shown.strip()
    # the CTE both copies aggregate from is a copy too, but inside the one reported
    data = json.loads(run_cli("overlap", "-p", str(shop), "--format", "json").output)
    parts = [(m["model"], m["part"]) for f in data["findings"] for m in f["members"]]
    assert parts == [("customer_360", "per_customer"), ("customer_orders", None)]
