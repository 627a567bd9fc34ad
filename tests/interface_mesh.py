"""A generated workspace of 100+ models whose SQL walks into DuckDB's typing traps.

Products chain through `events` ports with full contracts; every other product's `summary` port
has no contract, so consumers are typed both ways (from a contract, from the producer's model).
Internal models leave their types to DuckDB: sum() of an INTEGER (HUGEINT), avg() (DOUBLE), a
decimal divided by an integer (DOUBLE), decimal arithmetic, windows, unions, lists, structs.
"""

from __future__ import annotations

import random
from pathlib import Path

DOMAINS = ("sales", "finance", "ops", "growth")

EVENTS_CONTRACT = """\
      - {name: event_id, type: bigint}
      - {name: entity_id, type: bigint}
      - {name: category, type: varchar}
      - {name: qty, type: integer}
      - {name: price, type: 'decimal(18,2)'}
      - {name: ts, type: timestamp}
"""
SUMMARY_CONTRACT = """\
      - {name: entity_id, type: bigint}
      - {name: n, type: bigint}
      - {name: total_qty, type: bigint}
      - {name: avg_price, type: double}
      - {name: score, type: bigint}
"""

MODELS: dict[str, str] = {
    "m_agg": """
        select
            entity_id,
            count(*) as n,
            sum(qty) as total_qty,
            avg(price) as avg_price,
            sum(price) as total_price,
            min(ts) as first_ts,
            max(ts) as last_ts
        from {{ ref('stg') }}
        group by entity_id
    """,
    "m_window": """
        select
            event_id,
            entity_id,
            row_number() over (partition by entity_id order by ts, event_id) as seq,
            lag(price) over (partition by entity_id order by ts, event_id) as prev_price,
            sum(qty) over (
                partition by entity_id order by ts, event_id
                rows between unbounded preceding and current row
            ) as running_qty
        from {{ ref('stg') }}
    """,
    "m_div": """
        select
            event_id,
            price / qty as unit_ratio,
            price * qty as line_total,
            qty // 2 as half_qty,
            qty / 2 as half_exact,
            round(price, 1) as price_1,
            price + 1 as price_plus,
            coalesce(price, 0) as price_or_zero,
            date_trunc('month', ts) as month,
            ts::date as day,
            extract(year from ts) as yr,
            ts - interval 1 day as day_before,
            1.5 as one_and_half
        from {{ ref('stg') }}
        where qty <> 0
    """,
    "m_cte": """
        with a as (
            select * from {{ ref('m_agg') }}
        ),
        w as (
            select entity_id, max(seq) as max_seq
            from {{ ref('m_window') }}
            group by all
        )
        select a.*, w.max_seq, coalesce(a.total_qty, 0) + w.max_seq as score
        from a
        join w using (entity_id)
    """,
    "m_union": """
        select entity_id, 'agg' as source, n::double as value from {{ ref('m_agg') }}
        union all
        select entity_id, 'window', running_qty from {{ ref('m_window') }}
    """,
    "m_groupall": """
        select
            category,
            count(distinct entity_id) as entities,
            string_agg(distinct category, ',') as cats,
            list(qty order by event_id) as qtys,
            bool_or(qty > 3) as any_big,
            {'n': count(*), 'top': max(price)} as stats,
            sum(price)::decimal(18, 2) as revenue
        from {{ ref('stg') }}
        group by all
    """,
    "events": """
        {{ config(materialized='table') }}
        select event_id, entity_id, category, qty, price, ts
        from {{ ref('stg') }}
    """,
    "summary": """
        select
            a.entity_id,
            a.n,
            a.total_qty::bigint as total_qty,
            a.avg_price,
            c.score::bigint as score
        from {{ ref('m_agg') }} as a
        left join {{ ref('m_cte') }} as c on c.entity_id = a.entity_id
    """,
}

STG_FROM_FILE = """
    select
        id::bigint as event_id,
        entity::bigint as entity_id,
        category,
        qty::integer as qty,
        price::decimal(18, 2) as price,
        ts::timestamp as ts
    from {{ input('raw') }}
"""
STG_FROM_PORT = """
    with up as (
        select * from {{ input('upstream') }}
    )
    select * from up where qty >= 0
"""
CROSS = """
    select
        s.entity_id,
        s.n,
        s.avg_price * 2 as double_avg,
        e.category,
        sum(e.qty) over (partition by s.entity_id) as entity_qty
    from {{ input('peer') }} as s
    join {{ ref('stg') }} as e using (entity_id)
"""


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).lstrip("\n")


def generate(root: Path, products: int = 12, rows: int = 30, seed: int = 3) -> Path:
    """Write the workspace under `root`; returns root. 12 products make 117 models."""
    rnd = random.Random(seed)
    files: dict[str, str] = {"dpsql.yml": "name: mesh\nwarehouse: wh.duckdb\nthreads: 1\n"}
    for i in range(products):
        name = f"p{i:02d}"
        folder = f"{DOMAINS[i % len(DOMAINS)]}/{name}"
        source = i % 4 == 0
        inputs = ""
        if source:
            lines = ["id,entity,category,qty,price,ts"]
            for row in range(1, rows + 1):
                ts = f"2024-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)} 1{rnd.randint(0, 9)}:00:00"
                lines.append(f"{row},{rnd.randint(1, 8)},{rnd.choice('abcd')},{rnd.randint(0, 9)},"
                             f"{rnd.randint(1, 9999) / 100:.2f},{ts}")
            files[f"data/raw_{name}.csv"] = "\n".join(lines) + "\n"
            inputs = f"  - name: raw\n    file: ../../data/raw_{name}.csv\n"
            files[f"{folder}/models/stg.sql"] = _dedent(STG_FROM_FILE)
        else:
            up = f"p{i - 1:02d}"
            inputs = (f"  - name: upstream\n    product: {up}\n    port: events\n    version: ^1\n"
                      "    columns:\n      - {name: qty, type: bigint}\n"
                      "      - {name: price, type: 'decimal(20,2)'}\n")
            peer = f"p{rnd.randrange(0, i):02d}"
            inputs += f"  - name: peer\n    product: {peer}\n    port: summary\n    version: '>=1.0'\n"
            files[f"{folder}/models/stg.sql"] = _dedent(STG_FROM_PORT)
            files[f"{folder}/models/m_cross.sql"] = _dedent(CROSS)
        for model, sql in MODELS.items():
            files[f"{folder}/models/{model}.sql"] = _dedent(sql)
        summary = "  - name: summary\n" + (
            "    columns:\n" + SUMMARY_CONTRACT if i % 2 == 0 else "")
        files[f"{folder}/product.yml"] = (
            f"name: {name}\ndomain: {DOMAINS[i % len(DOMAINS)]}\nversion: 1.{i}.0\n"
            f"inputs:\n{inputs}outputs:\n  - name: events\n    columns:\n{EVENTS_CONTRACT}{summary}")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
