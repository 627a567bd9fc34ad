"""What a `file:` input may be: a regular file, or a symlink to one.

A file input is read by DuckDB when a model is typed and when its view is built. Anything else
found at the path is refused before it is read: a directory or a missing file cannot be read,
a symlink loop cannot be followed, and reading a FIFO, a socket or a device would block or
never end. `os.stat` tells them apart without opening the path.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dpsql.core.dtypes import type_expression

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def resolve(path: Path) -> Path:
    """The absolute path with symlinks resolved where they can be (a symlink loop stays as
    written, and is reported by `file_problem`)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: Python < 3.13 on a symlink loop
        return Path(os.path.abspath(path))


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a file input, in words that follow "it"; None if it can."""
    try:
        info = os.stat(path)  # follows symlinks; never opens the file
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "does not exist"
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISREG(info.st_mode):
        if "\\" in str(path) and any(c in str(path) for c in "*?["):
            # DuckDB's readers take `\` as an escape in a pattern: no spelling reads it
            return ("has `\\` and one of `*`, `?`, `[` in its path, which DuckDB reads as a "
                    "pattern: rename it")
        return None
    for test, kind in _KINDS:
        if test(info.st_mode):
            return f"is {kind}, not a file"
    return "is not a regular file"


FILE_FORMATS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".json": "json",
                ".jsonl": "json", ".ndjson": "json"}


def file_format_of(file: Path) -> str:
    """csv, parquet or json from the file's name (`.csv.gz`: a compressed csv); else ''."""
    suffixes = [s.lower() for s in file.suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[1] in (".gz", ".zst"):
        return FILE_FORMATS.get(suffixes[0], "")
    return FILE_FORMATS.get(suffixes[-1], "") if suffixes else ""


def column_types(raw: Any, fail: Callable[[str, str], None]) -> tuple[tuple[str, str], ...]:
    """`column_types: {id: integer}`: a csv file's columns read as these DuckDB types; what is
    not a column name with a DuckDB type is reported through `fail(message, hint)`."""
    if raw is None:
        return ()
    bad = "" if isinstance(raw, dict) else "a value that is not a mapping"
    for column, kind in raw.items() if isinstance(raw, dict) else ():
        try:
            type_expression(str(kind))
        except ValueError:
            bad = bad or f"`{column}: {kind}`"
    if bad:
        fail(f"`column_types` must map column names to DuckDB types, not {bad}",
             "e.g. `column_types: {id: integer, day: date}`")
        return ()
    return tuple((str(c), str(k)) for c, k in raw.items())
