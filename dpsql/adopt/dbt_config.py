"""dbt configs as dbt resolves them: folder-level configs of dbt_project.yml (`+materialized`
under the project's name and its subfolders), then a resource's own properties."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dpsql.adopt.dbt_values import DbtColumn

# config keys whose value is a mapping (any other mapping under `models:` is a subfolder)
_MAPPING_CONFIGS = {"docs", "meta", "contract", "persist_docs", "column_types", "grants",
                    "labels", "config"}


def _apply(node: Mapping[str, Any], out: dict[str, Any]) -> None:
    for key, value in node.items():
        key = str(key)
        if key.startswith("+"):
            out[key[1:]] = value
        elif not isinstance(value, dict) or key in _MAPPING_CONFIGS:
            out[key] = value


def folder_config(raw: Any, project: str, folders: Iterable[str]) -> dict[str, Any]:
    """The configs dbt_project.yml gives a resource in `folders` (deepest wins)."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return out
    _apply(raw, out)
    node = raw.get(project)
    for part in (None, *folders):
        if part is not None:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        _apply(node, out)
    return out


def tests_of(raw: Any) -> tuple[Any, ...]:
    """The tests of a resource or column as written (`data_tests:`, or the older `tests:`)."""
    if not isinstance(raw, dict):
        return ()
    tests = raw.get("data_tests") or raw.get("tests") or ()
    return tuple(tests) if isinstance(tests, list) else ()


def columns_of(raw: Any) -> tuple[DbtColumn, ...]:
    columns = []
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, dict) and item.get("name"):
            columns.append(DbtColumn(str(item["name"]), str(item.get("description") or ""),
                                     str(item.get("data_type") or ""), tests_of(item)))
    return tuple(columns)


def model_properties(properties: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """File stem -> description, columns, config and contract from the `models:` of property
    files; a versioned model gives one entry per version, with the relation dbt names it."""
    out: dict[str, dict[str, Any]] = {}
    for doc in properties:
        for model in doc.get("models") or ():
            if not isinstance(model, dict) or not model.get("name"):
                continue
            name = str(model["name"])
            config = dict(model.get("config") or {})
            for key in ("group", "access", "tags", "materialized"):
                if key in model:
                    config.setdefault(key, model[key])
            contract = config.get("contract")
            base = {"description": model.get("description") or "",
                    "columns": columns_of(model.get("columns")), "config": config,
                    "tests": tests_of(model),
                    "contract": isinstance(contract, dict) and bool(contract.get("enforced"))}
            versions = [v for v in model.get("versions") or () if isinstance(v, dict)]
            if not versions:
                out[name] = base
            else:  # a file named like the model holds the version that has no file of its own
                out[name] = {**base, "versions": [
                    (str(v.get("v")), str(v.get("defined_in") or f"{name}_v{v.get('v')}"))
                    for v in versions]}
            for version in versions:
                stem = str(version.get("defined_in") or f"{name}_v{version.get('v')}")
                out[stem] = {**base, "relation": f"{name}_v{version.get('v')}"}
    return out


def seed_properties(raw: Any, project: str, rel: str, name: str,
                    properties: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A seed's column_types (dbt_project.yml, then its properties), description, columns
    and tests."""
    config = folder_config(raw, project, (*Path(rel).parts[:-1], name))
    types = dict(config.get("column_types") or {})
    out: dict[str, Any] = {"description": "", "columns": (), "tests": ()}
    for doc in properties:
        for seed in doc.get("seeds") or ():
            if isinstance(seed, dict) and seed.get("name") == name:
                types.update((seed.get("config") or {}).get("column_types") or {})
                out = {"description": str(seed.get("description") or ""),
                       "columns": columns_of(seed.get("columns")), "tests": tests_of(seed)}
    return {**out, "column_types": {str(k): str(v) for k, v in types.items()}}
