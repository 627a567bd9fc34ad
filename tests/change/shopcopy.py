"""A copy of the example workspace under git, to change and compare (helpers of the tests
of `dpsql diff`)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

SHOP = Path(__file__).resolve().parents[2] / "projects" / "shop"
IGNORED = shutil.ignore_patterns("target", "*.duckdb", "*.duckdb.wal", "__pycache__")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t",
         "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, check=True)
    return done.stdout


def copy_shop(dest: Path) -> Path:
    shutil.copytree(SHOP, dest, ignore=IGNORED)
    return dest


def shop_in_git(tmp_path: Path) -> Path:
    """The example workspace in a fresh git repository, committed (the base is HEAD)."""
    root = copy_shop(tmp_path / "shop")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    return root


Edit = Callable[[Path], None]


def replace(rel: str, old: str, new: str) -> Edit:
    """An edit: one text replaced in one file (which must hold it)."""

    def edit(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {rel}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    return edit


FCT_ORDERS = "sales/orders/models/fct_orders.sql"
STG_ORDERS = "sales/orders/models/stg_orders.sql"
ORDERS_YML = "sales/orders/product.yml"
