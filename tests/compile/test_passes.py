"""The compile as a list of passes over one state: each model parsed once, trees dropped after
their last reader, a check added as one entry, and locations taken from the source map."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from conftest import BASE, explain, run_cli, write_files

import dpsql.compile.pipeline
import dpsql.compile.sql
from dpsql.compile.cache import CompileCache
from dpsql.compile.pipeline import PASSES, compile_project
from dpsql.compile.state import CompileState, Pass
from dpsql.core.errors import Location, warning
from dpsql.load.loader import load_project

# BASE plus an ephemeral model, an incremental model reading it, and a singular test
FILES = {
    **BASE,
    "inventory/items/models/cheap.sql":
        "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('stg_items') }} where price < 2\n",
    "inventory/items/models/cheap_log.sql":
        "{{ config(materialized='incremental', unique_key='item_id') }}\n"
        "select item_id, qty from {{ ref('cheap') }}\n"
        "{% if is_incremental() %}where item_id > 0{% endif %}\n",
    "inventory/items/tests/no_negative.sql": "select * from {{ ref('fct_items') }} where qty < 0\n",
}


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    parsed: collections.Counter[str] = collections.Counter()
    real = dpsql.compile.sql.parse_query

    def counting(sql: str):  # type: ignore[no-untyped-def]
        parsed[sql] += 1
        return real(sql)

    monkeypatch.setattr(dpsql.compile.sql, "parse_query", counting)
    return parsed


def test_each_model_is_parsed_once_per_compile(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_files(tmp_path / "ws", FILES)
    project = load_project(root)
    parsed = _count_parses(monkeypatch)
    cache = CompileCache.load(root)
    cold = compile_project(project, cache=cache)
    cache.save()
    assert not cold.errors, cold.errors
    models = len(cold.models)
    # every model once, the incremental variant of cheap_log, and the singular test
    rendered = [m.rendered_sql for m in cold.models.values()]
    assert all(parsed[sql] == 1 for sql in rendered), parsed
    assert max(parsed.values()) == 1
    assert sum(parsed.values()) <= models + 1 + 1 + 1  # + incremental SQL with cheap inlined

    parsed.clear()  # warm: bindings and types from the cache; only what a pass reads is parsed
    warm = compile_project(project, cache=CompileCache.load(root))
    assert [m.sql for m in warm.models.values()] == [m.sql for m in cold.models.values()]
    assert max(parsed.values(), default=0) == 1
    # the ephemeral model and its reader, which the inline pass rewrites
    assert {m.name for m in warm.models.values() if parsed[m.rendered_sql]} == {"cheap", "cheap_log"}


def test_a_check_is_one_entry_in_the_pass_list(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, int] = {}

    def no_shop_named_c(state: CompileState) -> None:
        seen["trees"] = len(state.trees)  # runs after lineage, the last reader of trees
        for model in state.models.values():
            if model.lineage is not None and "shop" in {c.name for c in model.columns or ()}:
                state.diagnostics.append(warning(
                    "DP999", f"model `{model.id}` has a shop column", Location(model.source.path, 1),
                    "a house rule written as a pass"))

    monkeypatch.setattr(dpsql.compile.pipeline, "PASSES",
                        (*PASSES, Pass("house rule", no_shop_named_c)))
    result = run_cli("check", "-p", str(tiny))
    assert result.exit_code == 0, explain(result)
    assert "warning[DP999]: model `items.fct_items` has a shop column" in result.output
    assert seen == {"trees": 0}


def test_pass_names_are_unique_and_lineage_comes_after_types() -> None:
    names = [p.name for p in PASSES]
    assert len(names) == len(set(names))
    assert names.index("types") < names.index("lineage")
    assert names.index("bind") < names.index("order") < names.index("types")


def test_config_locations_come_from_the_config_call(tiny: Path) -> None:
    # the word "materialized" in a comment above the call must not be taken for it
    write_files(tiny, {
        "inventory/items/models/fct_items.sql":
            "-- materialized as a table by default\n\n"
            "{{ config(tags=['x'],\n    materialized='ephemeral') }}\n"
            + BASE["inventory/items/models/fct_items.sql"],
    })
    result = run_cli("check", "-p", str(tiny))
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "DP404" in x)
    assert "fct_items.sql:4:5:" in line, result.output


def test_an_unbound_column_points_at_the_column_not_a_comment(tiny: Path) -> None:
    write_files(tiny, {
        "inventory/items/models/stg_items.sql":
            "-- colour is not in the file yet\n"
            "select item_id::bigint as item_id, shop, qty::bigint as qty, price,\n"
            "    colour\nfrom {{ input('raw_items') }}\n",
    })
    result = run_cli("check", "-p", str(tiny))
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "DP208" in x)
    assert "stg_items.sql:3:5" in line, result.output


def test_a_version_problem_points_at_the_version_key(tiny: Path) -> None:
    yml = tiny / "reports/shops/product.yml"
    yml.write_text(yml.read_text().replace("version: ^1", "version: ^2"))
    result = run_cli("check", "-p", str(tiny))
    assert result.exit_code == 1
    lines = yml.read_text().splitlines()
    number = next(i for i, x in enumerate(lines, 1) if "version: ^2" in x)
    column = lines[number - 1].index("version") + 1
    assert f"product.yml:{number}:{column}: error[DP310]" in result.output, result.output
