"""The columns of file inputs: DuckDB's reading of each file's schema, cached by the file's
size and modification time, and read on threads when several files are new."""

from __future__ import annotations

from collections.abc import Sequence

from dpsql.compile.cache import CompileCache, digest
from dpsql.compile.typing.schema import BindError, SchemaCatalog
from dpsql.core.project import Column
from dpsql.core.specs import InputSpec
from dpsql.load.files import file_problem


def file_schemas(specs: Sequence[InputSpec], catalog: SchemaCatalog, cache: CompileCache
                 ) -> list[tuple[Column, ...] | BindError]:
    """For each file input, its columns or why it cannot be read. Only a regular file is read
    (the loader refused anything else; this is in case it changed since): reading a FIFO would
    never end."""
    found: list[tuple[Column, ...] | BindError | None] = []
    keys: list[str | None] = []
    for spec in specs:
        try:
            key = _key(spec)
        except BindError as exc:
            found.append(exc)
            keys.append(None)
            continue
        entry = cache.get("type", key)
        found.append(None if entry is None else _columns(entry))
        keys.append(key)
    todo = [i for i, columns in enumerate(found) if columns is None]
    read = catalog.describe_files([(specs[i].file, specs[i].file_format or "csv",  # type: ignore[misc]
                                    specs[i].column_types) for i in todo])
    for i, columns in zip(todo, read, strict=True):
        found[i] = columns
        stored = keys[i]
        if not isinstance(columns, BindError) and stored is not None:
            cache.put("type", stored, {"columns": [[c.name, c.type] for c in columns]})
    return [columns for columns in found if columns is not None]


def _key(spec: InputSpec) -> str:
    path, file_format, types = spec.file, spec.file_format or "csv", spec.column_types
    assert path is not None
    problem = file_problem(path)
    if problem is not None:
        raise BindError(f"{path} {problem}")
    try:
        stat = path.stat()
    except OSError as exc:
        raise BindError(f"{path} cannot be read ({exc.strerror})") from None
    return digest("file", str(path), file_format, str(stat.st_size), str(stat.st_mtime_ns),
                  repr(types))


def _columns(entry: dict[str, list[list[str]]]) -> tuple[Column, ...]:
    return tuple(Column(name, type_) for name, type_ in entry["columns"])
