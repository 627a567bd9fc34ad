"""Find the products of a workspace and read their files (text only, nothing rendered)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dpsql.core.errors import Diagnostic, DpsqlError, Location, error
from dpsql.core.project import ModelSource, Product, Project
from dpsql.core.specs import InputSpec, ProductSpec
from dpsql.load.config import PRODUCT_FILE, load_product, load_workspace
from dpsql.load.files import file_problem
from dpsql.load.names import catalog_name, folded, reserved_relation_name
from dpsql.load.textfile import read_text
from dpsql.load.yamlcache import YamlCache

log = logging.getLogger("dpsql")

_SKIP_DIRS = {"target", "node_modules", "__pycache__", "dbt_packages", "logs"}


def find_product_files(root: Path) -> list[Path]:
    """Every product.yml under root, skipping hidden folders and dpsql's own output."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        if PRODUCT_FILE in files:
            found.append(Path(folder) / PRODUCT_FILE)
    return found


def _sql_files(folder: Path) -> tuple[Path, ...]:
    """The .sql files under `folder`, sorted, as `folder.rglob("*.sql")` finds them (links to
    folders are not followed), through os.scandir, whose entries know their kind without a
    `stat` each (pathlib's glob cost 0.1 ms a folder, os.walk and a stat per file half that)."""
    found: list[str] = []

    def walk(top: str) -> None:
        try:
            with os.scandir(top) as entries:
                listed = list(entries)
        except OSError:
            return  # not a folder, or not readable: as os.walk, nothing
        for entry in listed:
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path)
            elif entry.name.endswith(".sql") and entry.is_file():
                found.append(entry.path)
    walk(str(folder))
    return tuple(sorted(map(Path, found)))


def load_project(root: Path, *, cached: bool = False) -> Project:
    """Read the workspace; raise DpsqlError with every problem found in its YAML files.
    `cached`: parsed product.yml files are read from and kept in target/cache/yaml.json (for
    commands that write target/ anyway)."""
    config = load_workspace(root)
    diagnostics: list[Diagnostic] = []
    specs: list[ProductSpec] = []
    catalog = catalog_name(config.warehouse)
    docs = YamlCache.load(config.outputs if cached else None)
    for path in find_product_files(config.root):
        spec, found = load_product(path, catalog, docs.load_yaml)
        diagnostics.extend(found)
        if spec is not None:
            specs.append(spec)
    docs.save()
    products: list[Product] = []
    seen: dict[str, ProductSpec] = {}
    for spec in specs:
        other = seen.setdefault(folded(spec.name), spec)
        if other is not spec:
            also = f"`{other.name}` " if other.name != spec.name else ""
            diagnostics.append(error(
                "DP004", f"product `{spec.name}` is defined twice (also as {also}in {other.yml})",
                spec.key_location("name"), "give each product a unique `name:` in its "
                "product.yml; names are compared ignoring case, as in DuckDB"))
            continue
        products.append(_read_product(spec, diagnostics))
    if not products and not diagnostics:
        log.warning("no product.yml found under %s", config.root)
    if any(d.is_error for d in diagnostics):
        raise DpsqlError(diagnostics)
    return Project(config, tuple(products), _macro_files(config.root))


def _macro_files(root: Path) -> tuple[Path, ...]:
    """The workspace's macros/*.sql, then each package's packages/<name>/macros/*.sql."""
    packages = root / "packages"
    folders = sorted(p for p in packages.iterdir() if p.is_dir()) if packages.is_dir() else []
    return (*_sql_files(root / "macros"), *(f for p in folders for f in _sql_files(p / "macros")))


def _read_product(spec: ProductSpec, diagnostics: list[Diagnostic]) -> Product:
    models: list[ModelSource] = []
    names: dict[str, Path] = {}
    inputs = {folded(i.name): i for i in spec.inputs}
    for path in _sql_files(spec.path / "models"):
        name = path.stem
        found = _model_name_problem(spec, name, path, names, inputs)
        if found is not None:
            diagnostics.append(found)
            continue
        names[folded(name)] = path
        try:
            models.append(ModelSource(spec.name, name, path, read_text(path)))
        except DpsqlError as exc:
            diagnostics.extend(exc.diagnostics)
    published = _published_inputs(spec, names, diagnostics)
    models.extend(published)
    _check_ports(spec, {p.stem for p in names.values()} | {m.name for m in published}, diagnostics)
    for spec_input in spec.inputs:
        problem = file_problem(spec_input.file) if spec_input.file else None
        if spec_input.kind == "file" and problem is not None:
            diagnostics.append(error(
                "DP007", f"input `{spec_input.name}` reads {spec_input.file}, which {problem}",
                spec_input.location, "fix the `file:` path (it is relative to product.yml), "
                "or put a csv, parquet or json file there"))
    return Product(spec, tuple(models), _sql_files(spec.path / "macros"),
                   _sql_files(spec.path / "tests"))


def _published_inputs(spec: ProductSpec, names: dict[str, Path], diagnostics: list[Diagnostic]
                      ) -> list[ModelSource]:
    """A port with `input: raw_orders` publishes that input as it is: its model, named after
    the port, is `select * from` the input (written by dpsql, not a file)."""
    out = []
    for port in spec.outputs:
        if port.input is None:
            continue
        if spec.input(port.input) is None:
            diagnostics.append(error(
                "DP008", f"output port `{port.name}` publishes input `{port.input}`, which "
                f"product `{spec.name}` does not declare", port.location,
                f"declare `{port.input}` under `inputs:`, or name one of: "
                f"{', '.join(i.name for i in spec.inputs) or '(no inputs yet)'}"))
        elif folded(port.name) in names or spec.input(port.name) is not None:
            diagnostics.append(error(
                "DP005", f"output port `{port.name}` publishes input `{port.input}`, but a "
                "model or input of the product has the port's name", port.location,
                "give the port a name of its own (inside a product, names are unique)"))
        else:
            text = f"select * from {{{{ input('{port.input}') }}}}\n"
            out.append(ModelSource(spec.name, port.name, spec.yml, text))
    return out


def _check_ports(spec: ProductSpec, names: set[str], diagnostics: list[Diagnostic]) -> None:
    """Each output port is fed by a model of the product, and no model feeds two."""
    feeds: dict[str, str] = {}
    for port in spec.outputs:
        if port.model not in names:
            hint = (f"create models/{port.model}.sql, or set `model:` to one of: "
                    f"{', '.join(sorted(names)) or '(no models yet)'}")
            diagnostics.append(error(
                "DP008", f"output port `{port.name}` is fed by model `{port.model}`, which does "
                f"not exist in product `{spec.name}`", port.location, hint))
        elif port.model in feeds:
            diagnostics.append(error(
                "DP008", f"model `{port.model}` feeds two output ports (`{feeds[port.model]}` "
                f"and `{port.name}`)", port.location,
                "give each port its own model (a second model can `select * from` the first)"))
        feeds[port.model] = port.name


def _model_name_problem(spec: ProductSpec, name: str, path: Path, names: dict[str, Path],
                        inputs: dict[str, InputSpec]) -> Diagnostic | None:
    """Why a model file's name cannot be used (names compare ignoring case, as in DuckDB)."""
    where = Location(path, 1)
    if folded(name) in names:
        other = names[folded(name)]
        return error(
            "DP005", f"model `{name}` of product `{spec.name}` is defined twice (also as "
            f"`{other.stem}` in {other})", where,
            "rename one of the files; model names are compared ignoring case, as in DuckDB")
    if folded(name) in inputs:
        return error(
            "DP005", f"model `{name}` has the name of input `{inputs[folded(name)].name}` of "
            f"product `{spec.name}` ({spec.yml})", where,
            "rename the model or the input: inside a product, names must be unique (ignoring case)")
    why = reserved_relation_name(name)
    if why is not None:
        return error("DP005", f"model `{name}` cannot be used: {why}", where, "rename the file")
    return None
