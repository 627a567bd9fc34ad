"""A dbt project as read by the importer: frozen values, nothing rendered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class DbtColumn:
    name: str
    description: str = ""
    data_type: str = ""
    tests: tuple[Any, ...] = ()  # as written: `unique`, `{accepted_values: {values: [...]}}`


@dataclass(frozen=True)
class DbtModel:
    """One model node; a versioned model gives one node per version (`dim_customers_v2`)."""

    name: str  # the relation name dbt builds: `orders`, `dim_customers_v2`
    path: Path
    rel: str  # the file's path under its model folder, posix: `staging/stg_orders.sql`
    text: str
    materialized: str = "view"
    config_in_file: bool = False  # the file calls config(materialized=...) itself
    tags: tuple[str, ...] = ()
    group: str = ""
    access: str = "protected"
    description: str = ""
    columns: tuple[DbtColumn, ...] = ()
    tests: tuple[Any, ...] = ()  # tests on the whole model, as written
    contract: bool = False
    refs: tuple[str, ...] = ()  # names of models or seeds it refs, versions resolved
    sources: tuple[tuple[str, str], ...] = ()  # (source, table) pairs it reads

    @property
    def folders(self) -> tuple[str, ...]:
        return tuple(Path(self.rel).parts[:-1])


@dataclass(frozen=True)
class DbtSeed:
    name: str
    path: Path
    column_types: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    columns: tuple[DbtColumn, ...] = ()
    tests: tuple[Any, ...] = ()


@dataclass(frozen=True)
class DbtSource:
    source: str
    table: str
    relation: str  # `schema.identifier`, what dbt reads
    file: Path | None = None  # dbt-duckdb's external_location, when it is a local file
    description: str = ""
    columns: tuple[DbtColumn, ...] = ()
    tests: tuple[Any, ...] = ()


@dataclass(frozen=True)
class DbtGroup:
    name: str
    owner: str = ""  # the owner's email, else name


@dataclass(frozen=True)
class DbtProject:
    name: str
    root: Path
    vars: Mapping[str, Any]
    models: tuple[DbtModel, ...]
    seeds: tuple[DbtSeed, ...]
    sources: tuple[DbtSource, ...]
    macro_files: tuple[tuple[Path, str], ...]  # (file, path under its macro folder)
    packages: Mapping[str, tuple[tuple[Path, str], ...]]  # namespace -> its macro files
    groups: Mapping[str, DbtGroup]
    notes: tuple[str, ...] = ()  # what was read but cannot be carried over
    # singular tests: (file, path under its test folder, the models and seeds it refs)
    singular_tests: tuple[tuple[Path, str, tuple[str, ...]], ...] = ()
    # generic tests in the test folders (`tests/generic/*.sql`): (file, path under its folder)
    generic_test_files: tuple[tuple[Path, str], ...] = ()

    def model(self, name: str) -> DbtModel | None:
        return next((m for m in self.models if m.name == name), None)

    def seed(self, name: str) -> DbtSeed | None:
        return next((s for s in self.seeds if s.name == name), None)
