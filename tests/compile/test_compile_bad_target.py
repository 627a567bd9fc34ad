"""A damaged target/ is rebuilt or reported cleanly (DP009), never a traceback: a compile cache
or stamp that dpsql did not write as it is, `target` being a file, a read-only target/."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import explain, run_cli, write_files

from dpsql.compile import stamp
from dpsql.compile.cache import FILE, FORMAT, read_sealed, write_sealed
from dpsql.core import __version__

STAMP = Path("target") / "cache" / "stamp.json"
FCT = "inventory/items/models/fct_items.sql"
COMPILED = Path("target") / "compiled" / "items" / "fct_items.sql"


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, explain(result)
    return result


def _mangle_body(path: Path, change: Callable[[Any], Any]) -> None:
    """Change the document of a sealed file, keeping the header dpsql wrote."""
    head, _, body = path.read_bytes().partition(b"\n")
    path.write_bytes(head + b"\n" + json.dumps(change(json.loads(body))).encode())


def _first_entry(stage: str, value: Any) -> Callable[[Any], Any]:
    def change(doc: Any) -> Any:
        key = sorted(doc[stage])[0]
        doc[stage][key] = value
        return doc
    return change


CACHES: dict[str, Callable[[Path], None]] = {
    "a list": lambda p: p.write_text("[]"),
    "bind as a list": lambda p: p.write_text(json.dumps(
        {"format": FORMAT, "dpsql": __version__, "bind": [["k", {"sql": 1}]], "type": {}})),
    "bind as a list, sealed header": lambda p: _mangle_body(p, lambda d: {**d, "bind": [1]}),
    "a bind entry of the wrong shape": lambda p: _mangle_body(p, _first_entry("bind", {"cfg": 5})),
    "a type entry of the wrong shape": lambda p: _mangle_body(
        p, _first_entry("type", {"columns": "x", "lineage": 3})),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "binary": lambda p: p.write_bytes(b"\xff\xfe\x00" * 10),
    "a directory": lambda p: (p.unlink(), p.mkdir()),  # type: ignore[func-returns-value]
}


@pytest.mark.parametrize("case", sorted(CACHES))
def test_a_damaged_compile_cache_is_rebuilt(tiny: Path, case: str) -> None:
    _ok(run_cli("compile", "-p", str(tiny)))
    write_files(tiny, {FCT: (tiny / FCT).read_text().replace("qty, (qty", "qty, 2 * (qty")})
    CACHES[case](tiny / FILE)
    _ok(run_cli("check", "-p", str(tiny)))
    result = _ok(run_cli("compile", "-p", str(tiny)))
    assert "(nothing changed)" not in result.output
    assert "2 * CAST" in (tiny / COMPILED).read_text()  # the edit is compiled, not a stale entry
    if (tiny / FILE).is_file():
        assert read_sealed(tiny / FILE, "compile", FORMAT) is not None, "written again"
    _ok(run_cli("build", "-p", str(tiny)))


STAMPS: dict[str, Callable[[Any], Any]] = {
    "a list": lambda doc: [],
    "files as a number": lambda doc: {**doc, "files": 5},
    "files of the wrong shape": lambda doc: {**doc, "files": [[1, 2]]},
    "inputs of the wrong shape": lambda doc: {**doc, "inputs": [[None]]},
    "warnings of the wrong shape": lambda doc: {**doc, "warnings": [["DP306"]]},
    "a bad severity": lambda doc: {**doc, "warnings": [
        ["DP306", "m", None, 0, 0, None, "fatal"]]},
    "no summary": lambda doc: {k: v for k, v in doc.items() if k != "summary"},
}


@pytest.mark.parametrize("sealed", [False, True], ids=["edited", "resealed"])
@pytest.mark.parametrize("case", sorted(STAMPS))
def test_a_damaged_stamp_means_a_real_compile(tiny: Path, case: str, sealed: bool) -> None:
    _ok(run_cli("compile", "-p", str(tiny)))
    if sealed:  # even a stamp with a valid seal is checked as it is used
        doc = read_sealed(tiny / STAMP, "stamp", stamp.FORMAT)
        assert write_sealed(tiny / STAMP, "stamp", stamp.FORMAT, STAMPS[case](doc))
    else:
        _mangle_body(tiny / STAMP, STAMPS[case])
    result = _ok(run_cli("compile", "-p", str(tiny)))
    assert "(nothing changed)" not in result.output
    assert "(nothing changed)" in _ok(run_cli("compile", "-p", str(tiny))).output


def _dp009(result: Result, text: str, where: str = "target") -> None:
    assert result.exit_code == 1, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    line = next((x for x in result.stderr.splitlines() if "error[DP009]" in x), "")
    assert line.split(": error[DP009]")[0].endswith(where), result.output
    assert text in line, result.output
    assert "hint: " in result.stderr


def test_target_being_a_file_is_reported_cleanly(tiny: Path) -> None:
    (tiny / "target").write_text("not a folder\n")
    assert "All checks passed." in _ok(run_cli("check", "-p", str(tiny))).output
    for command in ("compile", "build", "test"):
        _dp009(run_cli(command, "-p", str(tiny)), "`target` is a file")
    _dp009(run_cli("docs", "-p", str(tiny)), "Not a directory", "target/docs")
    assert "remove or rename the file `target`" in run_cli("build", "-p", str(tiny)).stderr
    assert not (tiny / "wh.duckdb").exists(), "the build stopped before the warehouse"
    assert (tiny / "target").read_text() == "not a folder\n"


@pytest.fixture
def read_only_target(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make `root/target` read-only: by its mode, and, where that does not bind (as root), by
    refusing to create files in it, as a read-only mount does."""
    def make(root: Path) -> None:
        target = str(root / "target")
        real = tempfile.mkstemp

        def mkstemp(*args: Any, **kwargs: Any) -> Any:
            if str(kwargs.get("dir", "")).startswith(target):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs["dir"])
            return real(*args, **kwargs)

        for folder, _, _ in os.walk(target):
            os.chmod(folder, 0o555)
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return make


def test_a_read_only_target(tiny: Path, read_only_target: Callable[[Path], None]) -> None:
    _ok(run_cli("compile", "-p", str(tiny)))
    read_only_target(tiny)
    try:
        # nothing to write: the outputs stand
        assert "(nothing changed)" in _ok(run_cli("compile", "-p", str(tiny))).output
        assert "All checks passed." in _ok(run_cli("check", "-p", str(tiny))).output
        write_files(tiny, {FCT: (tiny / FCT).read_text().replace("qty, (qty", "qty, 2 * (qty")})
        for command in ("compile", "build"):
            _dp009(run_cli(command, "-p", str(tiny)), "cannot write dpsql's outputs in ")
        assert not (tiny / "wh.duckdb").exists(), "the build stopped before the warehouse"
        assert "2 * CAST" not in (tiny / COMPILED).read_text()
        # check still reports the project's own problems
        write_files(tiny, {FCT: "select nope from {{ ref('stg_items') }}\n"})
        result = run_cli("check", "-p", str(tiny))
        assert result.exit_code == 1 and "nope" in result.stderr, explain(result)
    finally:
        for folder, _, _ in os.walk(tiny / "target"):
            os.chmod(folder, 0o755)
