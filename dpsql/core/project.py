"""Domain values: products, models, relations, and the compiled project. All frozen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NewType

from dpsql.core.errors import Diagnostic, Location
from dpsql.core.relations import Relation, internal_schema, table_relation
from dpsql.core.sourcemap import TemplateMap
from dpsql.core.specs import InputSpec, OutputSpec, ProductSpec, WorkspaceConfig

if TYPE_CHECKING:
    from dpsql.core.lineage import ModelLineage

ModelId = NewType("ModelId", str)  # `<product>.<model>`, unique in a workspace


def model_id(product: str, model: str) -> ModelId:
    return ModelId(f"{product}.{model}")


class Materialization(StrEnum):
    """How a model becomes a relation in the warehouse (or none: ephemeral)."""

    VIEW = "view"
    TABLE = "table"
    INCREMENTAL = "incremental"
    EPHEMERAL = "ephemeral"


MATERIALIZATIONS = tuple(m.value for m in Materialization)


@dataclass(frozen=True)
class ModelSource:
    product: str
    name: str
    path: Path
    text: str

    @property
    def id(self) -> ModelId:
        return model_id(self.product, self.name)


@dataclass(frozen=True)
class Product:
    spec: ProductSpec
    models: tuple[ModelSource, ...]
    macro_files: tuple[Path, ...] = ()
    test_files: tuple[Path, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def model_names(self) -> frozenset[str]:
        return frozenset(m.name for m in self.models)

    @cached_property
    def port_of_model(self) -> Mapping[str, OutputSpec]:
        return MappingProxyType({o.model: o for o in self.spec.outputs})

    def model(self, name: str) -> ModelSource | None:
        return next((m for m in self.models if m.name == name), None)

    def port_model_id(self, port: str) -> ModelId | None:
        """The id of the model feeding output port `port`, if the port and its model exist."""
        spec = self.spec.output(port)
        if spec is None or spec.model not in self.model_names:
            return None
        return model_id(self.name, spec.model)

    def relation_of_model(self, model: str) -> Relation:
        port = self.port_of_model.get(model)
        if port is not None:
            return Relation(self.name, port.name)
        return Relation(internal_schema(self.name), model)

    def relation_of_input(self, spec: InputSpec) -> Relation:
        if spec.kind == "product":
            assert spec.product and spec.port
            return Relation(spec.product, spec.port)
        if spec.kind == "table":
            assert spec.table
            return table_relation(spec.table)
        return Relation(internal_schema(self.name), spec.name)


@dataclass(frozen=True)
class Project:
    config: WorkspaceConfig
    products: tuple[Product, ...]
    macro_files: tuple[Path, ...] = ()

    @property
    def root(self) -> Path:
        return self.config.root

    @cached_property
    def by_name(self) -> Mapping[str, Product]:
        return MappingProxyType({p.name: p for p in self.products})

    def product(self, name: str) -> Product | None:
        return self.by_name.get(name)


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class ModelConfig:
    materialized: Materialization
    tags: tuple[str, ...] = ()
    unique_key: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class CompiledModel:
    """A model after rendering, parsing and resolution."""

    source: ModelSource
    config: ModelConfig
    relation: Relation
    rendered_sql: str
    sql: str  # what is executed: relations fully qualified
    depends_on: tuple[str, ...]  # ids of models this one reads, in any product
    inputs: tuple[str, ...]  # names of this product's input ports read
    line_map: tuple[int, ...] = ()  # rendered line index -> template line
    columns: tuple[Column, ...] | None = None
    port: str | None = None  # the output port this model feeds
    lineage: ModelLineage | None = field(default=None, compare=False, repr=False)
    typed_by: str = ""  # how the columns were inferred and from what (compile.typing.standins.note)
    # incremental models: the SQL rendered with is_incremental() true (ephemerals inlined),
    # used at build time when the relation exists and the build is not a full refresh
    incremental_sql: str | None = None
    # config() key -> template line of the call that set it (for the source map)
    config_lines: tuple[tuple[str, int], ...] = ()
    # a digest of everything the model's entries in the manifests are made from: its binding's
    # cache key and the environment variables its template read, its typing's cache key and
    # how it was typed (None for a model not typed); equal keys, equal entries
    key: str | None = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> ModelId:
        return self.source.id

    @cached_property
    def template_map(self) -> TemplateMap:
        """Positions in the rendered SQL (and parsed tree) mapped back to the template."""
        return TemplateMap(self.source.path, self.source.text, self.rendered_sql, self.line_map,
                           MappingProxyType(dict(self.config_lines)))

    @property
    def product(self) -> str:
        return self.source.product

    @property
    def name(self) -> str:
        return self.source.name

    def location(self, rendered_line: int = 1, col: int = 0) -> Location:
        """The template line a line of the rendered SQL came from."""
        return Location(self.source.path, self.template_map.template_line(rendered_line), col)


@dataclass(frozen=True)
class DataTest:
    """A data test: a query that returns the rows breaking a rule (zero rows: it passes)."""

    name: str  # `unique(orders.orders.order_id)`, `orders.one_first_order_per_customer`
    kind: str  # not_null | unique | accepted_values | relationships | singular | a custom one
    product: str
    sql: str  # relations fully qualified, ephemeral models inlined
    depends_on: tuple[str, ...]  # ids of the models it reads
    location: Location
    model: str | None = None  # the id of the model whose relation is tested (None: an input)
    column: str | None = None
    check_sql: str = ""  # what runs: the first failing rows, each with the count of all of them
    severity: str = "error"  # `warn`: a failure is reported but fails neither build nor test run
    where: str | None = None  # the `where:` config: only the rows it keeps are tested
    input: str | None = None  # a test on an input of `product`: the input's name
    # the test's arguments as written in YAML (generic tests), for the dbt artifacts
    kwargs: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}),
                                         compare=False)


@dataclass(frozen=True)
class EngineSql:
    """What runs on a target whose engine is not DuckDB: each model's, incremental variant's
    and data test's SQL in that engine's dialect (by model id, and by the test's DuckDB SQL)."""

    engine: str
    models: Mapping[str, str]
    incremental: Mapping[str, str]
    tests: Mapping[str, str]


@dataclass(frozen=True)
class CompiledProject:
    project: Project
    models: Mapping[str, CompiledModel]
    order: tuple[str, ...]  # model ids in dependency order
    diagnostics: tuple[Diagnostic, ...] = ()
    sources: Mapping[tuple[str, str], tuple[Column, ...] | None] = field(
        default_factory=lambda: MappingProxyType({})
    )  # (product, input) -> columns of file and table inputs
    tests: tuple[DataTest, ...] = ()  # column tests from contracts, singular tests
    # environment variables the templates read, with the values they had (None: not set)
    env_read: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    engine_sql: EngineSql | None = None  # a Spark target's SQL (compile/translate.py)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    def downstream_map(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {m: [] for m in self.models}
        for model in self.models.values():
            for dep in model.depends_on:
                out[dep].append(model.id)
        return out
