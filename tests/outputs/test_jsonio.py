"""dpsql's large JSON files are written through orjson: the standard library reads back the same
values, and what orjson refuses is still written (through the standard library)."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from unittest import mock

from conftest import explain, run_cli, write_files
from hypothesis import given, settings
from hypothesis import strategies as st

from dpsql.compile.cache import CompileCache
from dpsql.core import jsonio

_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text())
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(_VALUES)
def test_the_standard_library_reads_back_what_was_written(value: object) -> None:
    assert json.loads(jsonio.dumps(value)) == value
    assert jsonio.loads(json.dumps(value)) == value


@settings(max_examples=150, deadline=None)
@given(_VALUES, st.integers(min_value=0, max_value=3))
def test_a_document_written_in_parts_is_the_same_json(value: object, spread: int) -> None:
    parts = b"".join(jsonio.dump_parts(value, spread=spread))
    assert json.loads(parts) == value
    assert parts == jsonio.dumps(value)  # the same bytes, where orjson writes the whole


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(), st.dictionaries(st.text(), _VALUES, max_size=5), max_size=4),
       st.integers(min_value=1, max_value=300), st.booleans())
def test_places_point_at_each_value_whatever_the_size_of_the_parts(
        value: dict[str, dict[str, object]], chunk: int, spliced: bool) -> None:
    """Where dump_parts says each value one level down sits (the manifests' index), with parts
    flushed every `chunk` bytes; a Spliced value is written as its own text."""
    document: dict[str, dict[str, object]] = {
        outer: {k: jsonio.Spliced(functools.partial(jsonio.dumps, v)) if spliced else v
                for k, v in inner.items()} for outer, inner in value.items()}
    places: dict[str, dict[str, tuple[int, int]]] = {}
    with mock.patch.object(jsonio, "_CHUNK", chunk):
        parts = list(jsonio.dump_parts(document, places=places))
    whole = b"".join(parts)
    assert whole == jsonio.dumps(value)
    for outer, inner in value.items():
        for key, item in inner.items():
            start, length = places[outer][key]
            assert whole[start:start + length] == jsonio.dumps(item)


def test_what_orjson_refuses_is_written_and_read_as_before() -> None:
    odd = {"surrogate": "a\udc80b", "big": 2**70, "keys": {1: "one"}}
    for value in ({"surrogate": odd["surrogate"]}, {"big": odd["big"]}, {"keys": odd["keys"]}):
        text = jsonio.dumps(value).decode("utf-8", "surrogatepass")
        assert text == json.dumps(value, separators=(",", ":"))
        assert jsonio.loads(text.encode("utf-8", "surrogatepass")) == json.loads(text)
    nan = jsonio.loads(json.dumps({"nan": math.nan}))  # what json.dumps wrote before
    assert math.isnan(nan["nan"])


def test_text_outside_ascii_survives_the_manifest_and_the_cache(tiny: Path) -> None:
    write_files(tiny, {"inventory/items/models/stg_items.sql": """
        -- Bestände, 在庫 und €
        select item_id::bigint as item_id, shop, qty::bigint as qty, price, 'Grüße 🌍' as note
        from {{ input('raw_items') }}
    """})
    result = run_cli("compile", "-p", str(tiny))
    assert result.exit_code == 0, explain(result)
    manifest = json.loads((tiny / "target" / "manifest.json").read_text(encoding="utf-8"))
    dbt = json.loads((tiny / "target" / "dbt" / "manifest.json").read_text(encoding="utf-8"))
    node = dbt["nodes"]["model.items.stg_items"]
    assert "Bestände, 在庫 und €" in node["raw_code"] and "'Grüße 🌍'" in node["compiled_code"]
    assert "note" in [c["name"] for c in manifest["models"]["items.stg_items"]["columns"]]
    cache = CompileCache.load(tiny)
    entries = [e for e in cache._old["bind"].values() if "Grüße" in e["sql"]]
    assert len(entries) == 1 and "在庫" in entries[0]["rendered"]
