"""Spark, through PySpark: starting a session, and the warehouse a Spark target builds into.

Local mode (`master: local[*]`) runs Spark inside this process's JVM; Spark Connect
(`remote: sc://host:port`) talks to a server. One session serves the whole process (a second
command in the same process, as in the test suite, reuses it).

The warehouse is `warehouse_dir`. Tables are parquet folders, one per version
(`<database>/<table>/v<time>/`), and `_dpsql/registry.json` says which version of each table
is published, the SQL of each view, how each file input is read, the DuckDB types of what was
published and the fingerprints: it is the catalog, and is replaced atomically (a rename), so
another process sees the previous state or the new one. A session's own catalog (in memory)
is made to match the registry when a command opens the warehouse (`attach`). Tables are
registered as external tables, so dropping a registration never deletes data.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dpsql.build.engines.duckdb import Catalog
from dpsql.build.state import Row, Stored
from dpsql.compile.typing.sparktypes import to_spark
from dpsql.core.errors import DpsqlError, Location, error, error_text
from dpsql.core.project import Column
from dpsql.core.relations import Relation
from dpsql.core.specs import Target

log = logging.getLogger("dpsql")

REGISTRY = Path("_dpsql") / "registry.json"
FORMAT = 1
CONNECT_TIMEOUT = 5.0  # seconds to reach a Spark Connect server
_SETTINGS = {  # what models mean: DuckDB's TIMESTAMP has no time zone; errors are errors
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.ansi.enabled": "true",
}
_LAUNCH = {  # local mode, when this process starts the JVM
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.catalogImplementation": "in-memory",
}
_INSTALL = "install it: `pip install 'dpsql[spark]'`"
_JAVA = ("Spark needs Java 17 or later: install it (Debian: `apt-get install "
         "openjdk-17-jre-headless`) or set JAVA_HOME")


def unavailable(target: Target, what: str, hint: str) -> DpsqlError:
    return DpsqlError(error("DP414", f"spark target `{target.name}`: {what}", target.location,
                            hint))


def session(target: Target) -> Any:
    """The process's Spark session for `target`; DP414 when Spark cannot start."""
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError:
        raise unavailable(target, "PySpark is not installed", _INSTALL) from None
    if target.remote:
        return _remote(target, SparkSession)
    # a JVM this process already runs (an earlier command, or the caller's) is used as it is
    running = SparkContext._active_spark_context is not None
    active = SparkSession.builder.getOrCreate() if running else None
    if active is None:
        if not _java():
            raise unavailable(target, "Java was not found", _JAVA)
        builder = SparkSession.builder.master(target.master or "local[*]").appName("dpsql")
        own = {"spark.sql.warehouse.dir": str((target.warehouse_dir or Path("spark-warehouse"))
                                              .resolve() / "_dpsql" / "databases")}
        for key, value in {**_LAUNCH, **own, **target.conf}.items():
            builder = builder.config(key, value)
        try:
            active = builder.getOrCreate()
        except Exception as exc:
            raise unavailable(target, f"Spark did not start: {error_text(exc)}", _JAVA) from None
        active.sparkContext.setLogLevel("ERROR")
    for key, value in _SETTINGS.items():
        active.conf.set(key, value)
    return active


def _remote(target: Target, spark_session: Any) -> Any:
    url = urlparse(target.remote or "")
    host, port = url.hostname or "localhost", url.port or 15002
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise unavailable(target, f"the Spark Connect server {host}:{port} cannot be reached "
                          f"({exc.strerror or exc})", "start the server, or check `remote:` "
                          "in dpsql.yml (and the network between here and there)") from None
    try:
        spark = spark_session.builder.remote(target.remote).getOrCreate()
    except ImportError as exc:
        raise unavailable(target, f"Spark Connect needs more of PySpark ({exc})",
                          "install it: `pip install 'pyspark[connect]'`") from None
    for key, value in _SETTINGS.items():
        spark.conf.set(key, value)
    return spark


def _java() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return True
    return shutil.which("java") is not None


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def sql_name(relation: Relation | str) -> str:
    schema, _, name = str(relation).partition(".")
    return f"{ident(schema)}.{ident(name)}"


@dataclass
class Warehouse:
    """The warehouse of one Spark target: its registry, and the session's catalog.

    Spark starts when something first needs it (`spark`), so a build with nothing to do reads
    the registry alone and starts no JVM."""

    target: Target
    root: Path
    registry: dict[str, Any]
    _session: Any = None

    @classmethod
    def open(cls, target: Target, *, write: bool = False) -> Warehouse:
        root = target.warehouse_dir or Path("spark-warehouse")
        if not write and not (root / REGISTRY).is_file():
            raise DpsqlError(error("DP402", f"there is no Spark warehouse at {root} yet",
                                   Location(root), "run `dpsql build --target "
                                   f"{target.name}` first"))
        return cls(target, root, _read(root / REGISTRY))

    @property
    def spark(self) -> Any:
        """The session, its catalog holding this warehouse's relations (DP414 if Spark
        cannot start)."""
        if self._session is None:
            self._session = session(self.target)
            self.attach()
            for name, entry in self.relations.items():  # Spark keeps a file's old length
                if entry["kind"] == "file":
                    self._session.catalog.refreshTable(sql_name(name))
        return self._session

    def start(self) -> None:
        """Start Spark now (DP414 if it cannot), before anything is written."""
        assert self.spark is not None

    # --- the registry ----------------------------------------------------------------------

    @property
    def relations(self) -> dict[str, dict[str, Any]]:
        return self.registry.setdefault("relations", {})

    @property
    def fingerprints(self) -> dict[str, dict[str, Any]]:
        return self.registry.setdefault("fingerprints", {})

    def save(self) -> None:
        """Replace the registry in one rename: readers see the old catalog or the new one."""
        path = self.root / REGISTRY
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".registry.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({**self.registry, "format": FORMAT}, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
        _ATTACHED[str(self.root.resolve())] = _digest(self.registry)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One build at a time per warehouse (other processes fail at once with DP402)."""
        path = self.root / "_dpsql" / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise DpsqlError(error("DP402", f"the Spark warehouse {self.root} is being "
                                       "built by another process", Location(self.root),
                                       "wait for that build to finish, then run this again")
                                 ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def catalog(self) -> Catalog:
        kinds = {_relation(k): ("table" if v["kind"] == "table" else "view")
                 for k, v in self.relations.items()}
        return Catalog(kinds, frozenset(r.schema for r in kinds))

    def columns(self, relations: Iterable[Relation]) -> dict[Relation, tuple[Column, ...]]:
        """The DuckDB types of what was published (Spark holds their Spark spelling)."""
        out = {}
        for relation in relations:
            entry = self.relations.get(str(relation))
            if entry is not None and entry.get("columns") is not None:
                out[relation] = tuple(Column(n, t) for n, t in entry["columns"])
        return out

    def stored(self) -> dict[str, Stored]:
        return {k: Stored(v["fingerprint"], v["relation"], v.get("version"))
                for k, v in self.fingerprints.items()}

    def record(self, row: Row) -> None:
        self.fingerprints[row.id] = {"fingerprint": row.fingerprint, "relation": row.relation,
                                     "version": row.version}

    # --- the session's catalog -------------------------------------------------------------

    def attach(self) -> None:
        """Make the session's catalog hold exactly this warehouse's relations."""
        key = str(self.root.resolve())
        if _ATTACHED.get(key) == _digest(self.registry) and len(_ATTACHED) == 1:
            return
        for name in list(_REGISTERED):
            self.unregister(_relation(name))
        _ATTACHED.clear()
        views = []
        for name, entry in self.relations.items():
            if entry["kind"] == "view":
                views.append((name, entry))
            else:
                self.register(_relation(name), entry)
        _create_views(self, views)
        _ATTACHED[key] = _digest(self.registry)

    def database(self, schema: str) -> None:
        folder = (self.root / "_dpsql" / "databases" / f"{schema}.db").resolve()
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {ident(schema)} "
                       f"LOCATION '{_quote(str(folder))}'")

    def register(self, relation: Relation, entry: Mapping[str, Any]) -> None:
        """Register a table or a file input under `relation` (replacing what was there)."""
        self.database(relation.schema)
        self.unregister(relation)
        if entry["kind"] == "table":
            location = (self.root / entry["path"]).resolve()
            self.spark.sql(f"CREATE TABLE {sql_name(relation)}{_schema(entry)} USING parquet "
                           f"LOCATION '{_quote(str(location))}'")
        elif entry["kind"] == "file":
            options = {"path": entry["path"], **entry["options"]}
            listed = ", ".join(f"{ident(k)} '{_quote(v)}'" for k, v in options.items())
            schema = f" ({entry['schema']})" if entry["schema"] else ""
            self.spark.sql(f"CREATE TABLE {sql_name(relation)}{schema} USING {entry['format']} "
                           f"OPTIONS ({listed})")
        else:
            self.spark.sql(f"CREATE VIEW {sql_name(relation)} AS {entry['sql']}")
        _REGISTERED.add(str(relation))

    def unregister(self, relation: Relation) -> None:
        name = sql_name(relation)
        with contextlib.suppress(Exception):
            self.spark.sql(f"DROP VIEW IF EXISTS {name}")
        with contextlib.suppress(Exception):
            self.spark.sql(f"DROP TABLE IF EXISTS {name}")
        _REGISTERED.discard(str(relation))

    def new_version(self, relation: Relation) -> str:
        """A fresh folder (relative to the warehouse) for a new version of a table."""
        return f"{relation.schema}/{relation.name}/v{time.time_ns()}"

    def sweep(self, relation: Relation, keep: Iterable[str]) -> None:
        """Delete the versions of a table other than `keep` (the published and the one before,
        which a reader that started earlier may still be reading)."""
        folder = self.root / relation.schema / relation.name
        kept = {self.root / k for k in keep}
        if folder.is_dir():
            for version in folder.iterdir():
                if version not in kept:
                    shutil.rmtree(version, ignore_errors=True)


def _create_views(warehouse: Warehouse, views: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Views in an order where each one's relations exist (a view over a view comes later)."""
    todo = list(views)
    while todo:
        failed = []
        for name, entry in todo:
            try:
                warehouse.register(_relation(name), entry)
            except Exception as exc:  # a view it reads is not there yet: next round
                failed.append((name, entry, error_text(exc)))
        if len(failed) == len(todo):
            for name, _, text in failed:
                log.warning("view %s cannot be registered: %s", name, text)
            return
        todo = [(n, e) for n, e, _ in failed]


_ATTACHED: dict[str, str] = {}  # warehouse folder -> digest of the registry the session holds
_REGISTERED: set[str] = set()  # relations this process registered in the session's catalog


def _schema(entry: Mapping[str, Any]) -> str:
    """A table's columns in Spark types (so that Spark need not read its files to know)."""
    columns = entry.get("columns") or ()
    if not columns:
        return ""
    return " (" + ", ".join(f"{ident(n)} {to_spark(t)}" for n, t in columns) + ")"


def _relation(text: str) -> Relation:
    schema, _, name = text.partition(".")
    return Relation(schema, name)


def _digest(registry: Mapping[str, Any]) -> str:
    return json.dumps(registry.get("relations", {}), sort_keys=True)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": FORMAT, "relations": {}, "fingerprints": {}}
    except (OSError, ValueError) as exc:
        raise DpsqlError(error("DP402", f"dpsql's registry of the Spark warehouse cannot be "
                               f"read: {exc}", Location(path), "restore it, or delete the "
                               "warehouse folder and build again")) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DpsqlError(error("DP402", "dpsql's registry of the Spark warehouse is not one "
                               "this version wrote", Location(path),
                               "delete the warehouse folder and build again"))
    return data
