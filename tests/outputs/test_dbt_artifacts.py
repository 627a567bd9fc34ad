"""target/dbt/manifest.json and run_results.json in dbt's artifact schemas, read back with
dbt-artifacts-parser (the pydantic models of dbt's published JSON schemas), and the log file
and `--log-format json` events of a build."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import explain, run_cli
from dbt_artifacts_parser.parser import parse_manifest, parse_run_results

SHOP = Path(__file__).resolve().parents[2] / "projects" / "shop"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dbt") / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "*.duckdb*"))
    result = run_cli("--log-format", "json", "build", "-p", str(root))
    assert result.exit_code == 0, explain(result)
    (root / "build.out").write_text(result.stdout)
    return root


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_manifest_is_a_dbt_v12_manifest(shop: Path) -> None:
    raw = _json(shop / "target" / "dbt" / "manifest.json")
    assert raw["metadata"]["dbt_schema_version"].endswith("/manifest/v12.json")
    parsed = parse_manifest(raw)  # picks the version from dbt_schema_version, then validates
    assert type(parsed).__name__ == "ManifestV12"
    own = _json(shop / "target" / "manifest.json")
    models = {f"model.{m['product']}.{m['name']}": m for m in own["models"].values()}
    nodes = {uid: n for uid, n in raw["nodes"].items() if n["resource_type"] == "model"}
    assert set(nodes) == set(models)
    for uid, node in nodes.items():  # each model's parents are dpsql's depends_on, in dbt ids
        mine = models[uid]
        product = mine["product"]
        expected = {f"model.{d.split('.')[0]}.{d.split('.')[1]}"
                    for d in mine["depends_on"]["models"]}
        inputs = {i["name"]: i for i in own["products"][product]["inputs"]}
        expected |= {f"source.{product}.{product}.{i}" for i in mine["depends_on"]["inputs"]
                     if inputs[i]["kind"] != "product"}
        assert set(raw["parent_map"][uid]) == expected, uid
        assert node["schema"] + "." + node["alias"] == mine["relation"]
        assert node["config"]["materialized"] == mine["materialized"]
    # the child map is the parent map turned around
    children: dict[str, set[str]] = {}
    for child, parents in raw["parent_map"].items():
        for parent in parents:
            children.setdefault(parent, set()).add(child)
    assert {k: set(v) for k, v in raw["child_map"].items() if v} == children
    sources = {uid for uid in raw["sources"]}
    files = {f"source.{p}.{p}.{i['name']}" for p, spec in own["products"].items()
             for i in spec["inputs"] if i["kind"] != "product"}
    assert sources == files
    tests = [n for n in raw["nodes"].values() if n["resource_type"] == "test"]
    assert tests and all(t["depends_on"]["nodes"] and set(t["depends_on"]["nodes"])
                         <= set(raw["nodes"]) | sources for t in tests)
    # a test on a file input depends on its source
    on_input = [t for t in tests if t["name"] == "unique_orders_raw_orders_order_id"]
    assert [t["depends_on"]["nodes"] for t in on_input] == [["source.orders.orders.raw_orders"]]


def test_run_results_are_dbt_v6_run_results(shop: Path) -> None:
    raw = _json(shop / "target" / "dbt" / "run_results.json")
    assert type(parse_run_results(raw)).__name__ == "RunResultsV6"
    manifest = _json(shop / "target" / "dbt" / "manifest.json")
    mine = _json(shop / "target" / "run_results.json")
    own = {r["id"]: r for r in mine["results"]}
    models = [r for r in raw["results"] if r["unique_id"].startswith("model.")]
    assert {r["unique_id"] for r in models} == {f"model.{m}" for m in own}
    assert all(r["unique_id"] in manifest["nodes"] for r in raw["results"])
    assert {r["status"] for r in models} == {"success"}
    tests = [r for r in raw["results"] if r["unique_id"].startswith("test.")]
    ran = sum(len(r["tests"]) for r in own.values()) + len(mine.get("input_tests", []))
    assert mine.get("input_tests")  # the example tests its raw orders' keys
    assert len(tests) == ran and {t["status"] for t in tests} == {"pass"}
    # dpsql test rewrites it with one result per data test
    result = run_cli("test", "-p", str(shop))
    assert result.exit_code == 0, explain(result)
    raw = _json(shop / "target" / "dbt" / "run_results.json")
    parse_run_results(raw)
    own_tests = _json(shop / "target" / "test_results.json")["results"]
    assert len(raw["results"]) == len(own_tests)


def test_log_file_and_json_events(shop: Path) -> None:
    events = [json.loads(line) for line in (shop / "build.out").read_text().splitlines()]
    models = {r["id"] for r in _json(shop / "target" / "run_results.json")["results"]}
    starts = {e["node"]: e for e in events if e["event"] == "START"}
    ends = {e["node"]: e for e in events if e["event"] == "END"}
    assert set(starts) == set(ends) == models
    for node, end in ends.items():
        began = datetime.fromisoformat(starts[node]["ts"].replace("Z", "+00:00"))
        assert datetime.fromisoformat(end["ts"].replace("Z", "+00:00")) >= began
        assert end["status"] == "success"
    assert events[-1]["event"] == "SUMMARY" and events[-1]["ok"] is True
    # the same events are in target/dpsql.log, as JSON lines (after the text lines that
    # other commands of this module appended in the default format)
    logged = [json.loads(line) for line in (shop / "target" / "dpsql.log").read_text()
              .splitlines() if line.startswith("{")]
    assert {e["node"] for e in logged if e.get("event") == "END"} >= models
    # a text log by default, appended to
    result = run_cli("build", "-p", str(shop), "--full-refresh")
    assert result.exit_code == 0, explain(result)
    text = (shop / "target" / "dpsql.log").read_text().splitlines()
    assert sum(" START " in line for line in text) == len(models)
    assert text[-1].split()[0][:4].isdigit()  # a timestamp first
