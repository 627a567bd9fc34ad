"""The engine boundary: every target type has an engine that gives the whole interface, an
engine type nobody serves is a clear error, and what DuckDB's engine reads of a built
warehouse is what DuckDB's own catalog says."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import BASE, explain, run_cli, write_files

from dpsql.build.engines.base import Engine
from dpsql.build.engines.registry import ENGINES, engine_for
from dpsql.core.errors import DpsqlError, Location
from dpsql.core.relations import Relation
from dpsql.core.specs import Target, WorkspaceConfig
from dpsql.load.config import load_workspace
from dpsql.load.targets import TYPES

_OPERATIONS = [name for name, value in vars(Engine).items()
               if not name.startswith("_") and inspect.isfunction(value)]


def _config(root: Path, kind: str) -> WorkspaceConfig:
    target = Target("t", kind, Location(root / "dpsql.yml", 3, 5))
    return WorkspaceConfig("w", root, root / "wh.duckdb", {}, 1, target=target)


@pytest.mark.parametrize("kind", TYPES)
def test_every_target_type_has_an_engine_with_the_whole_interface(tmp_path: Path,
                                                                  kind: str) -> None:
    assert set(ENGINES) == set(TYPES)  # what dpsql.yml accepts is what can be built
    config = _config(tmp_path, kind)
    engine = engine_for(config)
    assert isinstance(engine, Engine)
    assert engine.name == kind and engine.config is config
    assert {"build", "run_tests", "run_query", "catalog", "columns", "stored",
            "type_name"} <= set(_OPERATIONS)
    for operation in _OPERATIONS:  # the same parameters, in the same order, as the interface
        wanted = list(inspect.signature(getattr(Engine, operation)).parameters)
        assert list(inspect.signature(getattr(type(engine), operation)).parameters) == wanted


def test_an_object_without_the_operations_is_no_engine() -> None:
    class Partial:
        name = "partial"
        config = None

        def build(self) -> None: ...

    assert not isinstance(Partial(), Engine)


def test_a_type_no_engine_serves_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DpsqlError) as raised:
        engine_for(_config(tmp_path, "oracle"))
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "DP003" and "`oracle`" in diagnostic.message
    assert diagnostic.location == Location(tmp_path / "dpsql.yml", 3, 5)
    assert diagnostic.hint == "supported types: duckdb, spark"
    # in dpsql.yml, the loader says so before any engine is looked for
    root = write_files(tmp_path / "w", {**BASE, "dpsql.yml": BASE["dpsql.yml"].replace(
        "warehouse: wh.duckdb", "targets:\n  dev: {type: oracle}")})
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 1, explain(result)
    assert "DP003" in result.output and "supported types: duckdb, spark" in result.output
    assert "Traceback" not in result.output and not (root / "wh.duckdb").exists()


def _duck(root: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_duckdb_engine_reads_what_duckdb_says_was_published(tiny: Path) -> None:
    engine = engine_for(load_workspace(tiny))
    with pytest.raises(DpsqlError) as raised:  # nothing built yet
        engine.catalog()
    assert raised.value.diagnostics[0].code == "DP402"
    result = run_cli("build", "-p", str(tiny))
    assert result.exit_code == 0, explain(result)
    tables = _duck(tiny, "select table_schema, table_name, table_type from "
                         "information_schema.tables where table_catalog = current_database()")
    catalog = engine.catalog()
    assert catalog.kinds == {Relation(s, n): "view" if t == "VIEW" else "table"
                             for s, n, t in tables}
    assert {s for s, _, _ in tables} <= catalog.schemas
    ports = [Relation("items", "items"), Relation("shops", "shop_totals")]
    columns = engine.columns([*ports, Relation("nowhere", "nothing")])
    assert set(columns) == set(ports)
    for relation in ports:
        described = [(r[0], r[1]) for r in _duck(tiny, f"describe {relation.sql}")]
        assert [(c.name, c.type) for c in columns[relation]] == described
        assert [engine.type_name(c.type) for c in columns[relation]] == [t for _, t in described]
    results = json.loads((tiny / "target" / "run_results.json").read_text(encoding="utf-8"))
    built = {r["id"]: r["relation"] for r in results["results"] if r["status"] == "success"}
    stored = engine.stored()
    assert len(built) == 3 and {i: stored[i].relation for i in built} == built
