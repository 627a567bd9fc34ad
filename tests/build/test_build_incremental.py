"""Incremental models across builds: append, merge on a unique key, full refresh, schema change.

Each test builds, changes the raw file, builds again, and compares the table row by row with
what the rules say it must hold, computed here in Python from the rows written to the file.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from buildkit import build, explain, query, run_results, write_csv
from conftest import write_files

HEADER = "id,kind,amount,updated"


def workspace(tmp_path: Path, model: str) -> Path:
    root = tmp_path / "ws"
    write_files(root, {
        "dpsql.yml": "name: ws\nwarehouse: warehouse.duckdb\nthreads: 2\n",
        "events/product.yml": """
            name: events
            inputs:
              - {name: raw, file: ../data/events.csv}
            outputs:
              - name: events
                model: events
                columns:
                  - {name: id, type: bigint, tests: [not_null]}
                  - {name: kind, type: varchar}
                  - {name: amount, type: bigint}
                  - {name: updated, type: date}
            """,
        "events/models/events.sql": model,
        "events/models/kinds.sql": """
            {{ config(materialized='table') }}
            select kind, count(*) as n, sum(amount) as total from {{ ref('events') }} group by kind
            """,
    })
    return root


def touch_later(path: Path) -> None:
    """Make sure the file's modification time moves even on coarse clocks."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 2_000_000_000))


APPEND = """
    {{ config(materialized='incremental') }}
    select id::bigint as id, kind, amount::bigint as amount, updated::date as updated
    from {{ input('raw') }}
    {% if is_incremental() %}
    where id > (select max(id) from {{ this }})
    {% endif %}
    """

MERGE = """
    {{ config(materialized='incremental', unique_key='id') }}
    select id::bigint as id, kind, amount::bigint as amount, updated::date as updated
    from {{ input('raw') }}
    {% if is_incremental() %}
    where updated::date > (select max(updated) from {{ this }})
    {% endif %}
    """

FIRST = [(1, "a", 10, "2024-01-01"), (2, "b", 20, "2024-01-01"), (3, "a", 30, "2024-01-02")]


def table(root: Path) -> list[tuple[object, ...]]:
    return query(root, "select id, kind, amount, updated from events.events order by id, amount")


def as_rows(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return sorted((i, k, a, date.fromisoformat(str(u))) for i, k, a, u in rows)


def test_append_adds_only_new_rows(tmp_path: Path) -> None:
    root = workspace(tmp_path, APPEND)
    csv = root / "data" / "events.csv"
    write_csv(csv, HEADER, FIRST)
    build(root)
    assert table(root) == as_rows(FIRST)
    assert run_results(root)["events.events"]["mode"] == "full"

    # id 1 is rewritten in the file (an append never revisits it) and two rows arrive
    second = [(1, "a", 999, "2024-01-05"), *FIRST[1:], (4, "c", 40, "2024-01-03"),
              (5, "a", 50, "2024-01-04")]
    write_csv(csv, HEADER, second)
    touch_later(csv)
    build(root)
    entry = run_results(root)["events.events"]
    assert entry["status"] == "success" and entry["mode"] == "incremental"
    assert entry["rows"] == 2
    assert table(root) == as_rows(FIRST + second[3:])
    # the downstream table was rebuilt from the appended table
    kinds = dict((k, (n, t)) for k, n, t in query(root, "select * from events_internal.kinds"))
    assert kinds == {"a": (3, 90), "b": (1, 20), "c": (1, 40)}


def test_merge_replaces_rows_by_unique_key(tmp_path: Path) -> None:
    root = workspace(tmp_path, MERGE)
    csv = root / "data" / "events.csv"
    write_csv(csv, HEADER, FIRST)
    build(root)
    assert table(root) == as_rows(FIRST)

    changes = [(2, "b", 25, "2024-02-01"), (6, "c", 60, "2024-02-01")]
    second = [FIRST[0], changes[0], FIRST[2], changes[1]]
    write_csv(csv, HEADER, second)
    touch_later(csv)
    build(root)
    entry = run_results(root)["events.events"]
    assert entry["mode"] == "incremental" and entry["rows"] == 2
    expected = {r[0]: r for r in FIRST}
    expected.update({r[0]: r for r in changes})
    assert table(root) == as_rows(list(expected.values()))

    # a third round: one more update to the same key, nothing duplicated
    third = [FIRST[0], (2, "b", 27, "2024-03-01"), FIRST[2], changes[1]]
    write_csv(csv, HEADER, third)
    touch_later(csv)
    build(root)
    expected[2] = (2, "b", 27, "2024-03-01")
    assert table(root) == as_rows(list(expected.values()))
    assert query(root, "select count(*) from events.events where id = 2") == [(1,)]


def test_merge_on_a_composite_key(tmp_path: Path) -> None:
    model = MERGE.replace("unique_key='id'", "unique_key=['id', 'kind']")
    root = workspace(tmp_path, model)
    csv = root / "data" / "events.csv"
    write_csv(csv, HEADER, FIRST)
    build(root)
    # same id, other kind: a new row; same (id, kind): replaced
    second = [*FIRST, (1, "z", 11, "2024-02-01"), (3, "a", 33, "2024-02-01")]
    write_csv(csv, HEADER, second)
    touch_later(csv)
    build(root)
    expected = {(r[0], r[1]): r for r in FIRST}
    expected.update({(r[0], r[1]): r for r in second[3:]})
    assert table(root) == as_rows(list(expected.values()))


def test_full_refresh_rebuilds_from_scratch(tmp_path: Path) -> None:
    root = workspace(tmp_path, APPEND)
    csv = root / "data" / "events.csv"
    write_csv(csv, HEADER, FIRST)
    build(root)
    second = [(1, "a", 999, "2024-01-05"), *FIRST[1:], (4, "c", 40, "2024-01-03")]
    write_csv(csv, HEADER, second)
    touch_later(csv)
    build(root, "--full-refresh")
    assert run_results(root)["events.events"]["mode"] == "full"
    assert table(root) == as_rows(second)


def test_unchanged_incremental_model_is_not_run_again(tmp_path: Path) -> None:
    root = workspace(tmp_path, APPEND.replace("where id >", "where id >="))
    csv = root / "data" / "events.csv"
    write_csv(csv, HEADER, FIRST)
    build(root)
    build(root)  # nothing changed: the (non-idempotent) increment must not run
    assert run_results(root)["events.events"]["status"] == "unchanged"
    assert table(root) == as_rows(FIRST)


def test_changed_columns_need_a_full_refresh(tmp_path: Path) -> None:
    root = workspace(tmp_path, APPEND)
    csv = root / "data" / "events.csv"
    write_csv(csv, HEADER, FIRST)
    build(root)
    model = root / "events" / "models" / "events.sql"
    model.write_text(model.read_text().replace("updated::date as updated",
                                               "updated::date as updated, 1 as extra"))
    yml = root / "events" / "product.yml"
    yml.write_text(yml.read_text().replace(
        "{name: updated, type: date}",
        "{name: updated, type: date}\n      - {name: extra, type: integer}"))
    result = build(root, ok=False)
    assert result.exit_code == 1
    assert "DP407" in result.output and "--full-refresh" in result.output, explain(result)
    assert run_results(root)["events.kinds"]["status"] == "skipped"
    assert table(root) == as_rows(FIRST)  # the previous version stays
    build(root, "--full-refresh")
    assert query(root, "select count(*) from events.events where extra = 1") == [(3,)]


def test_is_incremental_reads_this(tmp_path: Path) -> None:
    """`{{ this }}` inside the incremental branch is the model's own relation, not a cycle."""
    root = workspace(tmp_path, APPEND)
    write_csv(root / "data" / "events.csv", HEADER, FIRST)
    compiled = root / "target" / "compiled" / "events" / "events.sql"
    build(root)
    assert '"events"."events"' not in compiled.read_text()  # the full variant
    variant = compiled.with_suffix(".incremental.sql").read_text()
    assert 'FROM "events"."events"' in variant
