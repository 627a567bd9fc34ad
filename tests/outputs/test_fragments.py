"""A compile after an edit reuses the manifest entries of the models the edit did not touch
(dpsql/outputs/fragments.py) and skips compiled files that are as it wrote them; whatever the
edit, the outputs are byte for byte those of a cold compile without any fast path."""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import explain, run_cli, write_files

import dpsql.compile.models
import dpsql.compile.parallel
import dpsql.outputs.artifacts
import dpsql.outputs.dbt_artifacts
from dpsql.bench.layouts import DpsqlLayout
from dpsql.bench.mesh import generate_mesh
from dpsql.compile.typing import units


def _compile(root: Path, *args: str) -> dict[str, Any]:
    """The outputs: dpsql's manifest and the compiled SQL as bytes, the dbt manifest without
    what differs on every run (the time and invocation id)."""
    result = run_cli("compile", "-p", str(root), *args)
    assert result.exit_code == 0, explain(result)
    target = root / "target"
    found: dict[str, Any] = {"manifest.json": (target / "manifest.json").read_bytes()}
    dbt = json.loads((target / "dbt/manifest.json").read_bytes())
    for varying in ("generated_at", "invocation_id"):
        assert dbt["metadata"].pop(varying)
    found["dbt/manifest.json"] = dbt
    found.update({str(p.relative_to(target)): p.read_bytes()
                  for p in sorted((target / "compiled").rglob("*.sql"))})
    return found


def _cold(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    """The outputs of a compile with no cache, no index and no fast path; the warm target
    folder is put back afterwards."""
    kept = root.parent / "kept-target"
    shutil.move(root / "target", kept)
    with monkeypatch.context() as patch:
        patch.setenv("DPSQL_NO_FAST_PATHS", "1")
        found = _compile(root, *args)
    shutil.rmtree(root / "target")
    shutil.move(kept, root / "target")
    return found


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models whose manifest entries are built (not reused), in each manifest."""
    calls: list[str] = []

    def spy(module: Any, name: str, pick: Callable[..., str]) -> None:
        real = getattr(module, name)

        def wrapper(*args: Any) -> Any:
            calls.append(pick(*args))
            return real(*args)
        monkeypatch.setattr(module, name, wrapper)
    spy(dpsql.outputs.artifacts, "_model", lambda model, *_: model.id)
    spy(dpsql.outputs.dbt_artifacts, "_model_node", lambda _, model: model.id)
    return calls


@pytest.fixture
def mesh(tiny: Path) -> Path:
    """The tiny workspace with an ephemeral model read by another, a third model, and data
    tests (on a port, on the ephemeral model, towards a port: their SQL is cached too)."""
    yml = tiny / "inventory/items/product.yml"
    yml.write_text(yml.read_text().replace(
        "      - {name: shop, type: varchar}\n",
        "      - {name: shop, type: varchar, tests: [not_null, {accepted_values: [a, b, c]}]}\n")
        + "models:\n  - name: eph_shops\n    columns:\n      - name: shop\n"
        "        tests: [unique, {relationships: {to: items.items, field: shop}}]\n")
    return write_files(tiny, {
        "inventory/items/models/eph_shops.sql":
            "{{ config(materialized='ephemeral') }}\nselect distinct shop from "
            "{{ ref('stg_items') }}\n",
        "inventory/items/models/shop_list.sql":
            "select shop, upper(shop) as code from {{ ref('eph_shops') }}\n",
        "inventory/items/models/fct_items_v2.sql":  # the port's model, after an edit
            (tiny / "inventory/items/models/fct_items.sql").read_text(),
        "inventory/items/models/counts.sql":
            "{{ config(tags=[env_var('DPSQL_FRAGMENT_TAG', 'daily')]) }}\n"
            "select count(*) as n from {{ ref('stg_items') }}\n",
    })


EDITS: list[tuple[str, Callable[[Path], None], tuple[str, ...]]] = [
    ("nothing", lambda root: None, ()),
    ("a model's SQL", lambda root: _sub(
        root / "inventory/items/models/shop_list.sql", "upper(shop)", "lower(shop)"), ()),
    ("an ephemeral model read by another", lambda root: _sub(
        root / "inventory/items/models/eph_shops.sql", "distinct shop", "distinct shop || '' as shop"),
     ()),
    ("an upstream model's column type", lambda root: _sub(
        root / "inventory/items/models/stg_items.sql", ", price\n", ", price::double as price\n"), ()),
    ("a port's description in product.yml", lambda root: _sub(
        root / "inventory/items/product.yml", "    model: fct_items",
        "    model: fct_items\n    description: Items on hand"), ()),
    ("a port's contract, and its models with it", lambda root: [_sub(
        path, "decimal(18,2)", "decimal(18,3)") for path in (
        root / "inventory/items/models/fct_items.sql",
        root / "inventory/items/models/fct_items_v2.sql", root / "inventory/items/product.yml")],
     ()),
    # the consumer's binding changes (the model it depends on), not its text
    ("the model feeding a port read by another product", lambda root: _sub(
        root / "inventory/items/product.yml", "model: fct_items\n", "model: fct_items_v2\n"),
     ()),
    ("product tags", lambda root: _sub(
        root / "reports/shops/product.yml", "version: 1.0.0", "version: 1.0.0\ntags: [daily]"),
     ()),
    # read by a template for its tags only: the compiled SQL is the same
    ("an environment variable", lambda root: os.environ.__setitem__("DPSQL_FRAGMENT_TAG",
                                                                    "hourly"), ()),
    ("a var on the command line", lambda root: None, ("--vars", "{min_qty: 1}")),
    ("the warehouse", lambda root: _sub(root / "dpsql.yml", "wh.duckdb", "other.duckdb"), ()),
]


def _sub(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_each_edit_gives_the_outputs_of_a_cold_compile(mesh: Path, built: list[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPSQL_FRAGMENT_TAG", "daily")  # an edit changes it; undone after the test
    _compile(mesh)
    for what, edit, args in EDITS:
        edit(mesh)
        built.clear()
        warm = _compile(mesh, *args)
        fresh = list(built)
        assert len([n for n in warm["dbt/manifest.json"]["nodes"] if n.startswith("test.")]) == 4
        assert warm == _cold(mesh, monkeypatch, *args), what
        if what == "a model's SQL":  # the others' entries in both manifests are reused
            assert fresh == ["items.shop_list"] * 2, fresh
        if what == "an environment variable":  # only the one model's entries are built
            assert b'"hourly"' in warm["manifest.json"] and fresh == ["items.counts"] * 2


def test_a_port_removed_under_its_reader_fails_as_a_cold_compile_does(mesh: Path) -> None:
    _compile(mesh)
    _sub(mesh / "inventory/items/product.yml", "  - name: items\n    model:",
         "  - name: stock\n    model:")
    warm = run_cli("compile", "-p", str(mesh))
    shutil.rmtree(mesh / "target")
    cold = run_cli("compile", "-p", str(mesh))
    assert warm.exit_code == cold.exit_code == 1
    assert "shops" in warm.output and warm.output == cold.output


def test_an_output_changed_by_hand_is_written_whole_again(mesh: Path, built: list[str],
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    _compile(mesh)
    target = mesh / "target"
    manifest = target / "manifest.json"
    stat = manifest.stat()
    text = manifest.read_bytes()
    # the same size, another content: the index no longer describes the file
    manifest.write_bytes(text.replace(b'"items.counts"', b'"items.COUNTS"'))
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    (target / "dbt/manifest.json").write_bytes(b"{}")
    compiled = target / "compiled/items/fct_items.sql"
    compiled.write_text("select 'edited by hand'\n")
    (target / "compiled/items/counts.sql").unlink()
    built.clear()
    warm = _compile(mesh)
    assert len(built) == 2 * 7  # nothing was taken from a file the index no longer describes
    assert warm == _cold(mesh, monkeypatch)


def test_a_damaged_index_costs_only_time(mesh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _compile(mesh)
    cache = mesh / "target/cache"
    indexes = sorted(cache.glob("*.index"))
    assert [p.name for p in indexes] == ["compiled.index", "dbt-manifest.json.index",
                                         "manifest.json.index"]
    for path in indexes:
        path.write_bytes(path.read_bytes()[:40])
    _sub(mesh / "inventory/items/models/counts.sql", "count(*)", "count(1)")
    assert _compile(mesh) == _cold(mesh, monkeypatch)


def test_an_index_edited_by_hand_is_ignored(mesh: Path, built: list[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two models' places swapped in the index, whose file is otherwise as written: the
    index is sealed, so it is not trusted (else one model would get the other's entry)."""
    _compile(mesh)
    index = mesh / "target/cache/manifest.json.index"
    head, body = index.read_bytes().split(b"\n", 1)
    data = json.loads(body)
    one, other = data["entries"]["items.counts"], data["entries"]["items.shop_list"]
    one[1:], other[1:] = other[1:], one[1:]
    index.write_bytes(head + b"\n" + json.dumps(data, separators=(",", ":")).encode())
    _sub(mesh / "inventory/items/models/counts.sql", "count(*)", "count(1)")
    built.clear()
    warm = _compile(mesh)
    assert built.count("items.shop_list") == 1  # built for manifest.json, copied for dbt's
    assert warm == _cold(mesh, monkeypatch)


def test_outputs_get_the_mode_of_a_file_the_user_creates(tiny: Path) -> None:
    _compile(tiny)
    probe = tiny / "probe.txt"
    probe.write_text("x")
    expected = probe.stat().st_mode & 0o777
    for name in ("manifest.json", "dbt/manifest.json", "compiled/items/fct_items.sql"):
        assert (tiny / "target" / name).stat().st_mode & 0o777 == expected, name


def test_random_edits_of_a_generated_mesh_give_the_outputs_of_a_cold_compile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: list[str]) -> None:
    """Edits drawn at random (models' SQL, ports' descriptions, several at once), compiled
    with binding and typing in worker processes (their keys are made there), each compile's
    outputs compared with a cold compile's without any fast path."""
    for module in (dpsql.compile.parallel, dpsql.compile.models, units):
        monkeypatch.setattr(module, "workers", lambda: 2)
    monkeypatch.setattr(dpsql.compile.parallel, "MIN_ITEMS", 1)
    monkeypatch.setattr(dpsql.compile.models, "MIN_ITEMS", 1)
    monkeypatch.setattr(units, "MIN_MODELS", 1)
    mesh = generate_mesh(tmp_path / "mesh", products=6, models_per_product=5, rows=20)
    layout = DpsqlLayout(mesh.spec, mesh.root)
    rng = random.Random(16)
    _compile(mesh.workspace)
    copied = 0  # steps where entries were copied
    for step in range(1, 7):
        models_only = True
        for product in rng.sample(mesh.spec.products, rng.choice([1, 2])):
            if rng.random() < 0.7:  # a staging model gets a literal column
                layout.write_model(product, product.models[0], edit=step)
            else:  # (any product.yml is part of every model's bind key: all are built)
                models_only = False
                yml = layout.root / product.folder / "product.yml"
                spec = yaml.safe_load(yml.read_text())
                spec["outputs"][0]["description"] = f"edit {step}"
                yml.write_text(yaml.safe_dump(spec))
        built.clear()
        warm = _compile(mesh.workspace)
        fresh = len(built)
        assert warm == _cold(mesh.workspace, monkeypatch), step
        assert 0 < fresh < 2 * 30 or not models_only  # some entries were copied
        copied += fresh < 2 * 30
    assert copied >= 2
