"""Read and validate dpsql.yml and product.yml into frozen values.

This is the one module that reads environment variables (for `env_var()` in templates).
Every problem found is collected as a diagnostic with the file and line, so that a project
with several mistakes hears about all of them at once.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dpsql.core.errors import Diagnostic, DpsqlError, Location, closest, error
from dpsql.core.specs import ColumnSpec, Deprecation, InputSpec, OutputSpec, ProductSpec, WorkspaceConfig
from dpsql.core.versions import Version, parse_range, parse_version
from dpsql.load.deprecation import successor_problems
from dpsql.load.files import column_types, file_format_of, resolve
from dpsql.load.modelspecs import model_specs, test_list, with_tests
from dpsql.load.names import folded, reserved_product_name, reserved_relation_name
from dpsql.load.policies import column_labels, read_policies
from dpsql.load.targets import current_choice, read_target, require
from dpsql.load.yamlfile import KeyPath, YamlDoc, load_yaml

WORKSPACE_FILE = "dpsql.yml"
PRODUCT_FILE = "product.yml"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PORT_REF = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")  # port, product.port
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_WORKSPACE_KEYS = {"name", "warehouse", "vars", "threads", "description", "policies", "target",
                   "targets"}
_PRODUCT_KEYS = {"name", "domain", "owner", "description", "version", "tags", "inputs", "outputs",
                 "models"}
_INPUT_KEYS = {"name", "file", "format", "table", "product", "port", "version", "columns",
               "description", "column_types", "tests", "data_tests"}
_OUTPUT_KEYS = {"name", "model", "input", "description", "columns", "deprecated"}
_DEPRECATED_KEYS = {"since", "sunset", "use"}
_COLUMN_KEYS = {"name", "type", "description", "tests", "data_tests", "classification"}


class _Checker:
    """Collects diagnostics while reading one YAML document."""

    def __init__(self, doc: YamlDoc):
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    def fail(self, message: str, keys: KeyPath, hint: str) -> None:
        self.diagnostics.append(error("DP003", message, self.doc.loc(*keys), hint))

    def mapping(self, value: Any, keys: KeyPath, allowed: set[str], what: str,
                example: str = "") -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            found = "a list" if isinstance(value, list) else f"`{_short(value)}`"
            self.fail(f"{what} must be a mapping of keys to values, not {found}", keys,
                      f"write {what} as indented `key: value` lines"
                      + (f", e.g. {example}" if example else f" (keys: {', '.join(sorted(allowed))})"))
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
            self.fail(f"`{key}` must be text, not {_kind(value)}", (*keys, key),
                      f"write `{key}:` followed by text; quote it if YAML reads it as something "
                      "else")
            return default
        return str(value)

    def quoted(self, data: dict[str, Any], key: str, keys: KeyPath, example: str) -> str | None:
        """A value that must be written as text: YAML reads `1.10` as the number 1.1."""
        value = data.get(key)
        if value is None or isinstance(value, str):
            return value
        written = self.doc.text(*keys, key) or str(value)
        if not isinstance(value, dict | list):
            example = written
        self.fail(f"`{key}: {written}` is read by YAML as {_kind(value)}, not as text", (*keys, key),
                  f"quote it: `{key}: '{example}'`")
        return None

    def name(self, data: dict[str, Any], key: str, keys: KeyPath, *, required: bool = True,
             default: str = "") -> str:
        value = self.string(data, key, keys, required=required, default=default)
        if value and not _NAME.match(value):
            self.fail(f"`{value}` is not a valid name", (*keys, key),
                      "use letters, digits and underscores, starting with a letter")
        elif value and (why := reserved_relation_name(value)) is not None:
            self.fail(f"`{value}` cannot be used as a name: {why}", (*keys, key),
                      "choose another name")
        return value

    def items(self, data: dict[str, Any], key: str, keys: KeyPath) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"`{key}` must be a list, not {_kind(value)}", (*keys, key),
                      f"write `{key}:` followed by indented `- ...` items, one per line")
            return []
        return value


def _kind(value: Any) -> str:
    """What YAML made of a value, in words."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text `{_short(value)}`"
    return f"a {type(value).__name__}"  # dates, timestamps and binary data


def _short(value: Any, width: int = 40) -> str:
    """A value as a message quotes it: one line, cut to `width` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def environment() -> Mapping[str, str]:
    """The process's environment variables (read here only, like every other setting)."""
    return dict(os.environ)


def load_workspace(root: Path, environ: Mapping[str, str] | None = None) -> WorkspaceConfig:
    """Read `root/dpsql.yml`."""
    root = root.resolve()
    path = root / WORKSPACE_FILE
    if not path.is_file():
        hint = (f"this folder holds a dbt project: `dpsql import dbt {root} {root}_dpsql` "
                "converts it into a workspace" if (root / "dbt_project.yml").is_file() else
                "run dpsql in a workspace folder, pass -p/--project-dir, or create one with `dpsql init`")
        raise DpsqlError(error("DP006", f"no {WORKSPACE_FILE} in {root}", Location(root), hint))
    doc = load_yaml(path)
    check = _Checker(doc)
    data = check.mapping(doc.data, (), _WORKSPACE_KEYS, WORKSPACE_FILE,
                         "`name: shop` and `warehouse: warehouse.duckdb`")
    name = check.name(data, "name", (), required=False, default=_safe_name(root.name))
    check.string(data, "description", ())
    variables = data.get("vars") or {}
    if not isinstance(variables, dict):
        check.fail(f"`vars` must be a mapping of names to values, not {_kind(variables)}",
                   ("vars",), "write `vars:` followed by indented `name: value` lines")
        variables = {}
    threads = data.get("threads", 4)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        check.fail(f"`threads` must be a whole number of at least 1, not {_kind(threads)}",
                   ("threads",), "write the number of models to build at once, e.g. `threads: 4`")
        threads = 1
    policies = read_policies(doc, data.get("policies"), check.diagnostics)
    env = dict(os.environ if environ is None else environ)
    found = require(read_target(doc, data, root, env, check.diagnostics), check.diagnostics)
    target = found.target
    return WorkspaceConfig(
        name=name,
        root=root,
        warehouse=target.path or target.warehouse_dir or root / "warehouse.duckdb",
        vars=MappingProxyType({**variables, **current_choice().vars}),
        threads=threads,
        env=MappingProxyType(env),
        policies=policies,
        target=target,
        target_dir=found.target_dir,
        env_read=MappingProxyType(found.env_read),
    )


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if _NAME.match(name) else f"p_{name}"


def load_product(path: Path, catalog: str = "", read: Callable[[Path], YamlDoc] = load_yaml
                 ) -> tuple[ProductSpec | None, list[Diagnostic]]:
    """Read one product.yml; returns the spec (None if unusable) and every diagnostic found.

    `catalog` is the name DuckDB gives the warehouse, which no product may have; `read`
    parses the file (a YamlCache's load_yaml).
    """
    try:
        doc = read(path)
    except DpsqlError as exc:
        return None, list(exc.diagnostics)
    check = _Checker(doc)
    data = check.mapping(doc.data, (), _PRODUCT_KEYS, PRODUCT_FILE,
                         "`name: orders` and `version: 1.0.0`")
    folder = path.parent
    name = _product_name(check, data, folder, catalog)
    version = Version(0, 1, 0)
    version_text = check.quoted(data, "version", (), "1.0.0")
    if version_text is not None:
        try:
            version = parse_version(version_text)
        except ValueError as exc:
            check.fail(str(exc), ("version",), "write a semantic version such as 1.0.0")
    tags = tuple(str(t) for t in _scalars(check, data, "tags", ()))
    inputs = tuple(
        with_tests(check, inp, raw, ("inputs", i))
        for i, raw in enumerate(check.items(data, "inputs", ()))
        if (inp := _input(check, raw, ("inputs", i), folder)) is not None
    )
    outputs = tuple(
        out for i, raw in enumerate(check.items(data, "outputs", ()))
        if (out := _output(check, raw, ("outputs", i), version)) is not None
    )
    _unique(check, [(i.name, i.location) for i in inputs], "input")
    _unique(check, [(o.name, o.location) for o in outputs], "output port")
    check.diagnostics.extend(successor_problems(name, outputs))
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
        keys=doc.key_map(),
        models=model_specs(check, data, _columns),
    )
    return spec, check.diagnostics


def _product_name(check: _Checker, data: dict[str, Any], folder: Path, catalog: str) -> str:
    name = check.name(data, "name", (), required=False, default=_safe_name(folder.name))
    why = reserved_product_name(name, catalog)
    if why is not None:
        named = "name" in data
        check.fail(f"product name `{name}` cannot be used: {why}", ("name",) if named else (),
                   "choose another `name:`" if named
                   else f"the name comes from the folder `{folder.name}`: add another `name:`")
    return name


def _scalars(check: _Checker, data: dict[str, Any], key: str, keys: KeyPath) -> list[Any]:
    """A list of plain values (`tags: [daily, finance]`)."""
    found = check.items(data, key, keys)
    for i, value in enumerate(found):
        if isinstance(value, dict | list):
            check.fail(f"each item of `{key}` must be a plain value, not {_kind(value)}",
                       (*keys, key, i), f"write `{key}: [a, b]`")
    return [v for v in found if not isinstance(v, dict | list)]


def _unique(check: _Checker, names: list[tuple[str, Location]], what: str) -> None:
    """Names compare ignoring case, as in DuckDB: `Sales` and `sales` are one relation."""
    seen: dict[str, tuple[str, Location]] = {}
    for name, where in names:
        if not name:
            continue
        if folded(name) not in seen:
            seen[folded(name)] = (name, where)
            continue
        first = seen[folded(name)]
        also = f"`{first[0]}`, " if first[0] != name else ""
        check.diagnostics.append(error(
            "DP005", f"{what} `{name}` is declared twice (also as {also}line {first[1].line})",
            where, f"give each {what} its own name; names are compared ignoring case, as in "
            "DuckDB"))


def _input(check: _Checker, raw: Any, keys: KeyPath, folder: Path) -> InputSpec | None:
    data = check.mapping(raw, keys, _INPUT_KEYS, "an input",
                         "`- name: raw_orders` with `file: ../data/orders.csv` below it")
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
        if not rel:
            return None
        file = resolve(folder / rel)
        fmt = check.string(data, "format", keys) or file_format_of(file)
        if fmt not in {"csv", "parquet", "json"}:
            check.fail(f"cannot tell the format of `{rel}`", (*keys, "file"),
                       "use a .csv, .parquet or .json file, or set `format: csv|parquet|json`")
        return InputSpec(name, kind, location, file=file, file_format=fmt or "csv",
                         columns=columns, description=description,
                         column_types=column_types(data.get("column_types"), lambda m, h: check.fail(
                             m, (*keys, "column_types"), h)))
    if kind == "table":
        table = check.string(data, "table", keys)
        return InputSpec(name, kind, location, table=table, columns=columns,
                         description=description)
    product = check.name(data, "product", keys)
    port = check.name(data, "port", keys, required=False, default=name)
    version = None
    version_text = check.quoted(data, "version", keys, "^1")
    if version_text is not None:
        try:
            version = parse_range(version_text)
        except ValueError as exc:
            check.fail(str(exc), (*keys, "version"), "write a range such as ^1, ~1.2 or >=1.0.0,<2")
    return InputSpec(name, kind, location, product=product, port=port, version=version,
                     columns=columns, description=description, keys=check.doc.key_map(*keys))


def _output(check: _Checker, raw: Any, keys: KeyPath, version: Version) -> OutputSpec | None:
    data = check.mapping(raw, keys, _OUTPUT_KEYS, "an output port",
                         "`- name: orders` with `model: fct_orders` below it")
    if not data:
        return None
    name = check.name(data, "name", keys)
    model = check.name(data, "model", keys, required=False, default=name)
    source = check.name(data, "input", keys, required=False) if "input" in data else None
    if source and "model" in data:
        check.fail(f"port `{name}` has both `model` and `input`", keys, "keep one of them")
    columns = _columns(check, data, keys) if data.get("columns") is not None else None
    return OutputSpec(name, model, check.doc.loc(*keys), check.string(data, "description", keys),
                      columns, _deprecation(check, data, keys, version), source or None)


def _deprecation(check: _Checker, data: dict[str, Any], keys: KeyPath,
                 version: Version) -> Deprecation | None:
    """`deprecated: {since: 1.4.0, sunset: 2027-06-30, use: orders_v2}`, every key optional."""
    raw, keys = data.get("deprecated"), (*keys, "deprecated")
    found = check.mapping(raw, keys, _DEPRECATED_KEYS, "`deprecated`",
                          "`deprecated: {since: 1.4.0, sunset: 2027-06-30, use: orders_v2}`")
    if not isinstance(raw, dict):
        return None
    since = None
    text = check.quoted(found, "since", keys, "1.4.0")
    if text is not None:
        try:
            since = parse_version(text)
        except ValueError as exc:
            check.fail(f"`since`: {exc}", (*keys, "since"),
                       "write the product version that deprecated the port, e.g. `since: 1.4.0`")
        if since is not None and since > version:
            check.fail(f"`since: {text}` is above the product's version {version}",
                       (*keys, "since"), f"a port is deprecated in a version the product has "
                       f"reached: write `since: {version}` or lower, or raise `version:`")
            since = None
    use = check.string(found, "use", keys) or None
    if use is not None and not _PORT_REF.match(use):
        check.fail(f"`use: {_short(use)}` does not name a port", (*keys, "use"),
                   "name the port that replaces this one: `use: orders_v2`, or "
                   "`use: product.port` for another product's port")
        use = None
    return Deprecation(check.doc.loc(*keys), since, _sunset(check, found, keys), use,
                       check.doc.key_map(*keys))


def _sunset(check: _Checker, data: dict[str, Any], keys: KeyPath) -> date | None:
    value = data.get("sunset")
    if value is None:
        return None
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        with contextlib.suppress(ValueError):  # 2027-02-30: refused below
            value = date.fromisoformat(value.strip())
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    check.fail(f"`sunset` must be a date, not {_kind(value)}", (*keys, "sunset"),
               "write the last day the port may be read, as YYYY-MM-DD: `sunset: 2027-06-30`")
    return None


def _columns(check: _Checker, data: dict[str, Any], keys: KeyPath) -> tuple[ColumnSpec, ...]:
    out: list[ColumnSpec] = []
    for i, raw in enumerate(check.items(data, "columns", keys)):
        ckeys = (*keys, "columns", i)
        raw, split = _join_split_type(raw)
        col = check.mapping(raw, ckeys, _COLUMN_KEYS, "a column", "`- {name: id, type: bigint}`")
        if not col:
            continue
        name = check.string(col, "name", ckeys, required=True)
        type_ = check.string(col, "type", ckeys) or None
        if split:
            check.fail(f"the type `{type_}` is split at its comma: in a `{{...}}` mapping, YAML "
                       "reads a comma as the end of a value", (*ckeys, "type"),
                       f"quote it: `type: '{type_}'`")
        elif type_ is not None and not valid_type(type_):
            check.fail(f"`{type_}` is not a DuckDB type", (*ckeys, "type"),
                       "use a DuckDB type such as bigint, varchar, decimal(18,2), date, timestamp")
        tests = test_list(check, col, ckeys)
        labels, labelled_at = column_labels(check.doc, col, ckeys, check.diagnostics)
        out.append(ColumnSpec(name, type_, check.string(col, "description", ckeys), tuple(tests),
                              check.doc.loc(*ckeys), labels, labelled_at))
    _unique(check, [(c.name, c.location or check.doc.loc(*keys)) for c in out], "column")
    return tuple(out)


def _join_split_type(raw: Any) -> tuple[Any, bool]:
    """`{name: x, type: decimal(18,2)}` reads as `type: decimal(18` and a key `2)` with no
    value: join the pieces back into one type (and say so, once, instead of two errors)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return raw, False
    keys = list(raw)
    pieces = [raw["type"]]
    after = keys[keys.index("type") + 1:]
    for key in after:
        text = ",".join(pieces)
        if text.count("(") <= text.count(")") or raw[key] is not None:
            break
        pieces.append(key)
    if len(pieces) == 1:
        return raw, False
    joined = {k: v for k, v in raw.items() if k not in pieces[1:]}
    joined["type"] = ",".join(pieces)
    return joined, True


def valid_type(text: str) -> bool:
    from dpsql.core.dtypes import is_type

    return is_type(text)
