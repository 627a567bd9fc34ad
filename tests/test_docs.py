"""Docs that stay true: every command, code and config key is documented; the tour runs."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
from conftest import run_cli

from dpsql.cli.commands import main
from dpsql.core.errors import CODES
from dpsql.load import config

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme_and_explains_itself() -> None:
    assert main.commands
    for name, command in main.commands.items():
        assert f"`dpsql {name}" in README, f"README does not document `dpsql {name}`"
        result = run_cli(name, "--help")
        assert result.exit_code == 0
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first and first in " ".join(result.output.split())
    assert "make run" in README and "make test" in README


def test_every_diagnostic_code_is_documented() -> None:
    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (DP\d{3}) \|", text, re.M))
    assert documented == set(CODES)


def test_every_config_key_is_documented() -> None:
    text = (ROOT / "docs" / "workspace.md").read_text(encoding="utf-8")
    keys = (config._WORKSPACE_KEYS | config._PRODUCT_KEYS | config._INPUT_KEYS
            | config._OUTPUT_KEYS | config._COLUMN_KEYS)
    for key in keys:
        assert f"`{key}`" in text, f"docs/workspace.md does not mention `{key}`"


def test_the_readme_tour_runs(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    block = README.split("## A short tour", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    for command in commands:
        args = re.findall(r'"[^"]*"|\S+', command)[1:]
        result = run_cli(*[a.strip('"') for a in args])
        assert result.exit_code == 0, (command, result.output)
    con = duckdb.connect(str(tmp_path / "demo" / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from daily.daily_revenue").fetchone() == (7,)
