"""Small pure pieces: versions, the DAG, selection, the template line map, YAML lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BASE, write_files

from dpsql.build.plan import SelectionError, select
from dpsql.compile.pipeline import compile_project
from dpsql.compile.templating import line_map
from dpsql.core.dtypes import canonical, is_type
from dpsql.core.graph import ancestors, reverse, topological_order
from dpsql.core.versions import parse_range, parse_version
from dpsql.load.loader import load_project
from dpsql.load.yamlfile import load_yaml


@pytest.mark.parametrize(("spec", "version", "ok"), [
    ("^1", "1.9.3", True), ("^1", "2.0.0", False), ("^1.2", "1.1.9", False),
    ("~1.2", "1.2.9", True), ("~1.2", "1.3.0", False), (">=1.2", "3.0.0", True),
    (">=1.0.0,<2.0.0", "1.5.0", True), (">=1.0.0 <2.0.0", "2.0.0", False),
    ("^0.2", "0.2.5", True), ("^0.2", "0.3.0", False), ("1.2", "1.2.7", True),
    ("=1.2.3", "1.2.4", False), ("*", "9.9.9", True),
])
def test_version_ranges(spec: str, version: str, ok: bool) -> None:
    assert parse_range(spec).allows(parse_version(version)) is ok


@pytest.mark.parametrize("bad", ["", "^x", ">>1", "1.2.3.4.5"])
def test_bad_version_ranges(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_range(bad)


def test_topological_order_is_stable_and_finds_cycles() -> None:
    order, cycles = topological_order({"c": ["a", "b"], "b": ["a"], "a": []})
    assert order == ["a", "b", "c"] and cycles == []
    _, cycles = topological_order({"a": ["c"], "b": ["a"], "c": ["b"], "d": []})
    assert cycles == [["b", "c", "a", "b"]]  # data-flow order: b feeds c feeds a feeds b


def test_ancestors_and_descendants() -> None:
    edges = {"a": [], "b": ["a"], "c": ["b"], "d": ["a"]}
    assert ancestors(edges, ["c"]) == {"a", "b"}
    assert ancestors(reverse(edges), ["a"]) == {"b", "c", "d"}


def test_line_map_follows_blocks() -> None:
    template = "select\n{% if true %}\n  a,\n{% endif %}\n  b\nfrom t\n"
    rendered = "select\n\n  a,\n\n  b\nfrom t\n"
    mapping = line_map(template, rendered)
    assert mapping[0] == 1 and mapping[2] == 3 and mapping[4] == 5 and mapping[5] == 6


def test_yaml_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("a: 1\nb:\n  - name: x\n    type: int\n", encoding="utf-8")
    doc = load_yaml(path)
    assert doc.data == {"a": 1, "b": [{"name": "x", "type": "int"}]}
    assert doc.loc("b", 0, "type").line == 4
    assert doc.loc("b", 0, "missing").line == 3


def test_canonical_types() -> None:
    assert canonical("int") == "INTEGER"
    assert canonical("decimal(18, 2)") == "DECIMAL(18,2)"
    assert canonical("text") == "VARCHAR"
    assert is_type("struct(a int)") and not is_type("bigintt") and not is_type("int; drop x")


@pytest.fixture
def compiled(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = write_files(tmp_path / "ws", {
        **BASE,
        "reports/shops/models/helper.sql": "{{ config(tags=['daily']) }}\nselect 1 as x\n",
    })
    return compile_project(load_project(root))


@pytest.mark.parametrize(("selector", "expected"), [
    (["items"], {"items.stg_items", "items.fct_items"}),
    (["items.fct_items"], {"items.fct_items"}),
    (["items.items"], {"items.fct_items"}),  # a port names its model
    (["fct_items"], {"items.fct_items"}),
    (["+shops.shop_totals"], {"shops.shop_totals", "items.fct_items", "items.stg_items"}),
    (["items.stg_items+"], {"items.stg_items", "items.fct_items", "shops.shop_totals"}),
    (["domain:reporting"], {"shops.shop_totals", "shops.helper"}),
    (["tag:daily"], {"shops.helper"}),
    (["items shops.helper"], {"items.stg_items", "items.fct_items", "shops.helper"}),
    (["items.stg_items+,domain:reporting"], {"shops.shop_totals"}),
])
def test_selection(compiled, selector: list[str], expected: set[str]) -> None:  # type: ignore[no-untyped-def]
    assert set(select(compiled, selector).models) == expected


def test_exclude_and_order(compiled) -> None:  # type: ignore[no-untyped-def]
    plan = select(compiled, ["+shops.shop_totals"], ["items.stg_items"])
    assert plan.models == ("items.fct_items", "shops.shop_totals")


def test_selection_that_matches_nothing(compiled) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SelectionError, match="did you mean `items`"):
        select(compiled, ["itemz"])
