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
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dpsql.core import __version__

log = logging.getLogger("dpsql")

FORMAT = 1
FILE = Path("target") / "cache" / "compile.json"


def digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


class CompileCache:
    """Entries read at the start of a compile; those used or added are written at the end."""

    def __init__(self, root: Path, entries: Mapping[str, Mapping[str, Any]] | None = None):
        self.path = root / FILE
        self._old: dict[str, dict[str, Any]] = {
            stage: dict(values) for stage, values in (entries or {}).items()}
        self._new: dict[str, dict[str, Any]] = {"bind": {}, "type": {}}
        self.hits = 0
        self.misses = 0

    @classmethod
    def load(cls, root: Path) -> CompileCache:
        path = root / FILE
        try:
            with path.open("r", encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return cls(root)
        except (OSError, ValueError) as exc:
            log.info("ignoring an unreadable compile cache %s: %s", path, exc)
            return cls(root)
        if data.get("format") != FORMAT or data.get("dpsql") != __version__:
            return cls(root)
        return cls(root, {"bind": data.get("bind", {}), "type": data.get("type", {})})

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

    def put(self, stage: str, key: str, value: Any) -> None:
        self._new[stage][key] = value

    @property
    def changed(self) -> bool:
        return any(set(self._new[s]) != set(self._old.get(s, {})) for s in self._new)

    def save(self) -> None:
        """Write the entries of this compile (dropping stale ones), atomically; only if changed."""
        if not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "dpsql": __version__, **self._new}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".compile.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only target/ only costs speed
            log.info("could not write the compile cache %s: %s", self.path, exc)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


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
