"""Read and validate dpsql.yml and product.yml into frozen values.

This is the one module that reads environment variables (for `env_var()` in templates).
Every problem found is collected as a diagnostic with the file and line, so that a project
with several mistakes hears about all of them at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dpsql.core.errors import Diagnostic, DpsqlError, Location, closest, error
from dpsql.core.specs import ColumnSpec, InputSpec, OutputSpec, ProductSpec, WorkspaceConfig
from dpsql.core.versions import Version, parse_range, parse_version
from dpsql.load.files import resolve
from dpsql.load.yamlfile import KeyPath, YamlDoc, load_yaml

WORKSPACE_FILE = "dpsql.yml"
PRODUCT_FILE = "product.yml"
FILE_FORMATS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".json": "json",
                ".jsonl": "json", ".ndjson": "json"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_WORKSPACE_KEYS = {"name", "warehouse", "vars", "threads", "description"}
_PRODUCT_KEYS = {"name", "domain", "owner", "description", "version", "tags", "inputs", "outputs"}
_INPUT_KEYS = {"name", "file", "format", "table", "product", "port", "version", "columns",
               "description"}
_OUTPUT_KEYS = {"name", "model", "description", "columns"}
_COLUMN_KEYS = {"name", "type", "description", "tests"}


class _Checker:
    """Collects diagnostics while reading one YAML document."""

    def __init__(self, doc: YamlDoc):
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    def fail(self, message: str, keys: KeyPath, hint: str | None = None) -> None:
        self.diagnostics.append(error("DP003", message, self.doc.loc(*keys), hint))

    def mapping(self, value: Any, keys: KeyPath, allowed: set[str], what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(f"{what} must be a mapping of keys to values", keys)
            return {}
        for key in value:
            if key not in allowed:
                close = closest(str(key), allowed)
                hint = (f"did you mean `{close}`?" if close is not None
                        else f"valid keys: {', '.join(sorted(allowed))}")
                self.diagnostics.append(error(
                    "DP002", f"unknown key `{key}` in {what}",
                    self.doc.loc(*keys, key, key=True), hint))
        return value

    def string(self, data: dict[str, Any], key: str, keys: KeyPath, *, required: bool = False,
               default: str = "") -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"`{key}` is required", keys, f"add `{key}: ...` here")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(f"`{key}` must be a string", (*keys, key))
            return default
        return str(value)

    def name(self, data: dict[str, Any], key: str, keys: KeyPath, *, required: bool = True,
             default: str = "") -> str:
        value = self.string(data, key, keys, required=required, default=default)
        if value and not _NAME.match(value):
            self.fail(f"`{value}` is not a valid name", (*keys, key),
                      "use letters, digits and underscores, starting with a letter")
        return value

    def items(self, data: dict[str, Any], key: str, keys: KeyPath) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"`{key}` must be a list", (*keys, key), f"write `{key}:` followed by `- ...` items")
            return []
        return value


def environment() -> Mapping[str, str]:
    """The process's environment variables (read here only, like every other setting)."""
    return dict(os.environ)


def load_workspace(root: Path, environ: Mapping[str, str] | None = None) -> WorkspaceConfig:
    """Read `root/dpsql.yml`."""
    root = root.resolve()
    path = root / WORKSPACE_FILE
    if not path.is_file():
        raise DpsqlError(error(
            "DP006", f"no {WORKSPACE_FILE} in {root}", Location(root),
            "run dpsql in a workspace folder, pass -p/--project-dir, or create one with `dpsql init`"))
    doc = load_yaml(path)
    check = _Checker(doc)
    data = check.mapping(doc.data, (), _WORKSPACE_KEYS, WORKSPACE_FILE)
    name = check.name(data, "name", (), required=False, default=_safe_name(root.name))
    warehouse = check.string(data, "warehouse", (), default="warehouse.duckdb")
    variables = data.get("vars") or {}
    if not isinstance(variables, dict):
        check.fail("`vars` must be a mapping of names to values", ("vars",))
        variables = {}
    threads = data.get("threads", 4)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        check.fail("`threads` must be a whole number of at least 1", ("threads",))
        threads = 1
    if check.diagnostics:
        raise DpsqlError(check.diagnostics)
    env = dict(os.environ if environ is None else environ)
    return WorkspaceConfig(
        name=name,
        root=root,
        warehouse=(root / warehouse) if warehouse != ":memory:" else Path(warehouse),
        vars=MappingProxyType(dict(variables)),
        threads=threads,
        env=MappingProxyType(env),
    )


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if _NAME.match(name) else f"p_{name}"


def load_product(path: Path) -> tuple[ProductSpec | None, list[Diagnostic]]:
    """Read one product.yml; returns the spec (None if unusable) and every diagnostic found."""
    try:
        doc = load_yaml(path)
    except DpsqlError as exc:
        return None, list(exc.diagnostics)
    check = _Checker(doc)
    data = check.mapping(doc.data, (), _PRODUCT_KEYS, PRODUCT_FILE)
    folder = path.parent
    name = check.name(data, "name", (), required=False, default=_safe_name(folder.name))
    version_text = check.string(data, "version", (), default="0.1.0")
    try:
        version = parse_version(version_text)
    except ValueError as exc:
        check.fail(str(exc), ("version",), "write a semantic version such as 1.0.0")
        version = Version(0, 1, 0)
    tags = tuple(str(t) for t in check.items(data, "tags", ()))
    inputs = tuple(
        inp for i, raw in enumerate(check.items(data, "inputs", ()))
        if (inp := _input(check, raw, ("inputs", i), folder)) is not None
    )
    outputs = tuple(
        out for i, raw in enumerate(check.items(data, "outputs", ()))
        if (out := _output(check, raw, ("outputs", i))) is not None
    )
    _unique(check, [i.name for i in inputs], ("inputs",), "input")
    _unique(check, [o.name for o in outputs], ("outputs",), "output port")
    spec = ProductSpec(
        name=name,
        path=folder,
        yml=path,
        domain=check.string(data, "domain", (), default="default"),
        owner=check.string(data, "owner", (), default=""),
        description=check.string(data, "description", (), default=""),
        version=version,
        tags=tags,
        inputs=inputs,
        outputs=outputs,
        location=Location(path, 1),
    )
    return spec, check.diagnostics


def _unique(check: _Checker, names: list[str], keys: KeyPath, what: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            check.diagnostics.append(error(
                "DP005", f"{what} `{name}` is declared twice", check.doc.loc(*keys, i),
                f"give each {what} its own name"))
        seen.add(name)


def _input(check: _Checker, raw: Any, keys: KeyPath, folder: Path) -> InputSpec | None:
    data = check.mapping(raw, keys, _INPUT_KEYS, "an input")
    if not data:
        return None
    name = check.name(data, "name", keys)
    kinds = [k for k in ("file", "table", "product") if data.get(k) is not None]
    location = check.doc.loc(*keys)
    if len(kinds) != 1:
        check.fail(f"input `{name}` must have exactly one of `file`, `table` or `product`", keys,
                   "e.g. `file: ../data/orders.csv`, `table: raw.orders`, or "
                   "`product: customers` with `port: customers`")
        return None
    kind = kinds[0]
    columns = _columns(check, data, keys)
    description = check.string(data, "description", keys)
    if kind == "file":
        rel = check.string(data, "file", keys)
        file = resolve(folder / rel)
        fmt = check.string(data, "format", keys) or FILE_FORMATS.get(file.suffix.lower(), "")
        if fmt not in {"csv", "parquet", "json"}:
            check.fail(f"cannot tell the format of `{rel}`", (*keys, "file"),
                       "use a .csv, .parquet or .json file, or set `format: csv|parquet|json`")
        return InputSpec(name, kind, location, file=file, file_format=fmt or "csv",
                         columns=columns, description=description)
    if kind == "table":
        table = check.string(data, "table", keys)
        return InputSpec(name, kind, location, table=table, columns=columns,
                         description=description)
    product = check.name(data, "product", keys)
    port = check.name(data, "port", keys, required=False, default=name)
    version = None
    if data.get("version") is not None:
        try:
            version = parse_range(check.string(data, "version", keys))
        except ValueError as exc:
            check.fail(str(exc), (*keys, "version"), "write a range such as ^1, ~1.2 or >=1.0.0,<2")
    return InputSpec(name, kind, location, product=product, port=port, version=version,
                     columns=columns, description=description, keys=check.doc.key_map(*keys))


def _output(check: _Checker, raw: Any, keys: KeyPath) -> OutputSpec | None:
    data = check.mapping(raw, keys, _OUTPUT_KEYS, "an output port")
    if not data:
        return None
    name = check.name(data, "name", keys)
    model = check.name(data, "model", keys, required=False, default=name)
    columns = _columns(check, data, keys) if data.get("columns") is not None else None
    return OutputSpec(name, model, check.doc.loc(*keys), check.string(data, "description", keys),
                      columns)


def _columns(check: _Checker, data: dict[str, Any], keys: KeyPath) -> tuple[ColumnSpec, ...]:
    out: list[ColumnSpec] = []
    for i, raw in enumerate(check.items(data, "columns", keys)):
        ckeys = (*keys, "columns", i)
        col = check.mapping(raw, ckeys, _COLUMN_KEYS, "a column")
        if not col:
            continue
        name = check.string(col, "name", ckeys, required=True)
        type_ = check.string(col, "type", ckeys) or None
        if type_ is not None and not valid_type(type_):
            check.fail(f"`{type_}` is not a DuckDB type", (*ckeys, "type"),
                       "use a DuckDB type such as bigint, varchar, decimal(18,2), date, timestamp")
        tests = col.get("tests") or []
        if not isinstance(tests, list):
            check.fail("`tests` must be a list", (*ckeys, "tests"))
            tests = []
        out.append(ColumnSpec(name, type_, check.string(col, "description", ckeys), tuple(tests),
                              check.doc.loc(*ckeys)))
    _unique(check, [c.name for c in out], (*keys, "columns"), "column")
    return tuple(out)


def valid_type(text: str) -> bool:
    from dpsql.core.dtypes import is_type

    return is_type(text)
