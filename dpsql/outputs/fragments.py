"""Each model's entry in a large JSON output, taken from the file as it was last written when
nothing it is made from changed.

A model's entries in manifest.json and target/dbt/manifest.json are pure functions of what its
compile results depend on, which `CompiledModel.key` digests (its binding's and its typing's
cache keys, the environment variables its template read, how it was typed). When a manifest
is written, an index beside the cache records, for each model, that key and where its entry's
bytes sit in the file; the next write copies those bytes for every model whose key is the
same, instead of building and serialising the entry again (at 10,000 models, a compile after
one edit builds one entry instead of 10,000). The bytes are read from the old file as the new
one is written, one entry at a time.

The index is a sealed file (core/sealed.py: written by this version of dpsql, not edited
since), and is used only when the output file is still the one it describes (the same size
and modification time, to the nanosecond), for this workspace, warehouse and target
(`salt`); anything else, or any doubt, and every entry is built again.
`DPSQL_NO_FAST_PATHS=1` turns the indexes off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dpsql.core import jsonio
from dpsql.core.runtime import fast_paths_enabled
from dpsql.core.sealed import read_sealed, write_sealed

log = logging.getLogger("dpsql")

FORMAT = 2  # 2: sealed


class Fragments:
    """What an output file held for each model, by key; `keys` collects what this write holds.
    A context manager: the last file stays open (for reading, even once it is replaced by the
    new one) until the block ends."""

    def __init__(self, path: Path, index: Path, salt: str):
        self.path = path
        self.index = index
        self.salt = salt
        self._old: dict[str, tuple[str, int, int]] = {}
        self._fd: int | None = None
        self.keys: dict[str, str] = {}  # the key of each entry written now, where one is known
        self.reused = 0
        self._open()

    def __enter__(self) -> Fragments:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        raw = read_index(self.index)
        if raw is None or raw.get("salt") != self.salt or not isinstance(raw.get("entries"), dict):
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        stat = os.fstat(fd)
        if raw.get("file") != [stat.st_size, stat.st_mtime_ns]:
            os.close(fd)  # not the file the index describes
            return
        self._fd = fd
        # a sealed file is as save() wrote it: its entries need no checking
        self._old = {mid: (key, start, length) for mid, (key, start, length)
                     in raw["entries"].items()}

    def entry(self, model_id: str, key: str | None, build: Callable[[], Any]) -> Any:
        """The model's entry: the bytes written last time (read when the new file is written)
        if they were made from the same key, else `build()`. The key is noted either way (the
        entry's place is recorded once it is written)."""
        if key is None:
            return build()
        self.keys[model_id] = key
        found = self._old.get(model_id)
        if found is None or found[0] != key or self._fd is None:
            return build()
        _, start, length = found
        fd = self._fd

        def read() -> bytes:
            try:
                part = os.pread(fd, length, start)
            except OSError:
                part = b""
            if len(part) == length and part[:1] == b"{" and part[-1:] == b"}":
                self.reused += 1
                return part
            log.debug("%s: the entry of %s is not where the index says", self.path, model_id)
            return jsonio.dumps(build())
        return jsonio.Spliced(read)

    def save(self, places: Mapping[str, tuple[int, int]]) -> None:
        """Record where each keyed entry now sits in the file just written (`places`: model id
        -> offset, length). A failure costs only the next write's speed."""
        entries = {mid: [key, *places[mid]] for mid, key in self.keys.items() if mid in places}
        try:
            stat = self.path.stat()
        except OSError:
            return
        save_index(self.index, {"salt": self.salt, "file": [stat.st_size, stat.st_mtime_ns],
                                "entries": entries})
        log.debug("%s: %d model entries reused, %d built", self.path.name, self.reused,
                  len(places) - self.reused)


def read_index(path: Path) -> dict[str, Any] | None:
    """An index written by save_index() with this version of dpsql, as it wrote it (a sealed
    file: one edited by hand is ignored); None if there is none, or fast paths are off."""
    if not fast_paths_enabled():
        return None
    found = read_sealed(path, "index", FORMAT)
    return found if isinstance(found, dict) else None


def save_index(path: Path, data: dict[str, Any]) -> None:
    """Write an index atomically (an index only saves time: one that cannot be written costs
    the next write its speed)."""
    if fast_paths_enabled():
        write_sealed(path, "index", FORMAT, data)
