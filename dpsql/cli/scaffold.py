"""`dpsql init`: a small working workspace (two products in two domains, one CSV file)."""

from __future__ import annotations

from pathlib import Path

from dpsql.core.errors import DpsqlError, Location, error

FILES: dict[str, str] = {
    "dpsql.yml": """\
name: {name}
warehouse: warehouse.duckdb
vars:
  min_amount: 0
threads: 4
""",
    ".gitignore": "target/\n*.duckdb\n*.duckdb.wal\n",
    "data/sales.csv": """\
sale_id,store,sold_on,amount_cents
1,north,2024-03-01,1250
2,north,2024-03-01,899
3,south,2024-03-01,4500
4,south,2024-03-02,120
5,north,2024-03-02,3300
6,east,2024-03-02,780
7,east,2024-03-03,15000
8,south,2024-03-03,2210
""",
    "stores/sales/product.yml": """\
name: sales
domain: retail
owner: retail-team@example.com
description: Store sales, one row per sale, amounts in dollars.
version: 1.0.0

inputs:
  - name: raw_sales
    file: ../../data/sales.csv

outputs:
  - name: sales
    model: fct_sales
    description: One row per sale.
    columns:
      - {{name: sale_id, type: bigint, tests: [not_null, unique]}}
      - {{name: store, type: varchar}}
      - {{name: sold_on, type: date}}
      - {{name: amount, type: 'decimal(18,2)'}}
""",
    "stores/sales/models/stg_sales.sql": """\
select
    sale_id::bigint as sale_id,
    lower(trim(store)) as store,
    sold_on::date as sold_on,
    amount_cents
from {{{{ input('raw_sales') }}}}
where amount_cents > {{{{ var('min_amount') }}}}
""",
    "stores/sales/models/fct_sales.sql": """\
{{{{ config(materialized='table') }}}}
select
    sale_id,
    store,
    sold_on,
    (amount_cents / 100.0)::decimal(18,2) as amount
from {{{{ ref('stg_sales') }}}}
""",
    "reporting/daily/product.yml": """\
name: daily
domain: reporting
owner: analytics@example.com
description: Daily revenue per store, for the morning dashboard.
version: 1.0.0

inputs:
  - name: sales
    product: sales
    port: sales
    version: ^1

outputs:
  - name: daily_revenue
    description: One row per store and day.
    columns:
      - {{name: store, type: varchar}}
      - {{name: sold_on, type: date}}
      - {{name: sales_count, type: bigint}}
      - {{name: revenue, type: 'decimal(18,2)'}}
""",
    "reporting/daily/models/daily_revenue.sql": """\
select
    store,
    sold_on,
    count(*) as sales_count,
    sum(amount)::decimal(18,2) as revenue
from sales.sales
group by all
order by store, sold_on
""",
}


def write_scaffold(directory: Path) -> list[Path]:
    """Write the starter workspace; refuses to overwrite an existing workspace."""
    if (directory / "dpsql.yml").exists():
        raise DpsqlError(error(
            "DP006", f"{directory} already holds a workspace", Location(directory / "dpsql.yml"),
            "choose a new folder, or remove its dpsql.yml first"))
    name = "".join(c if c.isalnum() else "_" for c in directory.resolve().name) or "workspace"
    if not (name[0].isalpha() or name[0] == "_"):
        name = "ws_" + name
    written = []
    for rel, text in FILES.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(name=name), encoding="utf-8")
        written.append(path)
    return written
