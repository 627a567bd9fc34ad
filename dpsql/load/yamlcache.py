"""Parsed product.yml files kept across compiles (target/cache/yaml.json), so a compile after
an edit does not parse and convert the YAML of every unchanged product again.

An entry is keyed by a digest of the file's text (read every time, so an edit is always seen,
whatever the file's time says) and holds what `parse_yaml` made of it: the values and the line
(and column) of each. Only documents without problems, whose values JSON gives back exactly
(mappings with text keys, lists, text, numbers, booleans, nulls; no dates or sets), are kept.
Like the compile cache, a file that is missing, damaged or from another version of dpsql is
ignored and rebuilt; `DPSQL_NO_FAST_PATHS` turns the cache off.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from dpsql.core.runtime import fast_paths_enabled
from dpsql.core.sealed import read_sealed, write_sealed
from dpsql.load.textfile import read_text
from dpsql.load.yamlfile import KeyPath, YamlDoc, parse_yaml

FORMAT = 1
FILE = Path("cache") / "yaml.json"  # under the target's folder of outputs
_TABLES = ("lines", "key_lines", "key_cols", "texts")


class YamlCache:
    """Documents read at the start of a load; those used or added are written at the end."""

    def __init__(self, path: Path | None, entries: dict[str, Any] | None = None):
        self.path = path  # None: no cache (fast paths off)
        self._old: dict[str, Any] = entries or {}
        self._new: dict[str, Any] = {}

    @classmethod
    def load(cls, outputs: Path | None) -> YamlCache:
        """The cache the last load left in `outputs` (the target's folder of outputs); None:
        no cache."""
        if outputs is None or not fast_paths_enabled():
            return cls(None)
        path = outputs / FILE
        found = read_sealed(path, "yaml", FORMAT)
        return cls(path, found if isinstance(found, dict) else None)

    def load_yaml(self, path: Path) -> YamlDoc:
        """As yamlfile.load_yaml: the document at `path`, or DpsqlError with its problems."""
        text = read_text(path)
        if self.path is None:
            return parse_yaml(path, text)
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        entry = self._new.get(key) or self._old.get(key)
        if entry is not None:
            self._new[key] = entry
            return _from_data(path, entry)
        doc = parse_yaml(path, text)
        if _plain(doc.data):
            self._new[key] = _to_data(doc)
        return doc

    def save(self) -> None:
        """Write the documents of this load (dropping the others), if they changed."""
        if self.path is not None and set(self._new) != set(self._old):
            write_sealed(self.path, "yaml", FORMAT, self._new)


def _plain(value: Any) -> bool:
    """`value` comes back from JSON as it is."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    if kind is float:
        return math.isfinite(value)
    return kind in (str, int, bool, type(None))


def _to_data(doc: YamlDoc) -> dict[str, Any]:
    out: dict[str, Any] = {"data": doc.data}
    for name in _TABLES:
        table: dict[KeyPath, Any] = getattr(doc, name)
        out[name] = [[*keys, value] for keys, value in table.items()]
    return out


def _from_data(path: Path, entry: dict[str, Any]) -> YamlDoc:
    tables = {name: {tuple(row[:-1]): row[-1] for row in entry[name]} for name in _TABLES}
    return YamlDoc(path, entry["data"], **tables)
