"""A perturbation oracle for column lineage, independent of dpsql's lineage code.

The oracle finds out by experiment which port columns depend on each raw input column. It
builds a copy of the workspace once (the baseline); then, for every column of every file
input, it changes the file's values in one way at a time (shift, negate, shuffle, NULLs, a
string suffix; a struct's fields and a list's elements one at a time), rebuilds the workspace
with the dpsql CLI into a fresh warehouse (`dpsql build --full-refresh`) and records which
port columns changed. A port column changes when its multiset of values (row count and NULLs
included) differs from the baseline's, or, in a port whose contract gives a column a `unique`
test (its key), when its values move to other keys while the key's own values stay: a
customer's rank changes although the ranks 1..n stay the same. The union over the
perturbations is the true set of (raw column -> port column) dependencies: a lower bound, as
data can only show a dependency it exercises.

The claim is what `dpsql lineage <product>.<input>.<column> --downstream --format json`
lists as port columns; recall and precision compare the two. Nothing here imports dpsql's
lineage or tracing code: the workspace is read from its YAML files, built with the CLI, and
the ports are read from the warehouse with DuckDB.

    python tests/lineage/oracle.py                  # the tricky mesh (tricky_mesh.py)
    python tests/lineage/oracle.py projects/shop    # any workspace with file inputs
    python tests/lineage/oracle.py --fast --claim-args=--direct-only projects/shop
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import datetime as dt
import hashlib
import io
import json
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import yaml
from click.testing import CliRunner

from dpsql.cli.commands import main as dpsql_main

SEED = 20240611

# The complete claim is `dpsql lineage`'s default: value and row-deciding edges.
COMPLETE_CLAIM_ARGS: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Raw files: read, perturbed, written
# ---------------------------------------------------------------------------------------------

def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_duckdb_file(path: Path, columns: Sequence[str], types: Sequence[str],
                      rows: Sequence[Sequence[Any]], fmt: str = "parquet") -> None:
    """Rows of Python values written by DuckDB, as Parquet or JSON, with the given column
    types (structs and lists included)."""
    con = duckdb.connect()
    try:
        defs = ", ".join(f"{_quote(c)} {t}" for c, t in zip(columns, types, strict=True))
        con.execute(f"create table t ({defs})")
        if rows:
            con.executemany(f"insert into t values ({', '.join('?' for _ in columns)})",
                            [list(r) for r in rows])
        options = "format parquet" if fmt == "parquet" else "format json"
        con.execute(f"copy t to '{path}' ({options})")
    finally:
        con.close()


@dataclass
class RawFile:
    """A file read by file inputs of the workspace, as values to perturb."""

    rel: str  # path relative to the workspace
    fmt: str  # csv, parquet or json
    readers: list[str]  # `product.input` of every input reading it
    columns: list[str]
    types: list[str]  # DuckDB types (parquet, json); empty for CSV, whose values stay text
    rows: list[list[Any]]

    def column_values(self, column: str) -> list[Any]:
        i = self.columns.index(column)
        return [row[i] for row in self.rows]

    def render(self, column: str | None = None, values: Sequence[Any] | None = None) -> bytes:
        """The file's bytes, with `column` replaced by `values` when given."""
        rows = [list(r) for r in self.rows]
        if column is not None and values is not None:
            i = self.columns.index(column)
            for row, value in zip(rows, values, strict=True):
                row[i] = value
        if self.fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(["" if v is None else v for v in row] for row in rows)
            return buf.getvalue().encode("utf-8")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"f.{self.fmt}"
            write_duckdb_file(path, self.columns, self.types, rows, self.fmt)
            return path.read_bytes()


def _read_raw(path: Path, rel: str, fmt: str, readers: list[str]) -> RawFile:
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            table = list(csv.reader(handle))
        columns, rows = table[0], [[v if v != "" else None for v in r] for r in table[1:] if r]
        return RawFile(rel, fmt, readers, columns, [], rows)
    reader = "read_parquet" if fmt == "parquet" else "read_json"
    con = duckdb.connect()
    try:
        described = con.execute(f"describe select * from {reader}('{path}')").fetchall()
        rows = [list(r) for r in con.execute(f"select * from {reader}('{path}')").fetchall()]
    finally:
        con.close()
    return RawFile(rel, fmt, readers, [d[0] for d in described], [d[1] for d in described], rows)


# Values are perturbed by kind. CSV values are text: their kind is read from the text, and a
# perturbed value is written back in the same spelling.
_INT = re.compile(r"-?\d+")
_DEC = re.compile(r"-?\d+\.\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TS = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


def _kind(values: Iterable[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "other"
    if all(isinstance(v, str) for v in present):
        for kind, pattern in (("int", _INT), ("decimal", _DEC), ("date", _DATE), ("timestamp", _TS)):
            if all(pattern.fullmatch(v) for v in present):
                return f"text-{kind}"
        return "string"
    first = present[0]
    if isinstance(first, bool):
        return "bool"
    if isinstance(first, int):
        return "int"
    if isinstance(first, Decimal):
        return "decimal"
    if isinstance(first, float):
        return "float"
    if isinstance(first, dt.datetime):
        return "timestamp"
    if isinstance(first, dt.date):
        return "date"
    if isinstance(first, dict):
        return "struct"
    if isinstance(first, list):
        return "list"
    return "other"


def _parse(text: str, kind: str) -> Any:
    if kind == "text-int":
        return int(text)
    if kind == "text-decimal":
        return Decimal(text)
    if kind == "text-date":
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text)


def _unparse(value: Any, kind: str, like: str) -> str:
    """A perturbed value spelled as `like`, a value of the same column, is."""
    if kind == "text-timestamp":
        spelled: str = value.isoformat(sep="T" if "T" in like else " ")
        return spelled if len(like) > 16 else spelled[:16]  # `2024-01-01 10:00`: no seconds
    if kind == "text-date":
        return str(value.isoformat())
    return str(value)


def _spread(numbers: Sequence[Any]) -> Any:
    """A shift for numbers: a third of their range, at least 3."""
    span = max(numbers) - min(numbers)
    step = span / 3 if not isinstance(span, int) else span // 3
    if isinstance(step, float):
        return max(round(step, 3), 3.0)
    if isinstance(step, Decimal):
        return max(step.quantize(Decimal(1)), Decimal(3))
    return max(step, 3)


_DATE_SHIFT = dt.timedelta(days=37)
_TS_SHIFT = dt.timedelta(days=37, hours=5)


def _map_present(values: Sequence[Any], fn: Callable[[Any], Any]) -> list[Any]:
    return [None if v is None else fn(v) for v in values]


def _perturb_scalar(values: Sequence[Any], kind: str, how: str, rng: random.Random) -> list[Any] | None:
    """`values` perturbed `how`, or None when the perturbation does not apply to the kind."""
    if how == "shuffle":
        out = list(values)
        rng.shuffle(out)
        return out
    if how == "null":
        out = list(values)
        for i in range(len(out)):
            if rng.random() < 0.3:
                out[i] = None
        return out
    present = [v for v in values if v is not None]
    if not present:
        return None
    if kind.startswith("text-"):  # numbers and dates in a CSV: shifted or negated as such
        inner = kind.removeprefix("text-")
        if how not in ("shift", "negate") or (how == "negate" and inner not in ("int", "decimal")):
            return None
        parsed = [None if v is None else _parse(v, kind) for v in values]
        changed = _perturb_scalar(parsed, inner, how, rng)
        return None if changed is None else [None if v is None else _unparse(v, kind, present[0])
                                             for v in changed]
    if how == "shift":
        if kind in ("int", "decimal", "float"):
            step = _spread(present)
            return _map_present(values, lambda v: v + step)
        if kind == "date":
            return _map_present(values, lambda v: v + _DATE_SHIFT)
        if kind == "timestamp":
            return _map_present(values, lambda v: v + _TS_SHIFT)
        return None
    if how == "negate":
        return _map_present(values, lambda v: -v) if kind in ("int", "decimal", "float") else None
    if how == "suffix":
        return _map_present(values, lambda v: v + "_x") if kind == "string" else None
    if how == "reverse":
        return None
    raise ValueError(f"unknown perturbation {how!r}")


# shift: numbers by a third of their range, dates by 37 days; negate: numbers; shuffle: the
# values among rows; null: about 30% of the values; suffix: strings; reverse: each list's
# elements. A struct's fields and a list's elements are also perturbed one at a time.
PERTURBATIONS: tuple[str, ...] = ("shift", "negate", "shuffle", "null", "suffix", "reverse")
# Three per column, for the test suite's time budget: a value change (shift, or the suffix for
# strings), a shuffle among rows, NULLs. Negation and reversal rarely show a dependency the
# others miss.
FAST_PERTURBATIONS: tuple[str, ...] = ("shift", "shuffle", "null", "suffix")


@dataclass(frozen=True)
class Perturbation:
    """One changed column of one file: `label` is `column:how`, `column.field:how` or
    `column[]:how`."""

    file: str
    column: str
    label: str
    data: bytes = field(repr=False)


def _seeded(*parts: str) -> random.Random:
    digest = hashlib.blake2b("/".join(parts).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big") ^ SEED)


def perturbations(raw: RawFile, column: str, hows: Sequence[str] = PERTURBATIONS) -> list[Perturbation]:
    """Every perturbation of one column: the column as a whole, and for a struct each field,
    for a list its elements, one at a time."""
    values = raw.column_values(column)
    kind = _kind(values)
    out: list[Perturbation] = []

    def add(label: str, new: list[Any] | None) -> None:
        if new is not None and new != values:
            out.append(Perturbation(raw.rel, column, label, raw.render(column, new)))

    for how in hows:
        add(f"{column}:{how}", _perturb_scalar(values, kind, how, _seeded(raw.rel, column, how)))
    if kind == "struct":
        names = list(dict.fromkeys(k for v in values if v is not None for k in v))
        for name in names:
            fields = [None if v is None else v.get(name) for v in values]
            fkind = _kind(fields)
            for how in hows:
                rng = _seeded(raw.rel, column, name, how)
                changed = _perturb_scalar(fields, fkind, how, rng)
                if changed is None:
                    continue
                new = [None if v is None else {**v, name: f} for v, f in zip(values, changed, strict=True)]
                add(f"{column}.{name}:{how}", new)
    elif kind == "list":
        flat = [e for v in values if v is not None for e in v]
        ekind = _kind(flat)
        for how in hows:
            changed = _perturb_scalar(flat, ekind, how, _seeded(raw.rel, column, "[]", how))
            if changed is None:
                continue
            it = iter(changed)
            add(f"{column}[]:{how}", [None if v is None else [next(it) for _ in v] for v in values])
        if "reverse" in hows:
            add(f"{column}[]:reverse", [None if v is None else list(reversed(v)) for v in values])
    return out


# ---------------------------------------------------------------------------------------------
# The workspace: products, file inputs, ports (read from the YAML files, not from dpsql)
# ---------------------------------------------------------------------------------------------

_SKIP_DIRS = {"target", "node_modules"}


def _product_files(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        if "product.yml" in filenames:
            found.append(Path(dirpath) / "product.yml")
    return found


@dataclass
class Workspace:
    root: Path
    warehouse: Path
    ports: list[str]  # `product.port`
    files: dict[str, tuple[str, list[str]]]  # file path (relative) -> (format, [`product.input`])
    notes: list[str]
    keys: dict[str, str] = field(default_factory=dict)  # port -> a column with a `unique` test


def read_workspace(root: Path) -> Workspace:
    root = root.resolve()
    config = yaml.safe_load((root / "dpsql.yml").read_text(encoding="utf-8")) or {}
    ports: list[str] = []
    files: dict[str, tuple[str, list[str]]] = {}
    notes: list[str] = []
    keys: dict[str, str] = {}
    kept = root / KEYS_FILE
    if kept.exists():  # a copy whose data tests were dropped: the keys were kept aside
        keys.update(json.loads(kept.read_text(encoding="utf-8")))
    for spec_path in _product_files(root):
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8")) or {}
        product = spec.get("name") or spec_path.parent.name
        for port in spec.get("outputs") or []:
            ports.append(f"{product}.{port['name']}")
            for col in port.get("columns") or []:
                if isinstance(col, dict) and "unique" in (col.get("tests") or []):
                    keys.setdefault(f"{product}.{port['name']}", str(col["name"]))
        for inp in spec.get("inputs") or []:
            if "file" not in inp:
                continue
            path = (spec_path.parent / inp["file"]).resolve()
            fmt = inp.get("format") or path.suffix.lstrip(".").lower()
            if not path.is_relative_to(root):
                notes.append(f"{product}.{inp['name']}: {inp['file']} is outside the workspace, "
                             "not perturbed")
                continue
            rel = path.relative_to(root).as_posix()
            files.setdefault(rel, (fmt, []))[1].append(f"{product}.{inp['name']}")
    warehouse = root / str(config.get("warehouse") or "warehouse.duckdb")
    return Workspace(root, warehouse, sorted(ports), files, notes, keys)


def prepare_copy(source: Path, dest: Path) -> Workspace:
    """A copy of the workspace to build and perturb: no target/ or warehouse, and no data
    tests (on ports, models and inputs, singular tests), which decide whether a port is
    published, not its values, and would stop a build whose perturbed data breaks them."""
    source = source.resolve()
    ignore = shutil.ignore_patterns("target", ".git", "*.duckdb", "*.duckdb.wal", ".venv")
    shutil.copytree(source, dest, ignore=ignore)
    (dest / KEYS_FILE).write_text(json.dumps(read_workspace(source).keys), encoding="utf-8")
    for spec_path in _product_files(dest):
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8")) or {}
        dropped = [col.pop(key) for side in ("outputs", "inputs") for port in spec.get(side) or []
                   for col in [port, *(port.get("columns") or [])]
                   for key in ("tests", "data_tests") if isinstance(col, dict) and key in col]
        if spec.pop("models", None) is not None:  # tests on models
            dropped.append([])
        if dropped:
            spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        shutil.rmtree(spec_path.parent / "tests", ignore_errors=True)
    return read_workspace(dest)


# ---------------------------------------------------------------------------------------------
# Building and reading the ports
# ---------------------------------------------------------------------------------------------

Fingerprints = dict[str, str]  # `product.port.column` -> `rows:digest of the sorted values`
PAIR = "@"  # `product.port.c@k`: the digest of the sorted (k, c) pairs, k the port's key
KEYS_FILE = ".oracle-keys.json"


def _columns_only(prints: Fingerprints) -> Fingerprints:
    return {k: v for k, v in prints.items() if PAIR not in k}


def _changed(baseline: Fingerprints, prints: Fingerprints, *, moves: bool = True) -> set[str]:
    """The port columns whose values changed; or, in a port with a key (a column with a
    `unique` test), whose values moved to other keys while the key's own values stayed. When
    every column moved against the key, the key itself moved: nothing is inferred; nor after
    a shuffle (`moves` false), which moves values between rows by design, keys included."""
    out = {col for col, digest in baseline.items()
           if PAIR not in col and prints.get(col) != digest}
    if not moves:
        return out
    groups: dict[tuple[str, str], list[str]] = {}
    moved: dict[tuple[str, str], set[str]] = {}
    for name, digest in baseline.items():
        if PAIR not in name:
            continue
        col, key = name.split(PAIR)
        group = (col.rsplit(".", 1)[0], key)
        groups.setdefault(group, []).append(col)
        if prints.get(name) != digest:
            moved.setdefault(group, set()).add(col)
    for (port, key), cols in groups.items():
        found = moved.get((port, key), set())
        if found and f"{port}.{key}" not in out and len(found) < len(cols):
            out |= found
    return out


class BuildFailed(RuntimeError):
    pass


def _canon(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    return value


def _python_digest(values: Iterable[Any]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for v in sorted(repr(_canon(v)) for v in values):
        h.update(v.encode())
        h.update(b"\x00")
    return h.hexdigest()


def _port_columns(con: duckdb.DuckDBPyConnection, ports: Sequence[str]) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_schema || '.' || table_name, column_name from information_schema.columns"
        " where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
    ).fetchall()
    wanted = set(ports)
    out: dict[str, list[str]] = {port: [] for port in ports}
    for relation, column in rows:
        if relation in wanted:
            out[relation].append(column)
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def port_fingerprints(ws: Workspace, ports: Iterable[str] | None = None) -> Fingerprints:
    """`product.port.column` -> a digest of the column's sorted values (a multiset: the row
    count and the NULLs count), for every port or those given."""
    out: dict[str, str] = {}
    wanted = list(ws.ports if ports is None else ports)
    if not wanted:
        return out
    con = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        columns = _port_columns(con, wanted)
        selects = []
        for port, cols in columns.items():
            relation = ".".join(_quote(p) for p in port.split("."))
            digests = ", ".join(f"hash(list({q} order by {q} nulls first))::varchar"
                                for q in map(_quote, cols))
            key = ws.keys.get(port)
            keyed = [c for c in cols if key in cols and c != key]
            pairs = ", ".join(
                f"hash(list([{_quote(key or '')}::varchar, {_quote(c)}::varchar] order by "
                f"{_quote(key or '')}::varchar nulls first, {_quote(c)}::varchar nulls first))"
                "::varchar" for c in keyed)
            digests = ", ".join(d for d in (digests, pairs) if d)
            selects.append(f"select '{port}' as port, count(*) as n, [{digests}]::varchar[] as digests"
                           f" from {relation}")
        try:
            rows = con.execute(" union all ".join(selects)).fetchall()
        except duckdb.Error:  # a type DuckDB cannot sort: digest those values in Python
            rows = []
            for port, cols in columns.items():
                relation = ".".join(_quote(p) for p in port.split("."))
                values = con.execute(f"select * from {relation}").fetchall()
                width = range(len(cols))
                key = ws.keys.get(port)
                at = cols.index(key) if key in cols else -1
                rows.append((port, len(values), [
                    *(_python_digest(r[i] for r in values) for i in width),
                    *(_python_digest((r[at], r[c]) for r in values)
                      for c in width if at >= 0 and c != at)]))
        for port, n, digests in rows:
            cols = columns[port]
            key = ws.keys.get(port)
            keys = [f"{port}.{c}" for c in cols]
            keys += [f"{port}.{c}{PAIR}{key}" for c in cols if key in cols and c != key]
            for key, digest in zip(keys, digests, strict=True):
                out[key] = f"{n}:{digest}"
    finally:
        con.close()
    return out


def _fresh(ws: Workspace) -> None:
    for path in (ws.warehouse, ws.warehouse.with_name(ws.warehouse.name + ".wal")):
        path.unlink(missing_ok=True)


def build(ws: Workspace, select: Sequence[str] = ()) -> None:
    """A build into a fresh warehouse with the CLI, `--full-refresh`: of every model, or of the
    models in `select`."""
    _fresh(ws)
    args = ["build", "-p", str(ws.root), "--full-refresh"]
    for model in select:
        args += ["--select", model]
    result = CliRunner().invoke(dpsql_main, args)
    if result.exit_code != 0:
        raise BuildFailed(result.output.strip()[-3000:])


@dataclass(frozen=True)
class ModelGraph:
    """Which models read which: the dependencies a build is ordered by, from the manifest the
    build writes (`depends_on`: the relations each model's SQL reads; no column lineage)."""

    upstream: dict[str, set[str]]  # model id -> the models it reads
    readers: dict[str, set[str]]  # `product.input` -> the models reading it
    port_model: dict[str, str]  # `product.port` -> its model's id

    @classmethod
    def read(cls, ws: Workspace) -> ModelGraph:
        models = json.loads((ws.root / "target" / "manifest.json").read_text(encoding="utf-8"))["models"]
        upstream: dict[str, set[str]] = {}
        readers: dict[str, set[str]] = {}
        port_model: dict[str, str] = {}
        for mid, model in models.items():
            upstream[mid] = set(model["depends_on"]["models"])
            for name in model["depends_on"]["inputs"]:
                readers.setdefault(f"{model['product']}.{name}", set()).add(mid)
            if model.get("port"):
                port_model[f"{model['product']}.{model['port']}"] = mid
        return cls(upstream, readers, port_model)

    def reach(self, inputs: Iterable[str]) -> set[str]:
        """The models a change to `inputs` can reach, and everything they read (a fresh
        warehouse needs it)."""
        downstream: dict[str, set[str]] = {}
        for mid, ups in self.upstream.items():
            for up in ups:
                downstream.setdefault(up, set()).add(mid)
        reached = set().union(*(self.readers.get(i, set()) for i in inputs))
        todo = list(reached)
        while todo:
            for nxt in downstream.get(todo.pop(), set()) - reached:
                reached.add(nxt)
                todo.append(nxt)
        needed = set(reached)
        todo = list(reached)
        while todo:
            for up in self.upstream.get(todo.pop(), set()) - needed:
                needed.add(up)
                todo.append(up)
        return needed


class Job(NamedTuple):
    file: str  # relative to the workspace
    column: str
    label: str  # the perturbation
    data: bytes  # the file's perturbed bytes
    check: bool  # also build whole, as a cross-check


def _run_jobs(root: str, jobs: Sequence[Job], selective: bool
              ) -> tuple[Fingerprints, list[tuple[Job, Fingerprints | str]]]:
    """In one workspace copy: a control build of the data as it is, then each job built with
    its file replaced. Returns the control's fingerprints and, per job, its fingerprints or the
    build's error.

    `selective`: a job's build (fresh warehouse, --full-refresh) holds only the models its file
    can reach and their upstreams; the other ports are the control's. A job marked for a
    cross-check is also built whole, and both must agree."""
    ws = read_workspace(Path(root))
    build(ws)
    control = port_fingerprints(ws)
    graph = ModelGraph.read(ws) if selective else None
    results: list[tuple[Job, Fingerprints | str]] = []
    for job in jobs:
        rel, label = job.file, job.label
        path = ws.root / rel
        original = path.read_bytes()
        path.write_bytes(job.data)
        try:
            if graph is None:
                build(ws)
                prints = port_fingerprints(ws)
            else:
                models = graph.reach(ws.files[rel][1])
                if models:
                    build(ws, sorted(models))
                ports = [p for p, m in graph.port_model.items() if m in models]
                prints = {**control, **port_fingerprints(ws, ports)}
                if job.check:
                    build(ws)
                    whole = port_fingerprints(ws)
                    if whole != prints:
                        differ = sorted(k for k in whole if whole[k] != prints.get(k))
                        raise RuntimeError(f"{label}: building the models {rel} reaches gives other "
                                           f"ports than a full build: {differ}")
            results.append((job, prints))
        except BuildFailed as exc:
            results.append((job, str(exc)))
        finally:
            path.write_bytes(original)
    return control, results


# ---------------------------------------------------------------------------------------------
# The claim: what `dpsql lineage` says
# ---------------------------------------------------------------------------------------------

def claim(root: Path, raw_column: str, extra_args: Sequence[str] = COMPLETE_CLAIM_ARGS
          ) -> tuple[set[str], set[str], str | None]:
    """The port columns `dpsql lineage <raw_column> --downstream --format json <extra_args>`
    lists: (claimed, flagged incomplete, the error if the command failed). A column flagged
    `"incomplete": true` is possibly affected: it counts as claimed."""
    args = ["lineage", "-p", str(root), raw_column, "--downstream", "--format", "json", *extra_args]
    result = CliRunner().invoke(dpsql_main, args)
    if result.exit_code != 0:
        return set(), set(), result.output.strip()[-500:]
    doc = json.loads(result.stdout)
    claimed = {p for p in doc.get("ports_reached", []) if p.count(".") == 2}
    incomplete = set()
    for node in doc.get("nodes", []):
        if node.get("kind") != "column" or node.get("role") != "port":
            continue
        claimed.add(node["id"])
        if node.get("incomplete"):
            incomplete.add(node["id"])
    return claimed, incomplete, None


# ---------------------------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------------------------

Pair = tuple[str, str]  # (raw column `product.input.column`, port column `product.port.column`)


@dataclass
class Result:
    workspace: str
    raw_columns: list[str]  # those perturbed
    baseline: Fingerprints  # every port column -> `rows:digest`
    true: set[Pair]
    claimed: set[Pair]
    incomplete: set[Pair]  # claimed as possibly affected
    evidence: dict[Pair, list[str]]  # the perturbations that showed each true pair
    failures: list[str]  # perturbations whose build failed
    claim_errors: list[str]
    notes: list[str]
    builds: int
    seconds: float

    @property
    def port_columns(self) -> list[str]:
        return sorted(self.baseline)

    @property
    def missing(self) -> set[Pair]:
        return self.true - self.claimed

    @property
    def extra(self) -> set[Pair]:
        return self.claimed - self.true

    @property
    def recall(self) -> float:
        return len(self.true & self.claimed) / len(self.true) if self.true else 1.0

    @property
    def precision(self) -> float:
        return len(self.true & self.claimed) / len(self.claimed) if self.claimed else 1.0

    def summary(self) -> str:
        return (f"{self.workspace}: recall {self.recall:.3f}, precision {self.precision:.3f} "
                f"({len(self.true)} true pairs, {len(self.claimed)} claimed, "
                f"{len(self.missing)} missing, {len(self.extra)} extra; "
                f"{len(self.raw_columns)} raw columns, {len(self.baseline)} port columns, "
                f"{self.builds} builds in {self.seconds:.1f}s)")

    def report(self, limit: int | None = None) -> str:
        lines = [self.summary()]
        for title, pairs in (("missing (true, not claimed)", self.missing),
                             ("extra (claimed, not true)", self.extra)):
            lines.append(f"{title}: {len(pairs)}")
            for raw, port in sorted(pairs)[:limit]:
                why = ", ".join(self.evidence.get((raw, port), []))
                flag = "  (flagged incomplete)" if (raw, port) in self.incomplete else ""
                lines.append(f"  {raw} -> {port}{flag}" + (f"   [{why}]" if why else ""))
            if limit is not None and len(pairs) > limit:
                lines.append(f"  ... and {len(pairs) - limit} more")
        if self.incomplete:
            lines.append(f"claimed as possibly affected (incomplete): {len(self.incomplete)}")
        for title, items in (("failed builds", self.failures), ("lineage errors", self.claim_errors),
                             ("notes", self.notes)):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  {item}" for item in items)
        return "\n".join(lines)


def _claims(root: Path, raws: Mapping[str, RawFile], claim_args: Sequence[str]
            ) -> tuple[set[Pair], set[Pair], list[str]]:
    claimed: set[Pair] = set()
    incomplete: set[Pair] = set()
    errors: list[str] = []
    for raw_id, raw in sorted(raws.items()):
        column = raw_id.rsplit(".", 1)[1]
        for reader in raw.readers:
            got, flagged, error = claim(root, f"{reader}.{column}", claim_args)
            if error:
                errors.append(f"{reader}.{column}: {error}")
            claimed |= {(raw_id, c) for c in got}
            incomplete |= {(raw_id, c) for c in flagged}
    return claimed, incomplete, errors


@dataclass
class _Plan:
    base: Workspace
    raw_columns: list[str]  # those perturbed
    raw_of: dict[tuple[str, str], str]  # (file, column) -> raw column id
    readers: dict[str, RawFile]  # raw column id -> its file
    jobs: list[Job]
    notes: list[str]


def _plan(source: Path, work: Path, hows: Sequence[str], sample: int | None) -> _Plan:
    base = prepare_copy(source, work / "base")
    notes = list(base.notes)
    raws = [_read_raw(base.root / rel, rel, fmt, readers) for rel, (fmt, readers) in base.files.items()]
    for raw in raws:  # the baseline is the files as this module writes them
        (base.root / raw.rel).write_bytes(raw.render())
        if len(raw.readers) > 1:
            notes.append(f"{raw.rel} is read by {', '.join(raw.readers)}; its columns are "
                         f"named after {raw.readers[0]}")
    by_id = {f"{raw.readers[0]}.{column}": (raw, column) for raw in raws for column in raw.columns}
    chosen = sorted(by_id)
    if sample is not None and sample < len(chosen):
        chosen = sorted(random.Random(SEED).sample(chosen, sample))
    jobs: list[Job] = []
    checked: set[str] = set()  # the first perturbation of each file is cross-checked
    for raw_id in chosen:
        raw, column = by_id[raw_id]
        for p in perturbations(raw, column, hows):
            jobs.append(Job(p.file, p.column, p.label, p.data, p.file not in checked))
            checked.add(p.file)
    return _Plan(base, chosen, {(by_id[r][0].rel, by_id[r][1]): r for r in chosen},
                 {r: by_id[r][0] for r in chosen}, jobs, notes)


def run_oracle(source: Path, work: Path, *, claim_args: Sequence[str] = COMPLETE_CLAIM_ARGS,
               hows: Sequence[str] = PERTURBATIONS, sample: int | None = None,
               workers: int | None = None, selective: bool = True) -> Result:
    """Perturb the columns of the file inputs of the workspace at `source`, in copies under
    `work`, and compare with the claim of `dpsql lineage` run with `claim_args`.

    `sample`: perturb only that many raw columns, drawn with a fixed seed. `workers`: builds
    run in that many processes (default: one per CPU, at most 4), each in its own copy.
    `selective`: each perturbation builds (fresh warehouse, --full-refresh) only the models its
    file can reach, and what they read; the other ports keep the baseline. The first
    perturbation of each file is also built whole, as a cross-check. Without it, every
    perturbation builds every model."""
    started = time.perf_counter()
    plan = _plan(source, work, hows, sample)
    n = max(1, min(workers or os.cpu_count() or 1, 4, len(plan.jobs)))
    roots = []
    for i in range(n):
        shutil.copytree(plan.base.root, work / f"w{i}")
        roots.append(str(work / f"w{i}"))
    chunks = [plan.jobs[i::n] for i in range(n)]
    if n == 1:
        outcomes = [_run_jobs(roots[0], chunks[0], selective)]
        claimed, incomplete, claim_errors = _claims(plan.base.root, plan.readers, claim_args)
    else:  # the claims are asked while the workers build
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(n, mp_context=ctx) as pool:
            futures = [pool.submit(_run_jobs, r, c, selective) for r, c in zip(roots, chunks, strict=True)]
            claimed, incomplete, claim_errors = _claims(plan.base.root, plan.readers, claim_args)
            outcomes = [f.result() for f in futures]

    baseline = outcomes[0][0]
    for i, (control, _) in enumerate(outcomes[1:], start=1):
        if control != baseline:
            differ = sorted(k for k in baseline.keys() | control.keys() if baseline.get(k) != control.get(k))
            raise RuntimeError(f"two builds of the same data differ (copy {i}): {differ}")
    true: set[Pair] = set()
    evidence: dict[Pair, list[str]] = {}
    failures: list[str] = []
    for _, results in outcomes:
        for job, prints in results:
            if isinstance(prints, str):
                failures.append(f"{job.file} {job.label}: {prints.splitlines()[-1] if prints else ''}")
                continue
            for port_col in _changed(baseline, prints, moves=not job.label.endswith(":shuffle")):
                pair = (plan.raw_of[job.file, job.column], port_col)
                true.add(pair)
                evidence.setdefault(pair, []).append(job.label)
    builds = len(plan.jobs) + n + (sum(job.check for job in plan.jobs) if selective else 0)
    return Result(str(source), plan.raw_columns, _columns_only(baseline), true, claimed,
                  incomplete,
                  {k: sorted(v) for k, v in evidence.items()}, failures, claim_errors, plan.notes,
                  builds=builds, seconds=time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure `dpsql lineage` against a perturbation oracle: recall, precision, "
                    "and the missing and extra (raw column -> port column) pairs.")
    parser.add_argument("workspace", nargs="?", type=Path,
                        help="a workspace folder (default: the generated tricky mesh)")
    parser.add_argument("--claim-args", default=" ".join(COMPLETE_CLAIM_ARGS),
                        help="extra arguments of `dpsql lineage ... --downstream --format json` "
                             "(default: %(default)s)")
    parser.add_argument("--fast", action="store_true",
                        help="three perturbations per column (shift or suffix, shuffle, NULLs)")
    parser.add_argument("--sample", type=int, default=None, help="perturb N raw columns only")
    parser.add_argument("--workers", type=int, default=None, help="build processes")
    parser.add_argument("--whole", action="store_true",
                        help="build every model for every perturbation (slower; the default builds "
                             "the models the perturbed file reaches)")
    parser.add_argument("--limit", type=int, default=None, help="list at most N missing and extra pairs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dpsql-oracle-") as tmp:
        source = args.workspace
        if source is None:
            import tricky_mesh
            optional = tricky_mesh.optional_supported(Path(tmp))
            source = tricky_mesh.write_mesh(Path(tmp) / "tricky_mesh", optional=optional)
            print(f"tricky mesh: {tricky_mesh.model_count(optional=optional)} models"
                  + ("" if optional else " (the optional models are not accepted yet: left out)"))
        result = run_oracle(source, Path(tmp) / "work", claim_args=args.claim_args.split(),
                            hows=FAST_PERTURBATIONS if args.fast else PERTURBATIONS,
                            sample=args.sample, workers=args.workers, selective=not args.whole)
    print(result.report(args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
