"""The benchmark's generator on a tiny mesh: the floor runs, the workspace is well formed.

No timing here: timing belongs to `python -m dpsql.bench`.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from dpsql.bench.floor import run_floor
from dpsql.bench.mesh import edit_one_model, generate_mesh
from dpsql.bench.report import render_markdown

REF = re.compile(r"\{\{\s*(ref|input)\('([^']+)'\)\s*\}\}")


def _describe(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"describe {relation}").fetchall()]


def test_tiny_mesh_floor_and_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mesh = generate_mesh(tmp_path / "mesh", products=3, models_per_product=3, rows=50)
    assert mesh.spec.n_models == 9

    monkeypatch.chdir(mesh.root)  # the floor script's file paths are relative to the mesh root
    database = str(tmp_path / "floor.duckdb")
    result = run_floor(mesh.floor_script, database)
    assert result["statements"] > 9

    settings = yaml.safe_load((mesh.workspace / "dpsql.yml").read_text())
    assert settings["warehouse"] == "warehouse.duckdb"
    product_files = sorted(mesh.workspace.rglob("product.yml"))
    assert len(product_files) == 3

    con = duckdb.connect(database, read_only=True)
    try:
        seen_ports = 0
        for path in product_files:
            product = yaml.safe_load(path.read_text())
            folder = path.parent
            models = {p.stem for p in (folder / "models").glob("*.sql")}
            inputs = {i["name"] for i in product["inputs"]}
            assert len(models) == 3
            for inp in product["inputs"]:
                if "file" in inp:
                    assert (folder / inp["file"]).resolve().is_file()
                else:
                    assert inp["version"] == "^1" and int(inp["product"][1:]) < int(
                        product["name"][1:]
                    )  # acyclic: a product reads only earlier products
            for model in (folder / "models").glob("*.sql"):
                for kind, name in REF.findall(model.read_text()):
                    assert name in (models if kind == "ref" else inputs), (model, name)
            for port in product["outputs"]:
                assert port["model"] in models
                contract = [(c["name"], c["type"].upper()) for c in port["columns"]]
                actual = _describe(con, f"{product['name']}.{port['name']}")
                assert contract == actual, (product["name"], port["name"])
                rows = con.execute(f"select count(*) from {product['name']}.{port['name']}")
                assert rows.fetchall()[0][0] > 0
                seen_ports += 1
        assert seen_ports >= 3
    finally:
        con.close()

    assert len(list((mesh.dbt_dir / "models").rglob("*.sql"))) == 9
    assert (mesh.sqlmesh_dir / "config.yaml").is_file()
    name = edit_one_model(mesh, 1)
    product, model = name.split(".")
    edited = next(mesh.workspace.rglob(f"{product}/models/{model}.sql")).read_text()
    assert "1 as bench_edit" in edited


def test_report_renders_partial_results() -> None:
    ok = {"ok": True, "seconds": 2.0, "peak_rss_mb": 100.0}
    run = {
        "models": 1000,
        "mesh": {"products": 100, "models_per_product": 10, "rows": 10_000},
        "tools": {
            "dpsql": {"compile_cold": ok, "build_full": {"error": "exit 1: boom"}},
            "floor": {"build_full": ok},
        },
    }
    results = {
        "created": "now",
        "machine": {"cpus": 2, "memory_gib": 24, "python": "3.11"},
        "versions": {"dpsql": "source"},
        "runs": [run],
    }
    text = render_markdown(results)
    assert "| cold compile | 2.00 s |" in text
    assert "error: exit 1: boom" in text
    assert "not installed" in text
