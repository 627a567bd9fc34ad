"""A content-addressed cache of compile results in target/cache/, so unchanged models are not
rendered, parsed, typed or traced again.

It stores results, never syntax trees (loading a pickled sqlglot tree costs about as much as
parsing it). Two stages, each keyed by a hash of everything its result depends on:

- bind: a model's template, its product's files (product.yml, macros) and the workspace's
  (dpsql.yml, shared macros, every product's models and output ports) -> rendered and
  compiled SQL, config, dependencies; environment variables a template read are stored with
  their values and checked on the way out;
- type: a model's compiled SQL and the columns of every relation it reads -> its columns (or
  DuckDB's bind error) and its column lineage;
- test: a built-in data test's kind, relation, column and arguments (and the SQL of the
  ephemeral models it inlines) -> its SQL and the query that runs it.

A result with an error is not stored, so the error is reported again on the next compile.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dpsql.core.sealed import read_sealed, write_sealed

log = logging.getLogger("dpsql")

FORMAT = 2  # 2: sealed (a header line with a digest of the entries)
FILE = Path("target") / "cache" / "compile.json"
STAGES = ("bind", "type", "test")
__all__ = ["CompileCache", "digest", "files_digest", "read_sealed", "write_sealed"]


def digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


class CompileCache:
    """Entries read at the start of a compile; those used or added are written at the end."""

    def __init__(self, root: Path, entries: Mapping[str, Mapping[str, Any]] | None = None,
                 outputs: Path | None = None):
        # `outputs`: the chosen target's folder of outputs (default: the workspace's target/)
        self.path = root / FILE if outputs is None else outputs / FILE.relative_to("target")
        self._old: dict[str, dict[str, Any]] = {
            stage: dict(values) for stage, values in (entries or {}).items()}
        self._new: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
        self.hits = 0
        self.misses = 0

    @classmethod
    def load(cls, root: Path, outputs: Path | None = None) -> CompileCache:
        """The cache written by the last compile; empty if there is none, or if the file is
        damaged, edited, or from another version of dpsql (then it is rebuilt)."""
        empty = cls(root, outputs=outputs)
        data = read_sealed(empty.path, "compile", FORMAT)
        if not isinstance(data, dict) or not all(
                isinstance(data.get(s, {}), dict) for s in STAGES):
            return empty
        return cls(root, {s: data.get(s, {}) for s in STAGES}, outputs)

    def get(self, stage: str, key: str) -> Any | None:
        value = self._new[stage].get(key)
        if value is None:
            value = self._old.get(stage, {}).get(key)
            if value is not None:
                self._new[stage][key] = value
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def stored(self, stage: str) -> int:
        """How many entries of `stage` the last compile left."""
        return len(self._old.get(stage, {}))

    def put(self, stage: str, key: str, value: Any) -> None:
        self._new[stage][key] = value

    @property
    def changed(self) -> bool:
        return any(set(self._new[s]) != set(self._old.get(s, {})) for s in self._new)

    def save(self) -> None:
        """Write the entries of this compile (dropping stale ones), atomically; only if changed.
        A target/ that cannot be written only costs speed."""
        if self.changed:
            write_sealed(self.path, "compile", FORMAT, self._new)


def files_digest(paths: Iterable[Path]) -> str:
    """A hash of files' names and contents (missing files hash as empty)."""
    h = hashlib.blake2b(digest_size=16)
    for path in paths:
        h.update(str(path).encode())
        h.update(b"\x00")
        with contextlib.suppress(OSError):
            h.update(path.read_bytes())
        h.update(b"\x01")
    return h.hexdigest()
