"""A singular data test that is not UTF-8 text is a located error, like a model that is not."""

from __future__ import annotations

from pathlib import Path

from conftest import explain, run_cli


def test_a_singular_test_that_is_not_utf8_is_a_clean_error(tiny: Path) -> None:
    tests = tiny / "inventory" / "items" / "tests"
    tests.mkdir(parents=True)
    (tests / "latin1.sql").write_bytes("select * from items.items -- caf\xe9\n".encode("latin-1"))
    result = run_cli("check", "-p", str(tiny))
    assert result.exit_code == 1, explain(result)
    assert "Traceback" not in result.output
    assert "latin1.sql:1:" in result.output and "error[DP001]" in result.output, result.output
    assert "not UTF-8" in result.output
