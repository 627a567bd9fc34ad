"""What the YAML files declare, as frozen values: the workspace, products and their ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dpsql.core.errors import Location
from dpsql.core.sourcemap import KeyMap
from dpsql.core.versions import Version, VersionRange


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str | None
    description: str = ""
    tests: tuple[Any, ...] = ()
    location: Location | None = None
    classifications: tuple[str, ...] = ()  # `classification: pii` (or a list): policy labels
    label_location: Location | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InputSpec:
    """An input port: a file, a warehouse table, or another product's output port."""

    name: str
    kind: str  # "file" | "table" | "product"
    location: Location
    file: Path | None = None
    file_format: str | None = None
    column_types: tuple[tuple[str, str], ...] = ()  # a csv file's columns read as these types
    table: str | None = None
    product: str | None = None
    port: str | None = None
    version: VersionRange | None = None
    columns: tuple[ColumnSpec, ...] = ()
    description: str = ""
    keys: KeyMap | None = field(default=None, compare=False, repr=False)  # where each key is
    tests: tuple[Any, ...] = ()  # data tests on the whole input (not on one column)

    def key_location(self, key: str) -> Location:
        """Where `key:` of this input is written in product.yml (else the input itself)."""
        return self.keys.key(key) if self.keys is not None else self.location


@dataclass(frozen=True)
class Deprecation:
    """`deprecated: {since: 1.4.0, sunset: 2027-06-30, use: orders_v2}` on an output port."""

    location: Location
    since: Version | None = None
    sunset: date | None = None
    use: str | None = None  # a port of the same product, or `product.port`
    keys: KeyMap | None = field(default=None, compare=False, repr=False)  # where each key is

    def key_location(self, key: str) -> Location:
        return self.keys.key(key) if self.keys is not None else self.location

    def successor(self, product: str) -> tuple[str, str] | None:
        """The replacement as (product, port), `use: orders_v2` naming a port of `product`."""
        if not self.use:
            return None
        owner, _, port = self.use.rpartition(".")
        return (owner or product, port)


@dataclass(frozen=True)
class OutputSpec:
    name: str
    model: str
    location: Location
    description: str = ""
    columns: tuple[ColumnSpec, ...] | None = None  # None: no contract
    deprecated: Deprecation | None = None
    input: str | None = None  # `input: raw_orders`: the port publishes that input as it is


@dataclass(frozen=True)
class ModelSpec:
    """`models:` in product.yml: tests and descriptions of a model (internal or a port's), as
    dbt's schema.yml has them. Columns here carry tests, not a contract."""

    name: str
    location: Location
    description: str = ""
    columns: tuple[ColumnSpec, ...] = ()
    tests: tuple[Any, ...] = ()  # data tests on the whole model


@dataclass(frozen=True)
class ProductSpec:
    name: str
    path: Path  # the product folder
    yml: Path
    domain: str
    owner: str
    description: str
    version: Version
    tags: tuple[str, ...]
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    location: Location
    keys: KeyMap | None = field(default=None, compare=False, repr=False)  # where each key is
    models: tuple[ModelSpec, ...] = ()  # `models:`: tests on any model of the product

    def key_location(self, key: str) -> Location:
        """Where `key:` is written in product.yml (else the top of the file)."""
        return self.keys.key(key) if self.keys is not None else self.location

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    def output(self, name: str) -> OutputSpec | None:
        return next((o for o in self.outputs if o.name == name), None)


@dataclass(frozen=True)
class Target:
    """Where a workspace is built: one entry of `targets:` in dpsql.yml (or `warehouse:`)."""

    name: str
    type: str  # "duckdb" | "spark"
    location: Location | None = None  # where it is declared
    path: Path | None = None  # duckdb: the database file
    master: str | None = None  # spark local mode: `local[*]`
    remote: str | None = None  # spark connect: `sc://host:15002`
    warehouse_dir: Path | None = None  # spark: where tables are stored
    conf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def engine(self) -> str:
        return self.type


@dataclass(frozen=True)
class WorkspaceConfig:
    name: str
    root: Path
    warehouse: Path  # the DuckDB file, or a Spark target's warehouse_dir
    vars: Mapping[str, Any]
    threads: int
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    policies: Policies = field(default_factory=lambda: Policies())
    target: Target | None = None  # None: the DuckDB file `warehouse` (made by hand in tests)
    target_dir: Path | None = None  # where dpsql writes its outputs: target/ or target/<name>/
    # environment variables dpsql.yml read through env_var(), with their values (None: unset)
    env_read: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def engine(self) -> str:
        return self.target.type if self.target is not None else "duckdb"

    @property
    def outputs(self) -> Path:
        """The folder of dpsql's outputs for the chosen target (compiled SQL, cache, results)."""
        return self.target_dir if self.target_dir is not None else self.root / "target"


@dataclass(frozen=True)
class Classification:
    """`pii: {masked_by: [sha256, md5]}` under `policies: classifications:`."""

    name: str
    location: Location | None = None
    masked_by: tuple[tuple[str, Location | None], ...] = ()  # function name, where written

    @property
    def masks(self) -> frozenset[str]:
        return frozenset(name.lower() for name, _ in self.masked_by)


@dataclass(frozen=True)
class Policies:
    """`policies:` in dpsql.yml: rules every product is checked against."""

    require: tuple[tuple[str, Location | None], ...] = ()
    # a domain -> (where written, the domains its products may read with where each is written)
    domains: Mapping[str, tuple[Location | None, tuple[tuple[str, Location | None], ...]]] = field(
        default_factory=lambda: MappingProxyType({}))
    classifications: Mapping[str, Classification] = field(
        default_factory=lambda: MappingProxyType({}))

    def requires(self, rule: str) -> bool:
        return any(name == rule for name, _ in self.require)
