"""target/dbt/manifest.json and run_results.json in dbt's published artifact schemas (manifest
v12, run-results v6), for the tools that read dbt's artifacts (catalogs, lineage viewers,
observability). dpsql's own target/manifest.json and run_results.json are unchanged.

How dpsql maps onto dbt's nodes (see docs/manifest.md):

    a product              a package: `package_name` is the product's name
    a model                `model.<product>.<model>`, schema and alias its relation
    a file or table input  a source, `source.<product>.<product>.<input>`
    a data test            `test.<product>.<name>`, attached to the model it tests
    another product's port read through an input: a dependency on that port's model node
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpsql.core import __version__
from dpsql.core.project import CompiledModel, CompiledProject, DataTest, Product
from dpsql.core.specs import ColumnSpec, InputSpec
from dpsql.outputs.artifacts import open_fragments, target_dir, write_json
from dpsql.outputs.fragments import Fragments

if TYPE_CHECKING:
    from dpsql.build.results import CheckResult, ModelResult, RunResult, TestRun

MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json"
DBT_VERSION = "1.10.0"  # the dbt version whose artifact schemas these files follow
INVOCATION = str(uuid.uuid4())  # one per dpsql process, as dbt has one per invocation

# dpsql's statuses in dbt's words (models: success, error, skipped; tests: pass, fail, warn, error)
_MODEL_STATUS = {"success": "success", "unchanged": "success", "error": "error",
                 "fail": "error", "skipped": "skipped", "interrupted": "error",
                 "not_run": "skipped"}


def dbt_dir(compiled: CompiledProject) -> Path:
    return target_dir(compiled) / "dbt"


def model_uid(mid: str) -> str:
    product, _, name = mid.partition(".")
    return f"model.{product}.{name}"


def test_uid(test: DataTest) -> str:
    """dbt's `test.<package>.<name>.<hash>`; the hash covers the arguments too, as two uses
    of one custom test on one column differ only by them."""
    slug = re.sub(r"[^0-9A-Za-z_]+", "_", test.name).strip("_").lower()
    key = test.name + (json.dumps(dict(test.kwargs), sort_keys=True, default=str)
                       if test.kwargs else "")
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"test.{test.product}.{slug}.{digest}"


def source_uid(product: str, input_name: str) -> str:
    return f"source.{product}.{product}.{input_name}"


def _now() -> str:
    return datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")


def _database(compiled: CompiledProject) -> str:
    return compiled.project.config.warehouse.stem


def _rel(path: Path, root: Path) -> str:
    """`path` relative to `root` (the loader's paths are under the resolved workspace root)."""
    text, base = str(path), str(root)
    if os.sep == "/" and text.startswith(base) and text[len(base):len(base) + 1] == "/":
        return text[len(base) + 1:]  # what relative_to gives, without pathlib's parsing
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _checksum(text: str) -> dict[str, str]:
    return {"name": "sha256", "checksum": hashlib.sha256(text.encode()).hexdigest()}


def _column(spec: ColumnSpec | None, name: str, type_: str | None) -> dict[str, Any]:
    return {"name": name, "description": spec.description if spec else "", "meta": {},
            "data_type": (spec.type if spec and spec.type else type_), "constraints": [],
            "quote": None, "tags": list(spec.classifications) if spec else []}


def _model_columns(compiled: CompiledProject, model: CompiledModel) -> dict[str, Any]:
    product = compiled.project.by_name[model.product]
    port = product.spec.output(model.port) if model.port else None
    specs = {c.name: c for c in (port.columns or ())} if port else {}
    names = [(c.name, c.type) for c in model.columns] if model.columns is not None else [
        (name, None) for name in specs]
    return {name: _column(specs.get(name), name, type_) for name, type_ in names}


def _model_parents(compiled: CompiledProject, model: CompiledModel) -> list[str]:
    product = compiled.project.by_name[model.product]
    parents = [model_uid(d) for d in model.depends_on]
    return parents + [source_uid(model.product, i) for i in model.inputs
                      if (spec := product.spec.input(i)) is not None and spec.kind != "product"]


def _model_node(compiled: CompiledProject, model: CompiledModel) -> dict[str, Any]:
    root = compiled.project.root
    product = compiled.project.by_name[model.product]
    parents = _model_parents(compiled, model)
    tags = sorted({*model.config.tags, *product.spec.tags})
    port = product.spec.output(model.port) if model.port else None
    return {
        "database": _database(compiled), "schema": model.relation.schema, "name": model.name,
        "resource_type": "model", "package_name": model.product,
        "path": _rel(model.source.path, product.spec.path),
        "original_file_path": _rel(model.source.path, root),
        "unique_id": model_uid(model.id), "fqn": [model.product, model.name],
        "alias": model.relation.name, "checksum": _checksum(model.source.text),
        "config": {"enabled": True, "materialized": str(model.config.materialized),
                   "tags": tags, "schema": model.relation.schema,
                   "unique_key": list(model.config.unique_key) or None,
                   "contract": {"enforced": bool(port and port.columns)}},
        "tags": tags, "description": (port.description if port else "")
        or model.config.description,
        "columns": _model_columns(compiled, model), "meta": {},
        "relation_name": f"{_database(compiled)}.{model.relation.sql}",
        "raw_code": model.source.text, "language": "sql", "refs": [], "sources": [],
        "depends_on": {"macros": [], "nodes": parents},
        "compiled_path": f"target/compiled/{model.product}/{model.name}.sql",
        "compiled": True, "compiled_code": model.sql,
        "access": "public" if model.port else "protected",
    }


def _test_node(compiled: CompiledProject, test: DataTest) -> dict[str, Any]:
    root = compiled.project.root
    product = compiled.project.by_name[test.product]
    generic = test.kind != "singular"
    uid = test_uid(test)
    name = uid.split(".")[2]
    node: dict[str, Any] = {
        "database": _database(compiled), "schema": f"{test.product}_dbt_test__audit",
        "name": name, "resource_type": "test",
        "package_name": test.product,
        "path": _rel(test.location.path, product.spec.path),
        "original_file_path": _rel(test.location.path, root),
        "unique_id": uid, "fqn": [test.product, name],
        "alias": name, "checksum": _checksum(test.sql),
        "config": {"enabled": True, "materialized": "test", "severity": test.severity.upper(),
                   "where": test.where, "tags": []},
        "tags": [], "description": "", "columns": {}, "meta": {}, "raw_code": test.sql,
        "language": "sql", "refs": [], "sources": [],
        "depends_on": {"macros": [], "nodes": _test_parents(compiled, test)},
        "compiled": True, "compiled_code": test.sql,
    }
    if generic:
        kwargs = dict(test.kwargs)
        if test.column is not None:
            kwargs.setdefault("column_name", test.column)
        node.update(column_name=test.column, attached_node=model_uid(test.model)
                    if test.model is not None and test.model in compiled.models else None,
                    test_metadata={"name": test.kind, "kwargs": kwargs, "namespace": None})
    return node


def _test_parents(compiled: CompiledProject, test: DataTest) -> list[str]:
    parents = [model_uid(d) for d in test.depends_on if d in compiled.models]
    if test.input is not None and not parents:  # a test on a file or table input: a source
        parents.append(source_uid(test.product, test.input))
    return parents


def _source_node(compiled: CompiledProject, product: Product, spec: InputSpec
                 ) -> dict[str, Any]:
    root = compiled.project.root
    relation = product.relation_of_input(spec)
    found = compiled.sources.get((product.name, spec.name))
    names = [(c.name, c.type) for c in found] if found else [(c.name, c.type)
                                                            for c in spec.columns]
    specs = {c.name: c for c in spec.columns}
    return {
        "database": _database(compiled), "schema": relation.schema, "name": spec.name,
        "resource_type": "source", "package_name": product.name,
        "path": _rel(product.spec.yml, product.spec.path),
        "original_file_path": _rel(product.spec.yml, root),
        "unique_id": source_uid(product.name, spec.name),
        "fqn": [product.name, product.name, spec.name], "source_name": product.name,
        "source_description": product.spec.description, "loader": spec.kind,
        "identifier": relation.name, "description": spec.description,
        "columns": {n: _column(specs.get(n), n, t) for n, t in names}, "meta": {},
        "source_meta": {}, "tags": [], "config": {"enabled": True},
        "relation_name": f"{_database(compiled)}.{relation.sql}",
        **({"external": {"location": _rel(spec.file, root)}} if spec.file else {}),
    }


def dbt_manifest(compiled: CompiledProject, fragments: Fragments | None = None
                 ) -> dict[str, Any]:
    """The workspace as a dbt manifest (schema v12); with `fragments`, a model's node may be
    the bytes written last time."""
    nodes: dict[str, Any] = {}
    parent_map: dict[str, list[str]] = {}
    for mid in compiled.order:
        model = compiled.models.get(mid)
        if model is not None:
            uid = model_uid(mid)
            nodes[uid] = (_model_node(compiled, model) if fragments is None else fragments.entry(
                uid, model.key, functools.partial(_model_node, compiled, model)))
            parent_map[uid] = _model_parents(compiled, model)
    for test in compiled.tests:
        node = _test_node(compiled, test)
        nodes[node["unique_id"]] = node
        parent_map[node["unique_id"]] = list(node["depends_on"]["nodes"])
    sources = {source_uid(p.name, i.name): _source_node(compiled, p, i)
               for p in compiled.project.products for i in p.spec.inputs if i.kind != "product"}
    parent_map.update({uid: [] for uid in sources})
    child_map: dict[str, list[str]] = {uid: [] for uid in parent_map}
    for uid, parents in parent_map.items():
        for parent in parents:
            child_map.setdefault(parent, []).append(uid)
    return {
        "metadata": {"dbt_schema_version": MANIFEST_SCHEMA, "dbt_version": DBT_VERSION,
                     "generated_at": _now(), "invocation_id": INVOCATION, "env": {},
                     "project_name": compiled.project.config.name, "adapter_type": "duckdb",
                     "send_anonymous_usage_stats": False},
        "nodes": nodes, "sources": sources, "macros": {}, "docs": {}, "exposures": {},
        "metrics": {}, "groups": {}, "selectors": {}, "disabled": {},
        "parent_map": parent_map, "child_map": {k: sorted(v) for k, v in child_map.items()},
        "group_map": {}, "saved_queries": {}, "semantic_models": {}, "unit_tests": {},
    }


def write_dbt_manifest(compiled: CompiledProject) -> Path:
    path = dbt_dir(compiled) / "manifest.json"
    places: dict[str, dict[str, tuple[int, int]]] = {}
    with open_fragments(compiled, path) as fragments:
        write_json(path, dbt_manifest(compiled, fragments), compact=True, places=places)
        fragments.save(places.get("nodes", {}))
    return path


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def _timing(started: float, seconds: float) -> list[dict[str, str]]:
    if not started:
        return []
    return [{"name": "execute", "started_at": _iso(started),
             "completed_at": _iso(started + seconds)}]


def _model_result(compiled: CompiledProject, result: ModelResult) -> dict[str, Any]:
    model = compiled.models.get(result.id)
    return {"status": _MODEL_STATUS.get(result.status, "error"),
            "timing": _timing(result.started_at, result.seconds), "thread_id": "Thread-1",
            "execution_time": round(result.seconds, 4),
            "adapter_response": {"rows_affected": result.rows} if result.rows is not None
            else {},
            "message": result.message or result.status.upper(), "failures": None,
            "unique_id": model_uid(result.id),
            "compiled": model is not None, "compiled_code": model.sql if model else None,
            "relation_name": f"{_database(compiled)}.{model.relation.sql}" if model else None}


def _test_result(test: DataTest, check: CheckResult, started: float = 0.0) -> dict[str, Any]:
    status = {"pass": "pass", "fail": "fail", "warn": "warn"}.get(check.status, "error")
    return {"status": status, "timing": _timing(started, check.seconds),
            "thread_id": "Thread-1", "execution_time": round(check.seconds, 4),
            "adapter_response": {}, "message": check.message or None,
            "failures": check.failures, "unique_id": test_uid(test), "compiled": True,
            "compiled_code": test.sql, "relation_name": None}


def _write_results(compiled: CompiledProject, results: Iterable[dict[str, Any]],
                   seconds: float) -> Path:
    path = dbt_dir(compiled) / "run_results.json"
    write_json(path, {
        "metadata": {"dbt_schema_version": RUN_RESULTS_SCHEMA, "dbt_version": DBT_VERSION,
                     "generated_at": _now(), "invocation_id": INVOCATION, "env": {}},
        "results": list(results), "elapsed_time": round(seconds, 4),
        "args": {"which": "dpsql", "dpsql_version": __version__}})
    return path


def write_dbt_run_results(compiled: CompiledProject, run: RunResult) -> Path:
    """A build's results: one per model, and one per data test run on a new version."""
    tests = {t.name: t for t in compiled.tests}
    out = [_test_result(tests[c.name], c) for c in run.input_checks if c.name in tests]
    for result in run.results:
        out.append(_model_result(compiled, result))
        out.extend(_test_result(tests[c.name], c, result.started_at)
                   for c in result.checks if c.name in tests)
    return _write_results(compiled, out, run.seconds)


def write_dbt_test_results(compiled: CompiledProject, run: TestRun) -> Path:
    """`dpsql test`'s results, one per data test (dbt test writes run_results.json too)."""
    tests = {t.name: t for t in compiled.tests}
    return _write_results(compiled, (_test_result(tests[c.name], c) for c in run.results
                                     if c.name in tests), run.seconds)
