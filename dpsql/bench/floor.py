"""The DuckDB floor: the mesh's SELECTs as CREATE TABLE AS, in order, on one connection.

Run as `python -m dpsql.bench.floor SCRIPT DATABASE` from the mesh root (the script's file paths
are relative to it); prints one JSON object: seconds spent executing and statement count.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dpsql.bench.layouts import STATEMENT_END


def read_statements(script: Path) -> list[str]:
    text = script.read_text(encoding="utf-8")
    return [s.strip() for s in text.split(STATEMENT_END) if s.strip()]


def run_floor(script: Path, database: str) -> dict[str, float | int]:
    """Execute every statement of `script` against `database` (a path or ':memory:')."""
    import duckdb

    statements = read_statements(script)
    con = duckdb.connect(database)
    try:
        start = time.perf_counter()
        for statement in statements:
            con.execute(statement)
        con.execute("checkpoint")
        seconds = time.perf_counter() - start
    finally:
        con.close()
    return {"seconds": seconds, "statements": len(statements)}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m dpsql.bench.floor SCRIPT DATABASE\n")
        return 2
    result = run_floor(Path(argv[0]), argv[1])
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
