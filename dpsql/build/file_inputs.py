"""File inputs in the warehouse: each is a view in `<product>_internal` over its file.

A build publishes the views its models read that are missing, differ from what they should be
(their reader SQL is fingerprinted like a model), or all of them with --full-refresh. A view
that cannot be created is reported as broken: the models reading it are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dpsql.build import state
from dpsql.build.engines.duckdb import Catalog
from dpsql.compile.typing.schema import file_reader_sql
from dpsql.core.errors import error_text
from dpsql.core.project import CompiledProject
from dpsql.core.relations import Relation
from dpsql.load.files import file_problem


@dataclass(frozen=True)
class FileInput:
    product: str
    name: str  # the input's name in its product
    relation: Relation
    sql: str  # the reader query the view is defined as
    path: Path

    @property
    def key(self) -> tuple[str, str]:
        return self.product, self.name

    @property
    def state_id(self) -> str:
        """Its id among the recorded fingerprints."""
        return f"{self.product}:{self.name}"


def file_inputs(compiled: CompiledProject, ports: Iterable[tuple[str, str]]) -> list[FileInput]:
    """The file inputs among (product, input) `ports`, in order."""
    out = []
    for product_name, input_name in sorted(set(ports)):
        product = compiled.project.by_name[product_name]
        spec = product.spec.input(input_name)
        if spec is None or spec.kind != "file" or spec.file is None or not spec.file_format:
            continue
        out.append(FileInput(product_name, input_name, product.relation_of_input(spec),
                             file_reader_sql(spec.file, spec.file_format, spec.column_types),
                             spec.file))
    return out


def is_stale(file: FileInput, catalog: Catalog, stored: Mapping[str, state.Stored],
             full_refresh: bool) -> bool:
    """A file input's view is missing, differs from what it should be, or --full-refresh."""
    recorded = stored.get(file.state_id)
    return (full_refresh or catalog.kind(file.relation) != "view" or recorded is None
            or recorded.fingerprint != state.digest(file.sql))


def publish(con: duckdb.DuckDBPyConnection, files: Sequence[FileInput], catalog: Catalog
            ) -> tuple[list[state.Row], dict[tuple[str, str], str]]:
    """Create or replace the views: the fingerprint rows of those published, and the error
    text of each that could not be, by (product, input)."""
    rows: list[state.Row] = []
    broken: dict[tuple[str, str], str] = {}
    for file in files:
        row = state.Row(file.state_id, str(file.relation), state.digest(file.sql))
        problem = file_problem(file.path)  # replaced since it was loaded? a FIFO would block
        if problem is not None:
            broken[file.key] = f"{file.path} {problem}"
            continue
        try:
            _replace_view(con, file.relation, file.sql, catalog.kind(file.relation))
        except duckdb.Error as exc:
            broken[file.key] = error_text(exc)
            continue
        rows.append(row)
    return rows, broken


def _replace_view(con: duckdb.DuckDBPyConnection, relation: Relation, sql: str,
                  kind: str | None) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        if kind == "table":
            con.execute(f"DROP TABLE {relation.sql}")
        con.execute(f"CREATE OR REPLACE VIEW {relation.sql} AS {sql}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
