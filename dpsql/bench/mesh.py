"""Generate a synthetic mesh on disk in every layout the benchmark times.

<root>/workspace/   a dpsql workspace: dpsql.yml, data/, <domain>/<product>/product.yml, models/
<root>/dbt/         the same models as a dbt-duckdb project (one model per dpsql model, tables)
<root>/sqlmesh/     the same models as a SQLMesh project (FULL models, duckdb gateway)
<root>/floor.sql    the same SELECTs as CREATE TABLE AS in dependency order (the DuckDB floor)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from dpsql.bench.data import write_raw_files
from dpsql.bench.layouts import (
    DBT,
    FLOOR_SCRIPT,
    SQLMESH,
    WORKSPACE,
    DbtLayout,
    DpsqlLayout,
    FloorLayout,
    Layout,
    SqlmeshLayout,
)
from dpsql.bench.spec import MeshSpec, plan_mesh

DEFAULT_MODELS_PER_PRODUCT = 10


@dataclass(frozen=True)
class Mesh:
    spec: MeshSpec
    root: Path

    @property
    def workspace(self) -> Path:
        return self.root / WORKSPACE

    @property
    def dbt_dir(self) -> Path:
        return self.root / DBT

    @property
    def sqlmesh_dir(self) -> Path:
        return self.root / SQLMESH

    @property
    def floor_script(self) -> Path:
        return self.root / FLOOR_SCRIPT

    def summary(self) -> dict[str, int]:
        return {
            "products": len(self.spec.products),
            "models": self.spec.n_models,
            "models_per_product": self.spec.models_per_product,
            "rows": self.spec.rows,
            "raw_files": len(self.spec.file_inputs()),
            "ports": sum(len(p.ports) for p in self.spec.products),
        }


def _layouts(mesh: Mesh) -> list[Layout]:
    return [
        DpsqlLayout(mesh.spec, mesh.root),
        DbtLayout(mesh.spec, mesh.root),
        SqlmeshLayout(mesh.spec, mesh.root),
    ]


def generate_mesh(
    root: Path,
    products: int,
    models_per_product: int = DEFAULT_MODELS_PER_PRODUCT,
    rows: int = 10_000,
    seed: int = 7,
) -> Mesh:
    """Write a fresh mesh under `root`; raw data files already there are kept (same bytes)."""
    spec = plan_mesh(products, models_per_product, rows, seed)
    mesh = Mesh(spec, root)
    for folder in (WORKSPACE, DBT, SQLMESH):
        target = root / folder
        if target.exists():
            keep = target / "data" if folder == WORKSPACE else None
            for child in target.iterdir():
                if child == keep:
                    continue
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    params = {"products": products, "models_per_product": models_per_product, "rows": rows, "seed": seed}
    stamp = root / "mesh.json"
    data_dir = mesh.workspace / "data"
    if stamp.exists() and json.loads(stamp.read_text()) != params and data_dir.exists():
        shutil.rmtree(data_dir)
    write_raw_files(spec, data_dir)
    for layout in _layouts(mesh):
        layout.write()
    FloorLayout(spec, root).write()
    stamp.write_text(json.dumps(params, indent=2) + "\n")
    return mesh


def edit_one_model(
    mesh: Mesh,
    edit: int,
    tools: tuple[str, ...] = ("dpsql", "dbt", "sqlmesh"),
) -> str:
    """Add a literal column `<edit> as bench_edit` to the mesh's edit target in each layout.

    Returns the edited model's dpsql name (`<product>.<model>`).
    """
    product, model = mesh.spec.edit_target()
    by_tool = {"dpsql": DpsqlLayout, "dbt": DbtLayout, "sqlmesh": SqlmeshLayout}
    for tool in tools:
        by_tool[tool](mesh.spec, mesh.root).write_model(product, model, edit)
    return f"{product.name}.{model.name}"
