"""Shared helpers: workspaces written from a dict of files, and the CLI run in-process."""

from __future__ import annotations

import textwrap
import traceback
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dpsql.cli.commands import main


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def explain(result: Result) -> str:
    """The command's output, and its traceback if it raised."""
    text = result.output
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        text += "".join(traceback.format_exception(*result.exc_info))
    return text


# A small valid workspace: two products in two domains, a file input, a port read across.
_BASE: dict[str, str] = {
    "dpsql.yml": """
        name: tiny
        warehouse: wh.duckdb
        vars: {min_qty: 0}
    """,
    "data/items.csv": """
        item_id,shop,qty,price
        1,a,2,1.50
        2,a,1,3.00
        3,b,5,0.20
        4,c,0,9.99
    """,
    "inventory/items/product.yml": """
        name: items
        domain: supply
        owner: supply@example.com
        version: 1.0.0
        inputs:
          - name: raw_items
            file: ../../data/items.csv
        outputs:
          - name: items
            model: fct_items
            columns:
              - {name: item_id, type: bigint}
              - {name: shop, type: varchar}
              - {name: qty, type: bigint}
              - {name: value, type: 'decimal(18,2)'}
    """,
    "inventory/items/models/stg_items.sql": """
        select item_id::bigint as item_id, shop, qty::bigint as qty, price
        from {{ input('raw_items') }}
        where qty > {{ var('min_qty') }}
    """,
    "inventory/items/models/fct_items.sql": """
        select item_id, shop, qty, (qty * price)::decimal(18,2) as value
        from {{ ref('stg_items') }}
    """,
    "reports/shops/product.yml": """
        name: shops
        domain: reporting
        owner: reports@example.com
        version: 1.0.0
        inputs:
          - name: items
            product: items
            port: items
            version: ^1
        outputs:
          - name: shop_totals
            columns:
              - {name: shop, type: varchar}
              - {name: total, type: 'decimal(18,2)'}
    """,
    "reports/shops/models/shop_totals.sql": """
        select shop, sum(value)::decimal(18,2) as total
        from items.items
        group by shop
    """,
}

BASE: dict[str, str] = {k: textwrap.dedent(v).lstrip("\n") for k, v in _BASE.items()}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_files(tmp_path / "tiny", BASE)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> object:
    """One local Spark for the whole test session (the JVM takes seconds to start): every
    `--target spark` command run in-process uses it. Small settings for small data.

    Without Java or PySpark the Spark tests are skipped on a developer's machine, and fail in
    CI (where .ci/run installs both)."""
    import importlib.util
    import os
    import shutil

    home = os.environ.get("JAVA_HOME")
    java = shutil.which("java") or (home and Path(home, "bin", "java").is_file())
    missing = ("Java" if not java else
               "PySpark" if importlib.util.find_spec("pyspark") is None else None)
    if missing is not None:
        why = f"{missing} is not installed: `make install` and openjdk-17-jre-headless run Spark"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("dpsql-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.catalogImplementation", "in-memory")
               .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-default")))
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session
