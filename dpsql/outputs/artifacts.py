"""Files dpsql writes under target/: compiled SQL and manifest.json (shape in docs/manifest.md)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpsql.core import __version__, jsonio
from dpsql.core.errors import Diagnostic
from dpsql.core.project import CompiledModel, CompiledProject, Product, model_id
from dpsql.core.specs import ColumnSpec, InputSpec, OutputSpec
from dpsql.outputs.fragments import Fragments, read_index, save_index

if TYPE_CHECKING:  # the engine is not imported by commands that only compile
    from dpsql.build.engine import RunResult
    from dpsql.build.results import TestRun

MANIFEST_VERSION = 1


def target_dir(compiled: CompiledProject) -> Path:
    """target/ for the default target, target/<name>/ for another one."""
    return compiled.project.config.outputs


def write_json(path: Path, data: Any, *, compact: bool = False,
               places: dict[str, dict[str, tuple[int, int]]] | None = None) -> None:
    """Write atomically (a reader never sees half a file), and only if the content changed.
    `compact`: no indentation, through orjson (the large manifests, 10x faster), and `places`
    receives where the values of its large mappings sit (jsonio.dump_parts); else indented
    by the standard library (run and test results, which may hold data's NaN)."""
    parts = (jsonio.dump_parts(data, places=places) if compact
             else iter([json.dumps(data, indent=2, default=str).encode()]))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())  # mkstemp's file is the owner's only; outputs are shared
        with os.fdopen(fd, "wb") as handle:
            for part in parts:  # a part at a time: a 35 MB manifest is never one string
                handle.write(part)
            handle.write(b"\n")
        if _same_file(path, Path(tmp)):
            os.unlink(tmp)  # unchanged: the file and its time stay as they were
            return
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_CHUNK = 1 << 20


@functools.cache
def _file_mode() -> int:
    """What a file created with open() gets: read and write for all, less the umask (read
    from /proc: setting it to read it would race other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644



def _same_file(old: Path, new: Path) -> bool:
    """Whether two files hold the same bytes, compared a chunk at a time."""
    try:
        if old.stat().st_size != new.stat().st_size:
            return False
        with old.open("rb") as one, new.open("rb") as other:
            while True:
                chunk = one.read(_CHUNK)
                if chunk != other.read(_CHUNK):
                    return False
                if not chunk:
                    return True
    except OSError:
        return False


def write_compiled(compiled: CompiledProject) -> list[str]:
    """target/compiled/<product>/<model>.sql for every compiled model (and, for incremental
    models, <model>.incremental.sql); returns the files. Unchanged files are not rewritten: a
    file is not even read when the index of the last write (target/cache/compiled.index) says
    it holds this text (the same digest) and is as that write left it (size, time)."""
    out = str(target_dir(compiled) / "compiled")
    index = target_dir(compiled) / "cache" / "compiled.index"
    known = _written_index(index)
    now: dict[str, list[Any]] = {}
    folders: set[str] = set()
    for model in compiled.models.values():
        folder = os.path.join(out, model.product)
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        for name, text in _compiled_files(compiled, model, os.path.join(folder, model.name)):
            data = text.encode("utf-8")
            digest = hashlib.blake2b(data, digest_size=16).hexdigest()
            stat = _as_written(name, known.get(name), digest)
            if stat is None:
                try:
                    with open(name, "rb") as handle:
                        same = handle.read() == data
                except OSError:
                    same = False
                if not same:
                    with open(name, "wb") as handle:
                        handle.write(data)
                stat = os.stat(name)
            now[name] = [digest, stat.st_size, stat.st_mtime_ns]
    save_index(index, {"files": now})
    return list(now)


def _compiled_files(compiled: CompiledProject, model: CompiledModel, stem: str
                    ) -> list[tuple[str, str]]:
    sql, variant = model.sql, model.incremental_sql
    translated = compiled.engine_sql  # another engine: what runs there, in its dialect
    if translated is not None:
        sql, variant = (translated.models.get(model.id, sql),
                        translated.incremental.get(model.id, variant))
    files = [(stem + ".sql", sql.rstrip() + "\n")]
    if variant is not None:  # what runs when the table already exists
        files.append((stem + ".incremental.sql", variant.rstrip() + "\n"))
    return files


def _written_index(index: Path) -> dict[str, list[Any]]:
    found = read_index(index)  # a sealed file, as the last write left it: no shape to check
    return found.get("files", {}) if found is not None else {}


def _as_written(name: str, known: list[Any] | None, digest: str) -> os.stat_result | None:
    """The file's state if it holds the text with `digest`, as the index of the last write
    says (and its size and time are as that write left them); else None."""
    if known is None or known[0] != digest:
        return None
    try:
        stat = os.stat(name)
    except OSError:
        return None
    return stat if [stat.st_size, stat.st_mtime_ns] == known[1:] else None


def manifest(compiled: CompiledProject, fragments: Fragments | None = None) -> dict[str, Any]:
    """The manifest; with `fragments`, a model's entry may be the bytes written last time."""
    project = compiled.project
    root = project.root
    shared: dict[Any, Any] = {}  # see _lineage

    def model(mid: str) -> Any:
        found = compiled.models[mid]
        if fragments is None:
            return _model(found, root, shared)
        return fragments.entry(mid, found.key, lambda: _model(found, root, shared))
    return {
        "metadata": {
            "manifest_version": MANIFEST_VERSION,
            "dpsql_version": __version__,
            "workspace": project.config.name,
            "warehouse": _rel(project.config.warehouse, root),
            "target": project.config.target.name if project.config.target else None,
            "engine": project.config.engine,
        },
        "products": {p.name: _product(p, root) for p in project.products},
        "models": {mid: model(mid) for mid in compiled.order if mid in compiled.models},
    }


def write_manifest(compiled: CompiledProject) -> Path:
    path = target_dir(compiled) / "manifest.json"
    places: dict[str, dict[str, tuple[int, int]]] = {}
    with open_fragments(compiled, path) as fragments:
        write_json(path, manifest(compiled, fragments), compact=True, places=places)
        fragments.save(places.get("models", {}))
    return path


def open_fragments(compiled: CompiledProject, path: Path) -> Fragments:
    """The entries `path` held when last written (see dpsql/outputs/fragments.py)."""
    config = compiled.project.config
    name = _rel(path, target_dir(compiled)).replace(os.sep, "-")  # dbt/x.json: dbt-x.json
    salt = "\0".join(map(str, (compiled.project.root, config.warehouse, config.engine,
                               config.target.name if config.target else None)))
    return Fragments(path, target_dir(compiled) / "cache" / f"{name}.index", salt)


def _rel(path: Path, root: Path) -> str:
    """`path` relative to the (resolved) workspace root; the loader's paths are under it."""
    text, base = str(path), str(root)
    if text.startswith(base) and text[len(base):len(base) + 1] == os.sep:
        return text[len(base) + 1:]  # what relative_to gives, without pathlib's parsing
    try:
        return str(path.relative_to(root))
    except ValueError:
        return text


def _columns(columns: tuple[ColumnSpec, ...] | None) -> list[dict[str, Any]] | None:
    if columns is None:
        return None
    return [{"name": c.name, "type": c.type, "description": c.description,
             "tests": list(c.tests)} for c in columns]


def _input(spec: InputSpec, product: Product, root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name, "kind": spec.kind,
                           "relation": str(product.relation_of_input(spec))}
    if spec.kind == "file" and spec.file:
        out.update(file=_rel(spec.file, root), format=spec.file_format)
    elif spec.kind == "table":
        out["table"] = spec.table
    else:
        out.update(product=spec.product, port=spec.port,
                   version=str(spec.version) if spec.version else None)
    if spec.columns:
        out["columns"] = _columns(spec.columns)
    return out


def _output(spec: OutputSpec, product: Product) -> dict[str, Any]:
    model = product.port_model_id(spec.name) or model_id(product.name, spec.model)
    return {"name": spec.name, "model": model,
            "relation": f"{product.name}.{spec.name}", "description": spec.description,
            "columns": _columns(spec.columns), "deprecated": _deprecated(spec, product)}


def _deprecated(spec: OutputSpec, product: Product) -> dict[str, Any] | None:
    dep = spec.deprecated
    if dep is None:
        return None
    use = dep.successor(product.name)
    return {"since": str(dep.since) if dep.since else None,
            "sunset": dep.sunset.isoformat() if dep.sunset else None,
            "use": f"{use[0]}.{use[1]}" if use else None}


def _product(product: Product, root: Path) -> dict[str, Any]:
    spec = product.spec
    return {
        "name": spec.name,
        "domain": spec.domain,
        "owner": spec.owner,
        "version": str(spec.version),
        "description": spec.description,
        "tags": list(spec.tags),
        "path": _rel(spec.path, root),
        "inputs": [_input(i, product, root) for i in spec.inputs],
        "outputs": [_output(o, product) for o in spec.outputs],
        "models": [m.id for m in product.models],
    }


def _model(model: CompiledModel, root: Path, shared: dict[Any, Any]) -> dict[str, Any]:
    return {
        "id": model.id,
        "product": model.product,
        "name": model.name,
        "path": _rel(model.source.path, root),
        "compiled_path": f"target/compiled/{model.product}/{model.name}.sql",
        "relation": str(model.relation),
        "materialized": model.config.materialized,
        "tags": list(model.config.tags),
        "port": model.port,
        "depends_on": {"models": list(model.depends_on), "inputs": list(model.inputs)},
        "columns": [c.to_dict() for c in model.columns] if model.columns is not None else None,
        "typed_by": model.typed_by,
        "lineage": _lineage(model, shared),
    }


def _lineage(model: CompiledModel, shared: dict[Any, Any]) -> dict[str, Any] | None:
    """Column lineage: each output column's sources (`schema.relation.column`) and edge types.
    `shared` (one for the manifest) makes each source's name and each list of types one object,
    however many models name them: at 10,000 models they are most of the manifest's memory."""
    lineage = model.lineage
    if lineage is None:
        return None

    def one(key: Any, make: Any) -> Any:
        found = shared.get(key)
        if found is None:
            found = shared[key] = make(key)
        return found

    def sources(frozen: Any) -> dict[str, list[str]]:
        return {one(col, str): one(types, sorted) for col, types in frozen.items()}
    return {"columns": {name: sources(found) for name, found in lineage.fields.items()},
            "rows": sources(lineage.dataset), "incomplete": list(lineage.problems)}


def write_run_results(compiled: CompiledProject, run: RunResult) -> Path:
    """target/run_results.json: each model's status, time and row count; for a failure, where
    and how to fix it; for a build stopped by Ctrl-C, `interrupted` and what was not run."""
    return write_run_results_in(compiled.project.root, run, target_dir(compiled))


def write_run_results_in(root: Path, run: RunResult, outputs: Path | None = None) -> Path:
    """write_run_results() for the workspace at `root` (no compiled project needed), in the
    chosen target's folder `outputs` (default: root/target)."""
    path = (outputs or root / "target") / "run_results.json"
    write_json(path, {
        "metadata": {"dpsql_version": __version__, "elapsed_seconds": round(run.seconds, 4),
                     "interrupted": run.interrupted},
        "results": [
            {"id": r.id, "status": r.status, "seconds": round(r.seconds, 4), "rows": r.rows,
             "relation": r.relation, "materialized": r.materialized, "message": r.message,
             **({"mode": r.mode} if r.mode else {}), **({"code": r.code} if r.code else {}),
             **({"started_at": _iso(r.started_at)} if r.started_at else {}),
             **(_where(r.diagnostic, root) if r.diagnostic else {}),
             "tests": [c.to_dict() for c in r.checks]}
            for r in run.results
        ],
        **({"input_tests": [c.to_dict() for c in run.input_checks]} if run.input_checks
           else {}),
    })
    return path


def _where(diagnostic: Diagnostic, root: Path) -> dict[str, Any]:
    found = diagnostic.to_dict(root)
    return {"path": found["path"], "line": found["line"], "hint": found["hint"]}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


def write_test_results(compiled: CompiledProject, run: TestRun) -> Path:
    """target/test_results.json: each data test's status, failing-row count and sample."""
    path = target_dir(compiled) / "test_results.json"
    write_json(path, {
        "metadata": {"dpsql_version": __version__, "elapsed_seconds": round(run.seconds, 4)},
        "results": [r.to_dict() for r in run.results],
    })
    return path
