"""The deterministic plan of a synthetic mesh: products, their inputs, models and ports.

Nothing here touches the disk: `plan_mesh` returns a frozen description that the layout
writers (dpsql workspace, dbt, SQLMesh, plain SQL) turn into files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

DOMAINS = ("sales", "marketing", "finance", "logistics", "support")
SOURCE_EVERY = 5  # every fifth product is source-aligned (reads files)
UPSTREAM_WINDOW = 12  # a downstream product reads ports of one of the 12 products before it
INT_TEMPLATES = ("dedup", "running", "tiers", "entity", "rank", "monthly")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a DuckDB type, lower case as written in product.yml


# The columns every internal model of the mesh carries (the "event stream").
EVENT_COLUMNS: tuple[Column, ...] = (
    Column("event_id", "bigint"),
    Column("entity_id", "bigint"),
    Column("category", "varchar"),
    Column("status", "varchar"),
    Column("event_date", "date"),
    Column("amount", "decimal(18,2)"),
    Column("quantity", "integer"),
    Column("score", "double"),
)

# One row per entity: the second port of most products.
SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("entity_id", "bigint"),
    Column("n_events", "bigint"),
    Column("total_amount", "decimal(18,2)"),
    Column("total_quantity", "bigint"),
    Column("avg_score", "double"),
    Column("first_date", "date"),
    Column("last_date", "date"),
    Column("top_category", "varchar"),
)

# The raw files' columns (as generated; readers cast them).
RAW_COLUMNS: tuple[Column, ...] = (
    Column("id", "bigint"),
    Column("entity_id", "bigint"),
    Column("category", "varchar"),
    Column("status", "varchar"),
    Column("event_ts", "timestamp"),
    Column("amount", "double"),
    Column("quantity", "integer"),
)

PORT_COLUMNS = {"events": EVENT_COLUMNS, "summary": SUMMARY_COLUMNS}
PORT_MODELS = {"events": "fct_events", "summary": "agg_summary"}


@dataclass(frozen=True)
class InputSpec:
    name: str
    kind: Literal["file", "port"]
    role: Literal["primary", "secondary"]
    file: str | None = None  # data file name under the workspace's data/ folder
    fmt: Literal["csv", "parquet"] | None = None
    seed: int = 0
    product: str | None = None  # producer, for a port input
    port: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    template: str  # stg_file, stg_port, an INT_TEMPLATES entry, enrich, fct, agg
    prev: str | None = None  # the sibling model it reads
    base: str | None = None  # a second sibling it reads (entity template)
    input: str | None = None  # the input port it reads, if any
    port: str | None = None  # the output port it feeds, if any


@dataclass(frozen=True)
class ProductSpec:
    index: int
    name: str
    domain: str
    version: str
    inputs: tuple[InputSpec, ...]
    models: tuple[ModelSpec, ...]
    ports: tuple[str, ...]

    @property
    def folder(self) -> str:
        return f"{self.domain}/{self.name}"

    def model(self, name: str) -> ModelSpec:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(f"{self.name} has no model {name}")

    def get_input(self, name: str) -> InputSpec:
        for inp in self.inputs:
            if inp.name == name:
                return inp
        raise KeyError(f"{self.name} has no input {name}")


@dataclass(frozen=True)
class MeshSpec:
    products: tuple[ProductSpec, ...]
    models_per_product: int
    rows: int
    seed: int

    @property
    def n_models(self) -> int:
        return sum(len(p.models) for p in self.products)

    @property
    def entities(self) -> int:
        return max(5, self.rows // 10)

    def product(self, name: str) -> ProductSpec:
        return self.products[int(name[1:])]

    def file_inputs(self) -> list[InputSpec]:
        return [i for p in self.products for i in p.inputs if i.kind == "file"]

    def edit_target(self) -> tuple[ProductSpec, ModelSpec]:
        """The internal model that the 'edit one model' steps change: mid-mesh, with dependants."""
        product = self.products[len(self.products) // 2]
        return product, product.models[0]


def _file_input(
    name: str, role: Literal["primary", "secondary"], product: str, fmt: str, seed: int
) -> InputSpec:
    kind_fmt: Literal["csv", "parquet"] = "csv" if fmt == "csv" else "parquet"
    return InputSpec(
        name=name, kind="file", role=role, file=f"{product}_{name}.{fmt}", fmt=kind_fmt, seed=seed
    )


def _plan_inputs(
    i: int, name: str, rng: random.Random, seed: int, planned: list[ProductSpec]
) -> tuple[InputSpec, InputSpec | None]:
    if i % SOURCE_EVERY == 0:
        fmt, other = ("csv", "parquet") if (i // SOURCE_EVERY) % 2 == 0 else ("parquet", "csv")
        base = seed * 7919 + i * 101
        primary = _file_input("raw_events", "primary", name, fmt, seed=base + 1)
        secondary = (
            _file_input("raw_payments", "secondary", name, other, seed=base + 2) if i % 2 == 0 else None
        )
        return primary, secondary
    lo = max(0, i - UPSTREAM_WINDOW)
    up = planned[rng.randrange(lo, i)]
    primary = InputSpec(name=f"{up.name}_events", kind="port", role="primary", product=up.name, port="events")
    candidates = [p for p in planned[lo:i] if "summary" in p.ports and p.name != up.name]
    if not candidates:
        return primary, None
    side = rng.choice(candidates)
    secondary = InputSpec(
        name=f"{side.name}_summary", kind="port", role="secondary", product=side.name, port="summary"
    )
    return primary, secondary


def _plan_models(
    i: int, n_models: int, ports: tuple[str, ...], secondary: InputSpec | None, primary: InputSpec
) -> tuple[ModelSpec, ...]:
    stg = ModelSpec("stg_events", "stg_file" if primary.kind == "file" else "stg_port", input=primary.name)
    models = [stg]
    n_int = n_models - 1 - len(ports)
    prev = stg.name
    pending_secondary = secondary.name if secondary else None
    used: dict[str, int] = {}
    for k in range(n_int):
        cycled = INT_TEMPLATES[(i + k) % len(INT_TEMPLATES)]
        template = "enrich" if pending_secondary else cycled
        used[template] = used.get(template, 0) + 1
        suffix = f"_{used[template]}" if used[template] > 1 else ""
        name = f"int_events_{template}{suffix}"
        models.append(
            ModelSpec(
                name,
                template,
                prev=prev,
                base=stg.name,
                input=pending_secondary if template == "enrich" else None,
            )
        )
        pending_secondary = None
        prev = name
    models.append(ModelSpec("fct_events", "fct", prev=prev, input=pending_secondary, port="events"))
    if "summary" in ports:
        models.append(ModelSpec("agg_summary", "agg", prev=prev, port="summary"))
    return tuple(models)


def plan_mesh(products: int, models_per_product: int, rows: int, seed: int = 7) -> MeshSpec:
    """Plan `products` products of `models_per_product` models each (at least 2)."""
    if products < 1 or models_per_product < 2 or rows < 1:
        raise ValueError("need products >= 1, models_per_product >= 2 and rows >= 1")
    rng = random.Random(seed)
    planned: list[ProductSpec] = []
    for i in range(products):
        name = f"p{i:04d}"
        two_ports = models_per_product >= 3 and i % 4 != 3
        ports = ("events", "summary") if two_ports else ("events",)
        primary, secondary = _plan_inputs(i, name, rng, seed, planned)
        inputs = (primary, secondary) if secondary else (primary,)
        models = _plan_models(i, models_per_product, ports, secondary, primary)
        planned.append(
            ProductSpec(
                index=i,
                name=name,
                domain=DOMAINS[i % len(DOMAINS)],
                version=f"1.{i % 3}.0",
                inputs=inputs,
                models=models,
                ports=ports,
            )
        )
    return MeshSpec(products=tuple(planned), models_per_product=models_per_product, rows=rows, seed=seed)
