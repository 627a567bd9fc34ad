"""targets: in dpsql.yml, --target and --vars on the commands, env_var() in values, and outputs
kept apart per target."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import explain, run_cli

TWO_TARGETS = """
name: tiny
target: dev
targets:
  dev: {type: duckdb, path: "{{ env_var('DPSQL_TEST_WH', 'dev.duckdb') }}"}
  other: {type: duckdb, path: other.duckdb}
vars: {min_qty: 0}
"""


def _use(root: Path, text: str) -> None:
    (root / "dpsql.yml").write_text(text.lstrip(), encoding="utf-8")


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_each_target_builds_its_own_warehouse_and_outputs(tiny: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DPSQL_TEST_WH", raising=False)
    _use(tiny, TWO_TARGETS)
    first = run_cli("build", "-p", str(tiny))
    assert first.exit_code == 0, explain(first)
    second = run_cli("build", "-p", str(tiny), "--target", "other", "--vars", "{min_qty: 1}")
    assert second.exit_code == 0, explain(second)
    # the default target wrote target/, the other one target/other/, each its own warehouse
    assert json.loads((tiny / "target" / "manifest.json").read_text())["metadata"]["target"] == "dev"
    other = json.loads((tiny / "target" / "other" / "manifest.json").read_text())
    assert other["metadata"]["target"] == "other"
    assert (tiny / "target" / "other" / "run_results.json").is_file()
    # --vars overrode min_qty for the second build only: the rows differ by the qty filter
    assert len(_rows(tiny / "dev.duckdb", "from items.items")) == 3  # qty > 0
    assert len(_rows(tiny / "other.duckdb", "from items.items")) == 2  # qty > 1
    compiled = (tiny / "target" / "other" / "compiled" / "items" / "stg_items.sql").read_text()
    assert "qty > 1" in compiled
    assert "qty > 0" in (tiny / "target" / "compiled" / "items" / "stg_items.sql").read_text()
    # switching back does not reuse the other target's compile: the default build is unchanged
    again = run_cli("build", "-p", str(tiny))
    assert again.exit_code == 0 and "qty > 0" in (
        tiny / "target" / "compiled" / "items" / "stg_items.sql").read_text(), explain(again)


def test_vars_override_is_part_of_the_compile_cache_key(tiny: Path) -> None:
    """The same target compiled with other --vars renders again (no stale cache hit)."""
    assert run_cli("compile", "-p", str(tiny)).exit_code == 0
    result = run_cli("compile", "-p", str(tiny), "--vars", "{min_qty: 4}")
    assert result.exit_code == 0, explain(result)
    assert "qty > 4" in (tiny / "target" / "compiled" / "items" / "stg_items.sql").read_text()
    back = run_cli("compile", "-p", str(tiny))
    assert back.exit_code == 0 and "nothing changed" not in back.output
    assert "qty > 0" in (tiny / "target" / "compiled" / "items" / "stg_items.sql").read_text()


def test_env_var_in_a_target_value(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(tiny, TWO_TARGETS)
    monkeypatch.setenv("DPSQL_TEST_WH", "from_env.duckdb")
    result = run_cli("build", "-p", str(tiny))
    assert result.exit_code == 0, explain(result)
    assert (tiny / "from_env.duckdb").is_file()
    assert not list(tiny.glob("*{{*"))  # no file named after the template


def test_warehouse_alone_may_use_env_var(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(tiny, "name: tiny\nwarehouse: \"{{ env_var('DPSQL_TEST_WH', 'dflt.duckdb') }}\"\n"
               "vars: {min_qty: 0}\n")
    monkeypatch.delenv("DPSQL_TEST_WH", raising=False)
    result = run_cli("build", "-p", str(tiny), "--target", "default")
    assert result.exit_code == 0, explain(result)
    assert (tiny / "dflt.duckdb").is_file()


@pytest.mark.parametrize("args, code, words", [
    (["--target", "prod"], 1, ["DP014", "`prod`", "declared targets: dev, other"]),
    (["--target", "othr"], 1, ["DP014", "did you mean `other`?"]),
    (["--vars", "[1, 2]"], 2, ["--vars", "YAML mapping"]),
    (["--vars", "{a: [}"], 2, ["--vars", "not YAML"]),
])
def test_bad_choice(tiny: Path, args: list[str], code: int, words: list[str]) -> None:
    _use(tiny, TWO_TARGETS)
    for command in (["build"], ["check"], ["query", "select 1"]):
        result = run_cli(*command, "-p", str(tiny), *args)
        assert result.exit_code == code, explain(result)
        for word in words:
            assert word in result.output, result.output
        assert "Traceback" not in explain(result)
    assert not (tiny / "dev.duckdb").exists() and not (tiny / "target").exists()


@pytest.mark.parametrize("yml, words", [
    ("targets:\n  dev: {type: snowflake}\n", ["DP003", "`snowflake`", "duckdb, spark"]),
    ("targets:\n  dev: {path: a.duckdb}\n", ["DP003", "has no `type`"]),
    ("targets:\n  dev: {type: duckdb, pth: a.duckdb}\n", ["DP002", "`pth`"]),
    ("targets:\n  compiled: {type: duckdb}\n", ["DP003", "cannot be a target's name"]),
    ("target: prod\ntargets:\n  dev: {type: duckdb}\n", ["DP014", "`target:`"]),
    ("warehouse: a.duckdb\ntargets:\n  dev: {type: duckdb}\n", ["DP003", "both set"]),
    ("targets:\n  s: {type: spark, master: 'local[1]', remote: 'sc://h:1'}\n",
     ["DP003", "both `master` and `remote`"]),
    ("targets:\n  s: {type: spark, remote: 'http://h:1'}\n", ["DP003", "Spark Connect"]),
    ("warehouse: \"{{ env_var('DPSQL_SURELY_UNSET') }}\"\n", ["DP003", "DPSQL_SURELY_UNSET"]),
    ("warehouse: \"{{ env_var('X' }}\"\n", ["DP003", "cannot be rendered", "expected ')'"]),
    ("warehouse: \"{{ nothing_here() }}\"\n", ["DP003", "cannot be rendered", "nothing_here"]),
    ("warehouse: md:bank\n", ["DP003", "`md:bank` is not a DuckDB file", "MotherDuck"]),
    ("targets:\n  dev: {type: duckdb, path: 's3://b/w.duckdb'}\n", ["DP003", "a URL"]),
])
def test_bad_targets(tiny: Path, yml: str, words: list[str]) -> None:
    _use(tiny, "name: tiny\nvars: {min_qty: 0}\n" + yml)
    result = run_cli("build", "-p", str(tiny))
    assert result.exit_code == 1, explain(result)
    for word in words:
        assert word in result.output, result.output
    assert "dpsql.yml:" in result.output
    assert not list(tiny.glob("*.duckdb")) and not (tiny / "target").exists()


def test_every_workspace_command_takes_target_and_vars(tiny: Path) -> None:
    from dpsql.cli.commands import main

    _use(tiny, TWO_TARGETS)
    commands = sorted(n for n, c in main.commands.items()
                      if any("--project-dir" in p.opts for p in c.params))
    assert {"build", "check", "compile", "diff", "docs", "lineage", "ls", "overlap", "query",
            "test"} <= set(commands)
    for name in commands:
        extra = {"query": ["select 1"], "diff": ["--base", str(tiny)]}.get(name, [])
        result = run_cli(name, "-p", str(tiny), "--target", "nope", "--vars", "{a: 1}", *extra)
        assert result.exit_code == 1, (name, explain(result))
        assert "DP014" in result.output and "declared targets: dev, other" in result.output, name


def test_a_build_with_nothing_changed_is_answered_per_target(tiny: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.delenv("DPSQL_TEST_WH", raising=False)
    _use(tiny, TWO_TARGETS)
    assert run_cli("build", "-p", str(tiny)).exit_code == 0
    again = run_cli("build", "-p", str(tiny))
    assert again.exit_code == 0 and "Nothing changed" in again.output, explain(again)
    answered = json.loads((tiny / "target" / "run_results.json").read_text())["results"]
    assert {r["message"] for r in answered} == {"unchanged since the last build"}  # no compile
    # the record of the default target says nothing of the other one: it builds for real
    other = run_cli("build", "-p", str(tiny), "--target", "other")
    assert other.exit_code == 0, explain(other)
    assert len(_rows(tiny / "other.duckdb", "from items.items")) == 3
    results = json.loads((tiny / "target" / "other" / "run_results.json").read_text())
    assert {r["status"] for r in results["results"]} == {"success"}
    # and other --vars are another build again
    varied = run_cli("build", "-p", str(tiny), "--target", "other", "--vars", "{min_qty: 1}")
    assert varied.exit_code == 0, explain(varied)
    assert len(_rows(tiny / "other.duckdb", "from items.items")) == 2


def test_check_remembers_its_diagnostics_per_target(tiny: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DPSQL_TEST_WH", raising=False)
    _use(tiny, TWO_TARGETS)
    assert run_cli("check", "-p", str(tiny)).exit_code == 0
    # the default check's stamp must not answer for --vars that break a model, nor for the
    # other target
    bad = run_cli("check", "-p", str(tiny), "--vars", "{min_qty: no_such_column}")
    assert bad.exit_code == 1 and "no_such_column" in bad.output, explain(bad)
    assert run_cli("check", "-p", str(tiny), "--target", "other").exit_code == 0
    assert run_cli("check", "-p", str(tiny)).exit_code == 0
