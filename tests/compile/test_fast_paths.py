"""The fast paths give what the general route gives.

Simple templates rendered without Jinja, typing in worker processes, parsed product.yml files
from target/cache/yaml.json, and a build with nothing changed answered from its record are
shortcuts; DPSQL_NO_FAST_PATHS turns them all off, and the outputs with and without them must
be the same, byte for byte.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import explain, run_cli, write_files

import dpsql.compile.models
import dpsql.compile.parallel
import dpsql.compile.pipeline
from dpsql.bench.mesh import generate_mesh
from dpsql.compile.typing import units

FCT = "inventory/items/models/fct_items.sql"


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes even for a small workspace, on any number of cores."""
    monkeypatch.setattr(dpsql.compile.parallel, "workers", lambda: 2)
    monkeypatch.setattr(dpsql.compile.models, "workers", lambda: 2)
    monkeypatch.setattr(units, "workers", lambda: 2)
    monkeypatch.setattr(dpsql.compile.parallel, "MIN_ITEMS", 1)
    monkeypatch.setattr(dpsql.compile.models, "MIN_ITEMS", 1)
    monkeypatch.setattr(units, "MIN_MODELS", 1)


def _outputs(root: Path, command: str) -> tuple[str, str, str, dict[str, bytes]]:
    """The manifest, `check --format json` and the compiled SQL of a cold compile."""
    for leftover in (root / "target").rglob("*"):
        if leftover.is_file():
            leftover.unlink()
    result = run_cli(command, "-p", str(root))
    assert result.exit_code == 0, explain(result)
    check = run_cli("check", "-p", str(root), "--format", "json")
    compiled = {str(p.relative_to(root)): p.read_bytes()
                for p in sorted((root / "target" / "compiled").rglob("*.sql"))}
    return (root / "target" / "manifest.json").read_text(), check.output, result.output, compiled


def test_a_generated_mesh_compiles_the_same_without_the_fast_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forking: None) -> None:
    mesh = generate_mesh(tmp_path / "mesh", products=8, models_per_product=6, rows=20)
    root = mesh.workspace
    # two ports without a contract: their consumers are typed with their producers
    for path in sorted(root.rglob("product.yml"))[:2]:
        spec = yaml.safe_load(path.read_text())
        for port in spec["outputs"]:
            port.pop("columns", None)
        path.write_text(yaml.safe_dump(spec))
    # one template that needs Jinja, one with {{ this }} and a var
    models = sorted(root.rglob("models/*.sql"))
    write_files(models[0].parent, {
        "jinja_model.sql": "{% set n = 2 %}select {{ n }} as n\n",
        "this_model.sql": "-- {{ this }}\nselect '{{ var('missing', 'x') }}' as v, 1.5 as w\n",
        "crlf_model.sql": "select 'a\r\nb' as v,\r\n{{ var('missing', 2) }} as n\r\n"})
    fast = _outputs(root, "compile")
    monkeypatch.setenv("DPSQL_NO_FAST_PATHS", "1")
    slow = _outputs(root, "compile")
    assert json.loads(fast[0])["models"] and len(fast[3]) > 50 and fast == slow


def test_templates_the_fast_path_does_not_take_render_as_before(tiny: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    cases = {
        "a_filter.sql": "select {{ 'a' | upper }} as a\n",
        "a_macro_named_ref.sql": "select * from {{ ref('stg_items') }}\n",
        "a_bad_ref.sql": "select * from {{ ref('nowhere') }}\n",
        "escaped.sql": "select '{{ 'it\\'s' }}' as a\n",
        "spread.sql": "select * from {{ ref(\n'stg_items') }}\n",
        "config.sql": "{{ config(materialized='table', tags=['a', 'b']) }}\nselect 1 as x\n",
        "bad_config.sql": "{{ config(materialized='tabel') }}\nselect 1 as x\n",
        "keyed_view.sql": "-- a view\n\n{{ config(tags='t', unique_key='x') }}\nselect 1 as x\n",
        "crlf.sql": "select 1 as x\r\nfrom {{ ref('stg_items') }}\r\nwhere qty = 'a\r\nb'\r\n",
    }
    write_files(tiny / "inventory/items/models", cases)
    write_files(tiny / "inventory/items/macros", {
        "m.sql": "{% macro ref(name) %}items_internal.stg_items{% endmacro %}\n"})
    fast = run_cli("check", "-p", str(tiny), "--format", "json")
    shutil.rmtree(tiny / "target")  # its compile cache: the next check renders every template
    monkeypatch.setenv("DPSQL_NO_FAST_PATHS", "1")
    slow = run_cli("check", "-p", str(tiny), "--format", "json")
    assert fast.output == slow.output
    codes = [d["code"] for d in json.loads(slow.output)["diagnostics"]]
    assert "DP106" in codes  # the bad materialization, at its line, from the general route
    assert "DP405" in codes  # a simple template's config(), at its line


def _run_results(root: Path) -> list[dict[str, object]]:
    data = json.loads((root / "target" / "run_results.json").read_text())
    return [{k: v for k, v in r.items() if k != "seconds"} for r in data["results"]]


def test_a_build_with_nothing_changed_needs_no_compile(tiny: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    monkeypatch.setenv("DPSQL_NO_FAST_PATHS", "1")
    slow = run_cli("build", "-p", str(tiny))
    assert slow.exit_code == 0 and "Nothing changed" in slow.output, explain(slow)
    expected = _run_results(tiny)
    monkeypatch.delenv("DPSQL_NO_FAST_PATHS")

    def no_compile(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled")
    with monkeypatch.context() as patched:
        patched.setattr(dpsql.compile.pipeline, "compile_project", no_compile)
        fast = run_cli("build", "-p", str(tiny))
    assert fast.exit_code == 0, explain(fast)
    assert fast.output.split("[")[0] == slow.output.split("[")[0]
    assert _run_results(tiny) == expected and all(r["status"] == "unchanged" for r in expected)


@pytest.mark.parametrize("change", ["edit", "env", "select", "warehouse", "full refresh"])
def test_a_build_after_a_change_takes_the_general_route(tiny: Path, change: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tiny, {FCT: "select item_id, shop, qty, (qty * price)::decimal(18,2) as value"
                            "\nfrom {{ ref('stg_items') }}\nwhere '{{ env_var('DPSQL_T', 'a') }}' <> 'z'\n"})
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    args = ["build", "-p", str(tiny)]
    if change == "edit":
        write_files(tiny, {FCT: (tiny / FCT).read_text().replace("(qty *", "(2 * qty *")})
    elif change == "env":
        monkeypatch.setenv("DPSQL_T", "b")
    elif change == "select":
        args += ["--select", "items.fct_items"]
    elif change == "warehouse":  # changed by hand: the general route sees it and repairs it
        con = duckdb.connect(str(tiny / "wh.duckdb"))
        con.execute("drop table items.items")
        con.close()
    else:
        args += ["--full-refresh"]
    result = run_cli(*args)
    assert result.exit_code == 0, explain(result)
    statuses = {r["id"]: r["status"] for r in _run_results(tiny)}
    expected = {"edit": "success", "env": "success", "select": "unchanged",
                "warehouse": "success", "full refresh": "success"}[change]
    assert statuses["items.fct_items"] == expected, statuses
    if change == "select":  # compiled again, found unchanged in the warehouse
        assert "Nothing changed" in result.output and list(statuses) == ["items.fct_items"]


def test_a_check_with_nothing_changed_reports_the_same_without_a_compile(
        tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tiny, {FCT: "select item_id, shop, qty, (qty * price)::decimal(18,2) as value,"
                            " 1 as extra\nfrom {{ ref('stg_items') }}\n"})
    first = run_cli("check", "-p", str(tiny), "--format", "json")
    assert first.exit_code == 1 and "DP302" in first.output, explain(first)
    compiles: list[object] = []
    real = dpsql.compile.pipeline.compile_project

    def counted(*args: object, **kwargs: object) -> object:
        compiles.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(dpsql.compile.pipeline, "compile_project", counted)
    again = run_cli("check", "-p", str(tiny), "--format", "json")
    assert (again.exit_code, again.output) == (first.exit_code, first.output)
    assert not compiles
    monkeypatch.setenv("DPSQL_TODAY", "2031-01-01")  # deprecations are judged by the date
    assert run_cli("check", "-p", str(tiny), "--format", "json").output == first.output
    assert len(compiles) == 1
    write_files(tiny, {FCT: (tiny / FCT).read_text().replace(", 1 as extra", "")})
    fixed = run_cli("check", "-p", str(tiny))
    assert fixed.exit_code == 0 and len(compiles) == 2, explain(fixed)


def test_a_compile_after_edits_from_the_caches_is_the_general_route(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    """Warm caches (compile cache, parsed product.yml files) after a product.yml and a template
    are edited give what a compile with no cache and no fast path gives."""
    root = generate_mesh(tmp_path / "mesh", products=6, models_per_product=4, rows=20).workspace
    assert run_cli("compile", "-p", str(root)).exit_code == 0
    yml = sorted(root.rglob("product.yml"))[1]
    spec = yaml.safe_load(yml.read_text())
    spec["description"] = "Edited: ünïcode and a new tag"
    spec["tags"] = [*spec.get("tags", []), "edited"]
    yml.write_text(yaml.safe_dump(spec, allow_unicode=True))
    model = sorted(root.rglob("models/*.sql"))[3]
    model.write_text(model.read_text().replace("select", "select 7 as seven,", 1))
    warm = run_cli("compile", "-p", str(root))
    assert warm.exit_code == 0, explain(warm)
    warm_check = run_cli("check", "-p", str(root), "--format", "json").output
    outputs = [root / "target" / "manifest.json", root / "target" / "dbt" / "manifest.json"]
    warm_files = [json.loads(p.read_text()) for p in outputs]
    monkeypatch.setenv("DPSQL_NO_FAST_PATHS", "1")
    slow = _outputs(root, "compile")
    assert warm_files[0] == json.loads(slow[0]) and warm_check == slow[1]
    dbt = json.loads(outputs[1].read_text())
    for data in (warm_files[1], dbt):
        data["metadata"].pop("generated_at")
    assert warm_files[1] == dbt
    assert "7 AS seven" in outputs[1].read_text() and "Edited: ünïcode" in slow[0]
