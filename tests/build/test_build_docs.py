"""The build docs keep up with the code: every build and test code, option and status is
documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dpsql.core.errors import CODES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def build_codes() -> list[str]:
    return [c for c in CODES if 404 <= int(c[2:]) <= 499 or 601 <= int(c[2:]) <= 699]


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    rest = text[start + len(heading):]
    end = re.search(r"^## ", rest, re.M)
    return rest[: end.start()] if end else rest


def test_every_build_code_is_documented() -> None:
    text = section((DOCS / "diagnostics.md").read_text(), "## Build and tests")
    documented = set(re.findall(r"^\| (DP\d{3}) \|", text, re.M))
    assert build_codes() and set(build_codes()) <= documented
    assert documented <= set(CODES)


@pytest.mark.parametrize("command", ["build", "test"])
def test_every_option_is_documented(command: str) -> None:
    from dpsql.cli.commands import main

    text = (DOCS / "build.md").read_text()
    params = main.commands[command].params  # type: ignore[attr-defined]
    for param in params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert f"`{opt}" in text or f", {opt}" in text, f"{command} {opt}"


def test_every_status_is_documented() -> None:
    from dpsql.build import results

    text = (DOCS / "build.md").read_text()
    for status in (results.SUCCESS, results.ERROR, results.FAIL, results.SKIPPED,
                   results.UNCHANGED):
        assert f"`{status}`" in text, status
