"""A model edited while a compile runs: the stamp holds the files as the compile read them, so
the next compile is a real one and target/ gets the edit (never "nothing changed" for good)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import explain, run_cli

import dpsql.compile.pipeline

FCT = "inventory/items/models/fct_items.sql"
COMPILED = Path("target") / "compiled" / "items" / "fct_items.sql"


def _edit_during_compile(monkeypatch: pytest.MonkeyPatch, path: Path, old: str, new: str,
                         keep_time: bool) -> None:
    """The next compile reads `path`, then `path` changes before the compile ends (with its
    size, and with `keep_time` its modification time, unchanged)."""
    real = dpsql.compile.pipeline.compile_project

    def compile_then_edit(*args: Any, **kwargs: Any) -> Any:
        compiled = real(*args, **kwargs)
        before = os.stat(path)
        text = path.read_text(encoding="utf-8")
        assert old in text and len(old) == len(new)
        path.write_text(text.replace(old, new), encoding="utf-8")
        if keep_time:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        monkeypatch.setattr(dpsql.compile.pipeline, "compile_project", real)
        return compiled

    monkeypatch.setattr(dpsql.compile.pipeline, "compile_project", compile_then_edit)


@pytest.mark.parametrize("keep_time", [False, True], ids=["new_time", "same_size_and_time"])
def test_an_edit_during_a_compile_is_compiled_next_time(
        tiny: Path, monkeypatch: pytest.MonkeyPatch, keep_time: bool) -> None:
    model = tiny / FCT
    if keep_time:  # the file system's clock has not ticked since the file was last written
        now = time.time_ns()
        os.utime(model, ns=(now, now))
    # `value` comes from qty and price, then from qty alone (the manifest's lineage says so)
    _edit_during_compile(monkeypatch, model, "qty * price", "qty * qty  ", keep_time)
    first = run_cli("compile", "-p", str(tiny))
    assert first.exit_code == 0, explain(first)
    assert "qty * price" in (tiny / COMPILED).read_text()  # what it read
    manifest = (tiny / "target" / "manifest.json").read_text()

    second = run_cli("compile", "-p", str(tiny))
    assert second.exit_code == 0, explain(second)
    assert "(nothing changed)" not in second.output
    assert "qty * qty" in (tiny / COMPILED).read_text()
    assert (tiny / "target" / "manifest.json").read_text() != manifest
    third = run_cli("compile", "-p", str(tiny))
    assert "(nothing changed)" in third.output, "settled: no change, no compile"
