"""A `file:` input that is not a plain file, or whose name looks like a pattern: a clean DP007
at the input's line (never a traceback, never a hang), or the one file named, read literally."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from buildkit import build, query
from click.testing import Result
from conftest import BASE, explain, run_cli, write_files

ITEMS_YML = "inventory/items/product.yml"
CSV = "data/items.csv"


def _clean_dp007(result: Result, what: str) -> None:
    assert result.exit_code == 1, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    line = next((x for x in result.stderr.splitlines() if "[DP007]" in x), "")
    assert f"{ITEMS_YML}:6: error[DP007]: input `raw_items` reads " in line, result.output
    assert what in line, result.output
    assert "hint: fix the `file:` path" in result.stderr


@contextlib.contextmanager
def _unblocked_after(fifo: Path, seconds: float) -> Iterator[None]:
    """If something opens the FIFO for reading (the bug), open it for writing after a while and
    close it, so the reader sees an empty file and the test fails instead of hanging."""
    done = threading.Event()

    def unblock() -> None:
        while not done.wait(seconds):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError as exc:  # ENXIO: no reader yet
                if exc.errno != errno.ENXIO:
                    return

    watchdog = threading.Thread(target=unblock, daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        done.set()
        watchdog.join()


def test_a_symlink_loop_is_a_clean_error(tiny: Path) -> None:
    (tiny / CSV).unlink()
    (tiny / CSV).symlink_to("items.csv")  # itself
    for command in ("check", "build"):
        _clean_dp007(run_cli(command, "-p", str(tiny)), "which is a symlink loop")
    assert not (tiny / "wh.duckdb").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_refused_without_being_opened(tiny: Path) -> None:
    (tiny / CSV).unlink()
    os.mkfifo(tiny / CSV)
    with _unblocked_after(tiny / CSV, 20):
        for command in ("check", "compile", "build"):
            _clean_dp007(run_cli(command, "-p", str(tiny)), "which is a FIFO (named pipe)")
    assert not (tiny / "wh.duckdb").exists()


def test_a_directory_is_a_clean_error(tiny: Path) -> None:
    (tiny / CSV).unlink()
    (tiny / CSV).mkdir()
    _clean_dp007(run_cli("check", "-p", str(tiny)), "which is a directory, not a file")


def test_a_symlink_to_a_file_is_read(tiny: Path) -> None:
    (tiny / CSV).rename(tiny / "data" / "real.csv")
    (tiny / CSV).symlink_to("real.csv")
    build(tiny)


# the input reads `name`; `decoy` matches `name` read as a glob pattern
GLOBS = {"brackets": ("items[1].csv", "items1.csv"), "star": ("it*.csv", "items.csv"),
         "question_mark": ("item?.csv", "items.csv")}


@pytest.mark.parametrize("case", sorted(GLOBS))
def test_a_name_with_glob_characters_is_read_literally(tmp_path: Path, case: str) -> None:
    name, decoy = GLOBS[case]
    root = write_files(tmp_path / "ws", {
        "dpsql.yml": "name: globs\n",
        "p/product.yml": f"name: p\ninputs:\n  - name: raw\n    file: ../data/{name}\n"
                         "outputs:\n  - name: rows\n",
        "p/models/rows.sql": "select * from {{ input('raw') }}\n",
        f"data/{name}": "n\n1\n",
        f"data/{decoy}": "n\n2\n3\n",
    })
    build(root)
    assert query(root, "select n from p.rows") == [(1,)]
    # the build watches the file it reads: a change to it is built, a change to the decoy not
    write_files(root, {f"data/{name}": "n\n1\n4\n"})
    build(root)
    assert query(root, "select n from p.rows order by n") == [(1,), (4,)]
    write_files(root, {f"data/{decoy}": "n\n5\n"})
    assert "Nothing changed" in build(root).output
    assert query(root, "select n from p.rows order by n") == [(1,), (4,)]


def test_a_backslash_with_glob_characters_is_refused(tiny: Path) -> None:
    name = "data/it\\[1].csv"  # DuckDB reads `\` as an escape there: no spelling reads it
    (tiny / CSV).rename(tiny / name)
    write_files(tiny, {ITEMS_YML: BASE[ITEMS_YML].replace("items.csv", "it\\[1].csv")})
    _clean_dp007(run_cli("check", "-p", str(tiny)), "which DuckDB reads as a pattern")
