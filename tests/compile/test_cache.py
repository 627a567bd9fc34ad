"""The compile cache: unchanged models are not compiled again, and any change is seen."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli, write_files

from dpsql.compile.cache import FILE, FORMAT, CompileCache, read_sealed
from dpsql.compile.pipeline import compile_project
from dpsql.load.loader import load_project

STG = "inventory/items/models/stg_items.sql"
TOTALS = "reports/shops/models/shop_totals.sql"


def _compile(root: Path) -> tuple[dict, CompileCache]:
    cache = CompileCache.load(root)
    compiled = compile_project(load_project(root), cache=cache)
    assert not compiled.errors, compiled.errors
    cache.save()
    summary = {mid: (m.sql, m.columns, m.depends_on,
                     {k: dict(v) for k, v in m.lineage.fields.items()} if m.lineage else None)
               for mid, m in compiled.models.items()}
    return summary, cache


def test_a_warm_compile_gives_the_same_result_from_the_cache(tiny: Path) -> None:
    cold, first = _compile(tiny)
    assert first.hits == 0 and (tiny / FILE).is_file()
    warm, second = _compile(tiny)
    assert second.misses == 0 and second.hits > 0
    assert warm == cold


def test_editing_a_model_recompiles_it_and_retypes_its_consumers(tiny: Path) -> None:
    _compile(tiny)
    write_files(tiny, {"inventory/items/models/fct_items.sql": """
        select item_id, shop, qty, (qty * price * 2)::decimal(18,2) as value
        from {{ ref('stg_items') }}
    """})
    edited, cache = _compile(tiny)
    assert "* 2" in edited["items.fct_items"][0]
    assert cache.misses == 2  # fct_items: bound and typed again; its consumer hits both
    # an upstream type change reaches the consumer's types through the cache key
    write_files(tiny, {STG: """
        select item_id::bigint as item_id, shop, qty::bigint as qty, price::double as price
        from {{ input('raw_items') }}
    """})
    retyped, _ = _compile(tiny)
    types = {c.name: c.type for c in retyped["items.stg_items"][1]}
    assert types["price"] == "DOUBLE"


def test_macro_and_env_changes_are_seen(tiny: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write_files(tiny, {
        "macros/m.sql": "{% macro factor() %}2{% endmacro %}\n",
        TOTALS: "select shop, (sum(value) * {{ factor() }} * {{ env_var('DPSQL_F', '1') }})"
                "::decimal(18,2) as total from items.items group by shop\n",
    })
    first, _ = _compile(tiny)
    assert "* 2 * 1" in first["shops.shop_totals"][0]
    write_files(tiny, {"macros/m.sql": "{% macro factor() %}3{% endmacro %}\n"})
    second, _ = _compile(tiny)
    assert "* 3 * 1" in second["shops.shop_totals"][0]
    monkeypatch.setenv("DPSQL_F", "5")
    third, _ = _compile(tiny)
    assert "* 3 * 5" in third["shops.shop_totals"][0]


def test_errors_are_never_cached(tiny: Path) -> None:
    write_files(tiny, {TOTALS: "select shopp from items.items\n"})
    for _ in range(2):
        result = run_cli("compile", "-p", str(tiny))
        assert result.exit_code == 1 and "shopp" in result.stderr


def test_a_damaged_cache_is_ignored(tiny: Path) -> None:
    assert run_cli("compile", "-p", str(tiny)).exit_code == 0
    (tiny / FILE).write_text("{not json", encoding="utf-8")
    (tiny / "target" / "cache" / "stamp.json").unlink()  # force a real compile
    assert run_cli("compile", "-p", str(tiny)).exit_code == 0
    assert read_sealed(tiny / FILE, "compile", FORMAT) is not None  # written again


def test_check_writes_the_cache_and_nothing_else(tiny: Path) -> None:
    assert run_cli("check", "-p", str(tiny)).exit_code == 0
    assert sorted(p.name for p in (tiny / "target").rglob("*")) == [
        "cache", "check.json", "compile.json", "yaml.json"]  # the caches, the check's stamp
    cache = CompileCache.load(tiny)  # what the next check (or compile) starts from
    assert not compile_project(load_project(tiny), cache=cache).errors
    assert cache.misses == 0 and cache.hits > 0


def test_parallel_compile_gives_the_same_result(tiny: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dpsql.compile.models
    import dpsql.compile.parallel
    write_files(tiny, {
        TOTALS: "select shopp from items.items\n",  # an error, reported from a worker
        "reports/shops/models/more.sql": "select 1 as x from {{ ref('nowhere') }}\n",
        "reports/shops/models/grows.sql": (  # an incremental model: two SQL texts
            "{{ config(materialized='incremental') }}\nselect 1 as x\n"
            "{% if is_incremental() %}where x > (select max(x) from {{ this }}){% endif %}\n"),
    })
    project = load_project(tiny)
    sequential = compile_project(project)
    monkeypatch.setattr(dpsql.compile.models, "BATCH", 2)  # workers bind two models at a time
    monkeypatch.setattr(dpsql.compile.models, "MIN_ITEMS", 1)
    monkeypatch.setattr(dpsql.compile.parallel, "MIN_ITEMS", 1)
    monkeypatch.setattr(dpsql.compile.models, "workers", lambda: 2)
    monkeypatch.setattr(dpsql.compile.parallel, "workers", lambda: 2)
    parallel = compile_project(project)

    def view(compiled):  # type: ignore[no-untyped-def]
        return ({mid: (m.sql, m.incremental_sql, m.columns,
                       m.lineage.fields if m.lineage else None)
                 for mid, m in compiled.models.items()}, sorted(map(str, compiled.diagnostics)))

    assert view(parallel) == view(sequential)
    assert any(d.code == "DP103" for d in parallel.diagnostics)
    assert "max(x)" in (parallel.models["shops.grows"].incremental_sql or "").lower()


def _noop(root: Path) -> bool:
    result = run_cli("compile", "-p", str(root))
    assert result.exit_code == 0, result.output
    return "(nothing changed)" in result.output


def test_compile_with_nothing_changed_is_recognised(tiny: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import time

    write_files(tiny, {
        "reports/shops/product.yml": (tiny / "reports/shops/product.yml").read_text()
        + "  - name: extra\n",  # a port without a contract: a warning
        "reports/shops/models/extra.sql": "select '{{ env_var('DPSQL_STAMP', 'a') }}' as v\n",
    })
    first = run_cli("compile", "-p", str(tiny))
    assert first.exit_code == 0 and "(nothing changed)" not in first.output
    again = run_cli("compile", "-p", str(tiny))
    assert "(nothing changed)" in again.output
    assert "[DP306]" in again.stderr, "warnings are reported again"

    def bump(rel: str, text: str | None = None) -> None:
        path = tiny / rel
        if text is not None:
            path.write_text(text, encoding="utf-8")
        later = time.time_ns() + 5_000_000_000
        os.utime(path, ns=(later, later))

    changes = [
        lambda: bump("inventory/items/models/stg_items.sql"),
        lambda: bump("inventory/items/product.yml"),
        lambda: bump("data/items.csv"),
        lambda: write_files(tiny, {"macros/new.sql": "{% macro n() %}1{% endmacro %}\n"}),
        lambda: write_files(tiny, {"reports/shops/tests/none.sql": "select 1 where false\n"}),
        lambda: monkeypatch.setenv("DPSQL_STAMP", "b"),
        lambda: (tiny / "target" / "compiled" / "items" / "fct_items.sql").unlink(),
    ]
    for change in changes:
        change()
        assert not _noop(tiny), "a change must give a real compile"
        assert _noop(tiny)
    assert (tiny / "target" / "compiled" / "items" / "fct_items.sql").is_file()


def test_a_failed_compile_leaves_no_stamp_behind(tiny: Path) -> None:
    assert not _noop(tiny)
    good = (tiny / TOTALS).read_text()
    write_files(tiny, {TOTALS: "select shopp from items.items\n"})
    assert run_cli("compile", "-p", str(tiny)).exit_code == 1
    assert run_cli("compile", "-p", str(tiny)).exit_code == 1
    write_files(tiny, {TOTALS: good})
    assert not _noop(tiny)
    assert _noop(tiny)
