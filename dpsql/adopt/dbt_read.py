"""Read a dbt project: dbt_project.yml, models, property files (schema.yml), sources, seeds,
macros and local packages. Nothing is rendered: what a model reads is found from its
`ref()` and `source()` calls as written."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dpsql.adopt.dbt_config import (
    columns_of,
    folder_config,
    model_properties,
    seed_properties,
    tests_of,
)
from dpsql.adopt.dbt_tests import with_test_config
from dpsql.adopt.dbt_values import DbtGroup, DbtModel, DbtProject, DbtSeed, DbtSource
from dpsql.core.errors import DpsqlError, Location, error
from dpsql.load.files import file_format_of
from dpsql.load.textfile import read_text
from dpsql.load.yamlfile import load_yaml

PROJECT_FILE = "dbt_project.yml"
_SKIP = {"target", "dbt_packages", "dbt_modules", "logs", "node_modules"}
_ARGS = r"\(\s*((?:'[^']*'|\"[^\"]*\"|[\s,=\w])*)\)"
_REF = re.compile(r"\bref" + _ARGS)
_SOURCE = re.compile(r"\bsource" + _ARGS)
_STRING = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_VERSION = re.compile(r"\b(?:v|version)\s*=\s*['\"]?(\w+)")
_MATERIALIZED_IN_FILE = re.compile(r"config\s*\([^)]*\bmaterialized\s*=\s*['\"](\w+)")


def _yaml(path: Path) -> dict[str, Any]:
    data = load_yaml(path).data
    return data if isinstance(data, dict) else {}


def _paths(data: Mapping[str, Any], key: str, default: str) -> list[str]:
    value = data.get(key) or [default]
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _files(root: Path, folders: Iterable[str], suffixes: tuple[str, ...]) -> list[tuple[Path, str]]:
    """(file, path under its folder) for every file with one of `suffixes`, sorted."""
    found = []
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            parts = path.relative_to(base).parts
            if (path.is_file() and path.name.lower().endswith(suffixes)
                    and not any(p.startswith(".") or p in _SKIP for p in parts)):
                found.append((path, path.relative_to(base).as_posix()))
    return found


def read_dbt_project(root: Path) -> DbtProject:
    """Everything the importer needs from the dbt project in `root`."""
    root = root.resolve()
    path = root / PROJECT_FILE
    if not path.is_file():
        raise DpsqlError(error("DP010", f"no {PROJECT_FILE} in {root}", Location(root),
                               "pass the folder of a dbt project (the one holding "
                               f"{PROJECT_FILE})"))
    config = _yaml(path)
    name = str(config.get("name") or root.name)
    notes: list[str] = []
    docs = _docs(root, [*_paths(config, "model-paths", "models"),
                        *_paths(config, "docs-paths", "models")])
    test_config = config.get("data_tests", config.get("tests"))
    properties = [
        with_test_config(_with_docs(_yaml(p), docs),
                         folder_config(test_config, name, Path(rel).parts[:-1]))
        for p, rel in _files(root, [*_paths(config, "model-paths", "models"),
                                    *_paths(config, "seed-paths", "seeds")], (".yml", ".yaml"))]
    seeds = _seeds(root, config, name, properties)
    models = _models(root, config, name, properties, notes)
    models = _resolve_refs(models, {s.name for s in seeds}, notes)
    for kind, key, suffix in (("python model", "model-paths", ".py"),
                              ("snapshot", "snapshot-paths", ".sql")):
        default = "models" if key == "model-paths" else "snapshots"
        for _, rel in _files(root, _paths(config, key, default), (suffix,)):
            notes.append(f"{kind} {rel} is not carried over")
    singular, generic = _test_files(root, config, models)
    return DbtProject(
        name=name, root=root, vars=MappingProxyType(_vars(config.get("vars"), name)),
        models=tuple(models), seeds=tuple(seeds), sources=tuple(_sources(root, properties)),
        macro_files=tuple(_files(root, _paths(config, "macro-paths", "macros"), (".sql",))),
        packages=MappingProxyType(_packages(root, notes)),
        groups=MappingProxyType(_groups(properties)), notes=tuple(notes),
        singular_tests=tuple(singular), generic_test_files=tuple(generic))


_DOC_BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)
_DOC_CALL = re.compile(r"{{\s*doc\(\s*['\"](\w+)['\"]\s*\)\s*}}")


def _docs(root: Path, folders: Iterable[str]) -> dict[str, str]:
    """dbt's `{% docs name %}` blocks of the project's markdown files."""
    found: dict[str, str] = {}
    for path, _ in _files(root, dict.fromkeys(folders), (".md",)):
        for name, body in _DOC_BLOCK.findall(read_text(path)):
            found[name] = body.strip()
    return found


def _with_docs(value: Any, docs: Mapping[str, str]) -> Any:
    """`{{ doc("name") }}` in descriptions replaced by the block's text."""
    if isinstance(value, str) and "doc(" in value:
        return _DOC_CALL.sub(lambda m: docs.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _with_docs(v, docs) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_docs(v, docs) for v in value]
    return value


def _vars(raw: Any, project: str) -> dict[str, Any]:
    """Global vars, with the project's own scope (`vars: {jaffle_shop: {...}}`) flattened."""
    if not isinstance(raw, dict):
        return {}
    out = {k: v for k, v in raw.items() if not isinstance(v, dict) or k != project}
    out.update(raw.get(project) or {})
    return out


def _models(root: Path, config: Mapping[str, Any], project: str,
            properties: list[dict[str, Any]], notes: list[str]) -> list[DbtModel]:
    described = model_properties(properties)
    models: list[DbtModel] = []
    files = _files(root, _paths(config, "model-paths", "models"), (".sql",))
    stems = {Path(rel).stem for _, rel in files}
    for path, rel in files:
        stem = Path(rel).stem
        cfg = folder_config(config.get("models"), project, Path(rel).parts[:-1])
        props = described.get(stem, {})
        cfg.update(props.get("config", {}))
        if cfg.get("enabled") is False:
            notes.append(f"model `{stem}` is disabled in dbt; it is left out")
            continue
        text = read_text(path)
        in_file = _MATERIALIZED_IN_FILE.search(text)
        tags = cfg.get("tags") or ()
        models.append(DbtModel(
            name=props.get("relation") or _unfiled_version(stem, props, stems), path=path,
            rel=rel, text=text,
            materialized=in_file.group(1) if in_file else str(cfg.get("materialized") or "view"),
            config_in_file=in_file is not None,
            tags=(tags,) if isinstance(tags, str) else tuple(str(t) for t in tags),
            group=str(cfg.get("group") or ""), access=str(cfg.get("access") or "protected"),
            description=str(props.get("description") or ""),
            columns=props.get("columns", ()), tests=props.get("tests", ()),
            contract=bool(props.get("contract")),
            refs=tuple(_REF.findall(text)), sources=tuple(_source_calls(text))))
    return models


def _unfiled_version(stem: str, props: Mapping[str, Any], stems: set[str]) -> str:
    """`stem`, or for the file named like a versioned model, the relation of the (highest)
    version whose own file does not exist: dbt builds that version from it."""
    missing = [v for v, file in props.get("versions", ()) if file not in stems]
    numbered = sorted(missing, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))
    return f"{stem}_v{numbered[-1]}" if numbered else stem


def _test_files(root: Path, config: Mapping[str, Any], models: list[DbtModel]
               ) -> tuple[list[tuple[Path, str, tuple[str, ...]]], list[tuple[Path, str]]]:
    """The project's singular tests, and the files of its test folders that hold generic
    tests (`{% test %}` blocks, as in `tests/generic/`)."""
    names = {m.name for m in models}
    out = []
    generic = []
    for path, rel in _files(root, _paths(config, "test-paths", "tests"), (".sql",)):
        text = read_text(path)
        if re.search(r"{%-?\s*test\s", text):
            generic.append((path, rel))
            continue
        refs = []
        for args in _REF.findall(text):
            strings = [a or b for a, b in _STRING.findall(args)]
            version = _VERSION.search(args)
            if strings:
                refs.append(_node(strings[-1], version.group(1) if version else None, names))
        out.append((path, rel, tuple(dict.fromkeys(refs))))
    return out, generic


def _source_calls(text: str) -> list[tuple[str, str]]:
    calls = []
    for args in _SOURCE.findall(text):
        strings = [a or b for a, b in _STRING.findall(args)]
        if len(strings) == 2:
            calls.append((strings[0], strings[1]))
    return calls


def _resolve_refs(models: list[DbtModel], seeds: set[str], notes: list[str]) -> list[DbtModel]:
    """Each model's refs as node names: `ref('m', v=2)` is `m_v2`, `ref('m')` m's latest."""
    names = {m.name for m in models}
    out = []
    for model in models:
        refs: list[str] = []
        for args in model.refs:
            strings = [a or b for a, b in _STRING.findall(args)]
            if not strings:
                continue
            version = _VERSION.search(args)
            target = _node(strings[-1], version.group(1) if version else None, names)
            if target in names or target in seeds:
                refs.append(target)
            else:
                notes.append(f"model `{model.name}` refs `{strings[-1]}`, which is neither a "
                             "model nor a seed of the project")
        out.append(replace(model, refs=tuple(dict.fromkeys(refs))))
    return out


def _node(name: str, version: str | None, names: set[str]) -> str:
    if version is not None:
        return f"{name}_v{version}"
    if name in names:
        return name
    numbered = sorted((int(n[len(name) + 2:]), n) for n in names
                      if n.startswith(f"{name}_v") and n[len(name) + 2:].isdigit())
    return numbered[-1][1] if numbered else name


def _seeds(root: Path, config: Mapping[str, Any], project: str,
           properties: list[dict[str, Any]]) -> list[DbtSeed]:
    seeds = []
    for path, rel in _files(root, _paths(config, "seed-paths", "seeds"), (".csv", ".csv.gz")):
        name = path.name[: -len(".csv.gz")] if path.name.endswith(".gz") else path.stem
        props = seed_properties(config.get("seeds"), project, rel, name, properties)
        seeds.append(DbtSeed(name, path, MappingProxyType(props["column_types"]),
                             props["description"], props["columns"], props["tests"]))
    return seeds


def _sources(root: Path, properties: list[dict[str, Any]]) -> list[DbtSource]:
    out = []
    for doc in properties:
        for source in doc.get("sources") or ():
            if not isinstance(source, dict) or not source.get("name"):
                continue
            schema = str(source.get("schema") or source["name"])
            for table in source.get("tables") or ():
                if not isinstance(table, dict) or not table.get("name"):
                    continue
                identifier = str(table.get("identifier") or table["name"])
                out.append(DbtSource(
                    str(source["name"]), str(table["name"]), f"{schema}.{identifier}",
                    _external_file(root, source, table, identifier),
                    str(table.get("description") or ""), columns_of(table.get("columns")),
                    tests_of(table)))
    return out


def _external_file(root: Path, source: dict[str, Any], table: dict[str, Any],
                   identifier: str) -> Path | None:
    """dbt-duckdb's `external_location` (on the table, else the source, with `{name}`), when
    it names a local csv, parquet or json file."""
    for owner in (table, source):
        for holder in (owner.get("meta") or {}, owner.get("config") or {}):
            location = holder.get("external_location") if isinstance(holder, dict) else None
            if isinstance(location, str):
                quoted = _STRING.search(location)
                text = (quoted.group(1) or quoted.group(2)) if quoted else location
                text = text.replace("{name}", str(table["name"])).replace(
                    "{identifier}", identifier)
                path = (root / text).resolve()
                if path.is_file() and file_format_of(path):
                    return path
    return None


def _packages(root: Path, notes: list[str]) -> dict[str, tuple[tuple[Path, str], ...]]:
    """Local packages: dbt_packages/* (installed) and `local:` entries of packages.yml."""
    folders = sorted(p for p in (root / "dbt_packages").glob("*") if p.is_dir())
    for name in ("packages.yml", "dependencies.yml"):
        if (root / name).is_file():
            for entry in _yaml(root / name).get("packages") or ():
                if isinstance(entry, dict) and entry.get("local"):
                    folders.append((root / str(entry["local"])).resolve())
                elif isinstance(entry, dict) and entry.get("package"):
                    installed = root / "dbt_packages" / str(entry["package"]).split("/")[-1]
                    if not installed.is_dir():
                        notes.append(f"package `{entry['package']}` is not installed "
                                     "(run `dbt deps` first to import its macros)")
    out: dict[str, tuple[tuple[Path, str], ...]] = {}
    for folder in folders:
        config = _yaml(folder / PROJECT_FILE) if (folder / PROJECT_FILE).is_file() else {}
        name = str(config.get("name") or folder.name)
        out[name] = tuple(_files(folder, _paths(config, "macro-paths", "macros"), (".sql",)))
    return out


def _groups(properties: list[dict[str, Any]]) -> dict[str, DbtGroup]:
    out = {}
    for doc in properties:
        for group in doc.get("groups") or ():
            if isinstance(group, dict) and group.get("name"):
                owner = group.get("owner") or {}
                who = owner.get("email") or owner.get("name") if isinstance(owner, dict) else ""
                out[str(group["name"])] = DbtGroup(str(group["name"]), str(who or ""))
    return out


def relation_named(text: str, names: set[str]) -> tuple[str, str] | None:
    """What a test's `to: ref('m')` / `ref('m', v=2)` / `source('s', 't')` names:
    ("ref", node) with the version resolved, or ("source", "s.t"); None for anything else."""
    text = text.strip()
    for kind, pattern in (("ref", _REF), ("source", _SOURCE)):
        found = pattern.fullmatch(text)
        if found is None:
            continue
        strings = [a or b for a, b in _STRING.findall(found.group(1))]
        if kind == "source":
            return ("source", f"{strings[0]}.{strings[1]}") if len(strings) == 2 else None
        version = _VERSION.search(found.group(1))
        return ("ref", _node(strings[-1], version.group(1) if version else None, names)) \
            if strings else None
    return None
