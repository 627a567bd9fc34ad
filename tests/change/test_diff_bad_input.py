"""Bad input to `dpsql diff`: a clear error, exit status 1, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import explain, run_cli
from shopcopy import FCT_ORDERS, ORDERS_YML, copy_shop, replace, shop_in_git


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return shop_in_git(tmp_path)


def fails(root: Path, *args: str) -> str:
    result = run_cli("diff", "-p", str(root), *args)
    assert result.exit_code == 1, explain(result)
    assert result.exception is None or isinstance(result.exception, SystemExit), explain(result)
    assert not (root / "target").exists()
    return result.output


def test_a_revision_that_does_not_exist(shop: Path) -> None:
    out = fails(shop, "--base", "no-such-branch")
    assert "error[DP701]" in out and "`no-such-branch`" in out and "git log" in out


def test_a_base_that_is_not_a_workspace(shop: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = fails(shop, "--base", str(empty))
    assert "error[DP703]" in out and "no dpsql.yml" in out


def test_a_revision_without_the_workspace(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    root = copy_shop(repo / "shop")
    from shopcopy import git

    git(repo, "init", "-q")
    (repo / "README").write_text("x\n", encoding="utf-8")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "before the workspace")
    out = fails(root)
    assert "error[DP703]" in out and "no workspace" in out


def test_a_workspace_outside_git_without_a_base(tmp_path: Path) -> None:
    root = copy_shop(tmp_path / "shop")
    out = fails(root)
    assert "error[DP702]" in out and "--base" in out


def test_a_version_that_is_not_semver(shop: Path) -> None:
    replace(ORDERS_YML, "version: 1.2.0", "version: one")(shop)
    out = fails(shop)
    assert "product.yml" in out and "not a version" in out and "1.0.0" in out


def test_a_broken_workspace_is_compared_not_crashed(shop: Path) -> None:
    replace(FCT_ORDERS, "    amount,\n", "")(shop)
    assert run_cli("check", "-p", str(shop)).exit_code == 1
    result = run_cli("diff", "-p", str(shop))
    assert result.exit_code == 1 and result.exception is not None  # SystemExit(1)
    assert "customer_360: breaking" in result.output


def test_check_reports_a_bad_base_with_its_other_findings(shop: Path) -> None:
    result = run_cli("check", "-p", str(shop), "--base", "no-such-branch")
    assert result.exit_code == 1
    assert "error[DP701]" in result.output


def test_a_base_that_does_not_load(shop: Path, tmp_path: Path) -> None:
    base = copy_shop(tmp_path / "base")
    replace(ORDERS_YML, "version: 1.2.0", "version: 1.2.x")(base)
    out = fails(shop, "--base", str(base))
    assert "error[DP703]" in out and "does not load" in out and "not a version" in out
