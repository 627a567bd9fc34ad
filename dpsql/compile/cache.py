"""A content-addressed cache of compile results in target/cache/, so unchanged models are not
rendered, parsed, typed or traced again.

It stores results, never syntax trees (loading a pickled sqlglot tree costs about as much as
parsing it). Two stages, each keyed by a hash of everything its result depends on:

- bind: a model's template, its product's files and the workspace's (dpsql.yml, macros, every
  product.yml) -> rendered and compiled SQL, config, dependencies; environment variables a
  template read are stored with their values and checked on the way out;
- type: a model's compiled SQL and the columns of every relation it reads -> its columns (or
  DuckDB's bind error) and its column lineage.

A result with an error is not stored, so the error is reported again on the next compile.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dpsql.core import __version__, jsonio

log = logging.getLogger("dpsql")

FORMAT = 2  # 2: sealed (a header line with a digest of the entries)
FILE = Path("target") / "cache" / "compile.json"
STAGES = ("bind", "type")
_HEADER_MAX = 1024


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
                isinstance(data.get(s), dict) for s in STAGES):
            return empty
        return cls(root, {s: data[s] for s in STAGES}, outputs)

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


# --- sealed JSON files ---------------------------------------------------------------------
#
# target/cache/ is dpsql's own, but people and tools touch it: an editor, a merge, a disk that
# filled up halfway. A sealed file is a header line (what wrote it, and a digest of the rest)
# and a JSON document. Reading checks the header first, so a file dpsql did not write as it is,
# whatever its shape, is ignored rather than trusted; nothing that reads the entries has to
# defend against entries of the wrong shape.


def read_sealed(path: Path, kind: str, file_format: int) -> Any | None:
    """The document of a sealed file, or None (logged) if it is missing, not a regular file,
    not what dpsql wrote, or written by another version."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read
            log.info("ignoring %s: not a regular file", path)
            return None
        raw = path.read_bytes()
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError):
            log.info("ignoring %s: %s", path, exc)
        return None
    head, _, body = raw.partition(b"\n")
    try:
        header = jsonio.loads(head) if len(head) <= _HEADER_MAX else None
        expected = {"kind": kind, "format": file_format, "dpsql": __version__,
                    "digest": _body_digest(body)}
        if header != expected:
            log.info("ignoring %s: written by another version, or changed since", path)
            return None
        return jsonio.loads(body)
    except (ValueError, RecursionError) as exc:
        log.info("ignoring %s: %s", path, exc)
        return None


def write_sealed(path: Path, kind: str, file_format: int, document: Any) -> bool:
    """Write a sealed file atomically; False (logged) if it cannot be written."""
    body = jsonio.dumps(document)
    header = jsonio.dumps({"kind": kind, "format": file_format, "dpsql": __version__,
                           "digest": _body_digest(body)})
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + b"\n" + body)
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.info("could not write %s: %s", path, exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False


def _body_digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


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
