"""One mesh, four layouts: a dpsql workspace, a dbt project, a SQLMesh project, a plain script.

Each layout knows where a model's file goes and what it holds, so that the runner can rewrite a
single model for the 'edit one model' steps in every tool the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dpsql.bench.spec import (
    PORT_COLUMNS,
    PORT_MODELS,
    RAW_COLUMNS,
    InputSpec,
    MeshSpec,
    ModelSpec,
    ProductSpec,
)
from dpsql.bench.sqlgen import model_body

WORKSPACE = "workspace"  # folder names under the mesh root
DBT = "dbt"
SQLMESH = "sqlmesh"
FLOOR_SCRIPT = "floor.sql"
STATEMENT_END = "\n;\n"  # how the floor script ends each statement
THREADS = 4


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def warehouse_name(product: ProductSpec, model: ModelSpec) -> str:
    """The engine's naming rule: ports in `<product>`, everything else in `<product>_internal`."""
    if model.port:
        return f"{product.name}.{model.port}"
    return f"{product.name}_internal.{model.name}"


def file_relation(product: ProductSpec, inp: InputSpec) -> str:
    return f"{product.name}_internal.{inp.name}"


def port_relation(inp: InputSpec) -> str:
    return f"{inp.product}.{inp.port}"


class _NamesResolver:
    """Plain relation names, as the warehouse holds them (floor and SQLMesh)."""

    def ref(self, product: ProductSpec, model: str) -> str:
        return warehouse_name(product, product.model(model))

    def input(self, product: ProductSpec, inp: InputSpec) -> str:
        return file_relation(product, inp) if inp.kind == "file" else port_relation(inp)


class _DpsqlResolver:
    def ref(self, product: ProductSpec, model: str) -> str:
        return f"{{{{ ref('{model}') }}}}"

    def input(self, product: ProductSpec, inp: InputSpec) -> str:
        return f"{{{{ input('{inp.name}') }}}}"


class _DbtResolver:
    def ref(self, product: ProductSpec, model: str) -> str:
        return f"{{{{ ref('{product.name}__{model}') }}}}"

    def input(self, product: ProductSpec, inp: InputSpec) -> str:
        if inp.kind == "file":
            return f"{{{{ source('{product.name}', '{inp.name}') }}}}"
        return f"{{{{ ref('{inp.product}__{PORT_MODELS[inp.port or '']}') }}}}"


class Layout:
    """Base: `model_path` and `model_text` per model, `write` for the whole mesh."""

    folder = ""

    def __init__(self, mesh: MeshSpec, root: Path) -> None:
        self.mesh = mesh
        self.root = root / self.folder if self.folder else root

    def model_path(self, product: ProductSpec, model: ModelSpec) -> Path:
        raise NotImplementedError

    def model_text(self, product: ProductSpec, model: ModelSpec, edit: int = 0) -> str:
        raise NotImplementedError

    def write_model(self, product: ProductSpec, model: ModelSpec, edit: int = 0) -> None:
        _write(self.model_path(product, model), self.model_text(product, model, edit))

    def write(self) -> None:
        for product in self.mesh.products:
            for model in product.models:
                self.write_model(product, model)


class DpsqlLayout(Layout):
    folder = WORKSPACE

    def model_path(self, product: ProductSpec, model: ModelSpec) -> Path:
        return self.root / product.folder / "models" / f"{model.name}.sql"

    def model_text(self, product: ProductSpec, model: ModelSpec, edit: int = 0) -> str:
        body = model_body(product, model, _DpsqlResolver(), edit)
        if model.port:
            return f"-- Feeds the `{model.port}` port.\n{body}"
        return "{{ config(materialized='table') }}\n\n" + body

    def write(self) -> None:
        _write(
            self.root / "dpsql.yml",
            _dump(
                {
                    "name": "benchmesh",
                    "warehouse": "warehouse.duckdb",
                    "vars": {"start_date": "2024-01-01"},
                    "threads": THREADS,
                }
            ),
        )
        _write(self.root / ".gitignore", "target/\n*.duckdb*\n")
        for product in self.mesh.products:
            _write(self.root / product.folder / "product.yml", _dump(product_yml(product)))
        super().write()


def _columns(port: str) -> list[dict[str, Any]]:
    cols: list[dict[str, Any]] = []
    for i, col in enumerate(PORT_COLUMNS[port]):
        entry: dict[str, Any] = {"name": col.name, "type": col.type}
        if i == 0:
            entry["tests"] = ["not_null", "unique"] if port == "summary" else ["not_null"]
        cols.append(entry)
    return cols


def product_yml(product: ProductSpec) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = []
    for inp in product.inputs:
        if inp.kind == "file":
            inputs.append({"name": inp.name, "file": f"../../data/{inp.file}"})
        else:
            entry: dict[str, Any] = {
                "name": inp.name,
                "product": inp.product,
                "port": inp.port,
                "version": "^1",
            }
            if inp.role == "secondary":
                entry["columns"] = [{"name": "entity_id", "type": "bigint"}]
            inputs.append(entry)
    outputs = [
        {
            "name": port,
            "model": PORT_MODELS[port],
            "description": f"{port} of synthetic product {product.index}.",
            "columns": _columns(port),
        }
        for port in product.ports
    ]
    return {
        "name": product.name,
        "domain": product.domain,
        "owner": f"{product.domain}-data@example.com",
        "description": f"Synthetic benchmark product {product.index}.",
        "version": product.version,
        "inputs": inputs,
        "outputs": outputs,
    }


class FloorLayout(Layout):
    """All models as CREATE TABLE AS in dependency order, in one script."""

    def model_text(self, product: ProductSpec, model: ModelSpec, edit: int = 0) -> str:
        body = model_body(product, model, _NamesResolver(), edit)
        return f"create table {warehouse_name(product, model)} as\n{body}"

    def statements(self, data_dir: str) -> list[str]:
        out: list[str] = []
        for product in self.mesh.products:
            out.append(f"create schema if not exists {product.name}")
            out.append(f"create schema if not exists {product.name}_internal")
            for inp in product.inputs:
                if inp.kind == "file":
                    reader = "read_csv" if inp.fmt == "csv" else "read_parquet"
                    out.append(
                        f"create view {file_relation(product, inp)} as "
                        f"select * from {reader}('{data_dir}/{inp.file}')"
                    )
            out.extend(self.model_text(product, m).rstrip() for m in product.models)
        return out

    def write(self) -> None:
        text = STATEMENT_END.join(self.statements(f"{WORKSPACE}/data")) + STATEMENT_END
        _write(self.root / FLOOR_SCRIPT, text)


class DbtLayout(Layout):
    folder = DBT

    def model_path(self, product: ProductSpec, model: ModelSpec) -> Path:
        return self.root / "models" / product.name / f"{product.name}__{model.name}.sql"

    def model_text(self, product: ProductSpec, model: ModelSpec, edit: int = 0) -> str:
        schema = product.name if model.port else f"{product.name}_internal"
        alias = model.port or model.name
        head = f"{{{{ config(schema='{schema}', alias='{alias}') }}}}\n\n"
        return head + model_body(product, model, _DbtResolver(), edit)

    def write(self) -> None:
        _write(
            self.root / "dbt_project.yml",
            _dump(
                {
                    "name": "benchmesh",
                    "version": "1.0.0",
                    "config-version": 2,
                    "profile": "benchmesh",
                    "model-paths": ["models"],
                    "macro-paths": ["macros"],
                    "models": {"benchmesh": {"+materialized": "table"}},
                }
            ),
        )
        _write(
            self.root / "profiles.yml",
            _dump(
                {
                    "benchmesh": {
                        "target": "dev",
                        "outputs": {
                            "dev": {"type": "duckdb", "path": "warehouse.duckdb", "threads": THREADS}
                        },
                    }
                }
            ),
        )
        _write(
            self.root / "macros" / "generate_schema_name.sql",
            (
                "{% macro generate_schema_name(custom_schema_name, node) -%}\n"
                "{%- if custom_schema_name is none -%}{{ target.schema }}"
                "{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}\n"
                "{%- endmacro %}\n"
            ),
        )
        sources = []
        for product in self.mesh.products:
            tables = [
                {
                    "name": inp.name,
                    "config": {
                        "meta": {
                            "external_location": (
                                f"{'read_csv' if inp.fmt == 'csv' else 'read_parquet'}"
                                f"('../{WORKSPACE}/data/{inp.file}')"
                            )
                        }
                    },
                }
                for inp in product.inputs
                if inp.kind == "file"
            ]
            if tables:
                sources.append({"name": product.name, "tables": tables})
        _write(self.root / "models" / "sources.yml", _dump({"version": 2, "sources": sources}))
        super().write()


class SqlmeshLayout(Layout):
    folder = SQLMESH

    def model_path(self, product: ProductSpec, model: ModelSpec) -> Path:
        return self.root / "models" / product.name / f"{model.name}.sql"

    def model_text(self, product: ProductSpec, model: ModelSpec, edit: int = 0) -> str:
        head = f"MODEL (\n  name {warehouse_name(product, model)},\n  kind FULL\n);\n\n"
        return head + model_body(product, model, _NamesResolver(), edit)

    def _raw_view(self, product: ProductSpec, inp: InputSpec) -> str:
        reader = "read_csv" if inp.fmt == "csv" else "read_parquet"
        cols = ",\n  ".join(f"cast({c.name} as {c.type}) as {c.name}" for c in RAW_COLUMNS)
        return (
            f"MODEL (\n  name {file_relation(product, inp)},\n  kind VIEW\n);\n\n"
            f"select\n  {cols}\nfrom {reader}('../{WORKSPACE}/data/{inp.file}')\n"
        )

    def write(self) -> None:
        _write(
            self.root / "config.yaml",
            _dump(
                {
                    "gateways": {
                        "local": {
                            "connection": {
                                "type": "duckdb",
                                "database": "warehouse.duckdb",
                                "concurrent_tasks": THREADS,
                            }
                        }
                    },
                    "default_gateway": "local",
                    "model_defaults": {"dialect": "duckdb", "start": "2024-01-01"},
                }
            ),
        )
        for product in self.mesh.products:
            for inp in product.inputs:
                if inp.kind == "file":
                    _write(
                        self.root / "models" / product.name / f"{inp.name}.sql", self._raw_view(product, inp)
                    )
        super().write()
