"""The tricky mesh: a generated workspace of five products (40 models) whose SQL uses the
constructs column lineage tends to get wrong, with small seeded data, for the perturbation
oracle (oracle.py).

    crm       customers (csv), events (parquet: a struct and two list columns)
    sales     orders, items, rates (csv)
    catalog   skus (csv)
    insights  reads crm, sales and catalog
    board     reads crm, sales, catalog and insights

Each port has a contract. OPTIONAL_MODELS holds the models dpsql may not accept yet (bare
top-level PIVOT and UNPIVOT: DP202 today); `write_mesh(optional=True)` adds them, and
`optional_supported()` tells whether the CLI accepts them.
"""

from __future__ import annotations

import datetime as dt
import random
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from oracle import SEED, write_csv, write_duckdb_file

from dpsql.cli.commands import main as dpsql_main

# Each product: its product.yml and {model name: SQL}.

# Each product: (folder, product.yml text, {model name: SQL}). Port contracts list every
# column with its DuckDB type.

_CRM_YML = """
name: crm
domain: customer
owner: crm@example.com
version: 1.0.0
inputs:
  - {name: raw_customers, file: ../data/customers.csv}
  - {name: raw_events, file: ../data/events.parquet}
outputs:
  - name: customers
    columns:
      - {name: customer_id, type: bigint}
      - {name: name, type: varchar}
      - {name: country, type: varchar}
      - {name: tier, type: varchar}
      - {name: signup_date, type: date}
      - {name: credit, type: bigint}
      - {name: credit_state, type: varchar}
      - {name: profile, type: 'struct(country varchar, tier varchar)'}
  - name: referrals
    columns:
      - {name: customer_id, type: bigint}
      - {name: name, type: varchar}
      - {name: referrer_name, type: varchar}
      - {name: referrer_tier, type: varchar}
  - name: events
    columns:
      - {name: event_id, type: bigint}
      - {name: customer_id, type: bigint}
      - {name: kind, type: varchar}
      - {name: value, type: integer}
      - {name: day, type: date}
      - {name: tag_count, type: bigint}
      - {name: score_total, type: hugeint}
      - {name: first_tag, type: varchar}
      - {name: payload, type: 'struct(kind varchar, "value" integer, "day" date)'}
  - name: event_tags
    columns:
      - {name: event_id, type: bigint}
      - {name: customer_id, type: bigint}
      - {name: tag, type: varchar}
  - name: event_scores
    columns:
      - {name: event_id, type: bigint}
      - {name: kind, type: varchar}
      - {name: score, type: integer}
  - name: event_fields
    columns:
      - {name: event_id, type: bigint}
      - {name: kind, type: varchar}
      - {name: value, type: integer}
      - {name: day, type: date}
"""

_CRM_MODELS = {
    "stg_customers": """
        select
            customer_id::bigint as customer_id,
            trim(name) as name,
            upper(country) as country,
            tier,
            signup_date::date as signup_date,
            credit::bigint as credit,
            referrer_id::bigint as referrer_id
        from {{ input('raw_customers') }}
    """,
    # a filter, if(), a struct built from two columns
    "customers": """
        select
            customer_id, name, country, tier, signup_date, credit,
            if(credit < 0, 'debtor', 'ok') as credit_state,
            struct_pack(country := country, tier := tier) as profile
        from stg_customers
        where signup_date >= date '2023-03-01'
    """,
    # a self-join, LEFT
    "referrals": """
        select c.customer_id, c.name, r.name as referrer_name, r.tier as referrer_tier
        from stg_customers as c
        left join stg_customers as r on c.referrer_id = r.customer_id
    """,
    "stg_events": """
        select event_id::bigint as event_id, customer_id::bigint as customer_id, payload, tags, scores
        from raw_events
    """,
    # struct fields, list functions, list indexing
    "events": """
        select
            event_id, customer_id,
            payload.kind as kind,
            payload.value as value,
            struct_extract(payload, 'day') as day,
            len(tags) as tag_count,
            list_sum(scores)::hugeint as score_total,
            tags[1] as first_tag,
            payload
        from stg_events
    """,
    # UNNEST in the select list
    "event_tags": """
        select event_id, customer_id, unnest(tags) as tag
        from stg_events
    """,
    # a lateral UNNEST
    "event_scores": """
        select e.event_id, e.payload.kind as kind, s.score
        from stg_events as e, unnest(e.scores) as s(score)
    """,
    # struct s.*
    "event_fields": """
        select event_id, payload.*
        from stg_events
    """,
}

_SALES_YML = """
name: sales
domain: sales
owner: sales@example.com
version: 1.2.0
inputs:
  - {name: raw_orders, file: ../data/orders.csv}
  - {name: raw_items, file: ../data/items.csv}
  - {name: raw_rates, file: ../data/rates.csv}
outputs:
  - name: orders
    columns:
      - {name: order_id, type: bigint}
      - {name: customer_id, type: bigint}
      - {name: order_date, type: date}
      - {name: status, type: varchar}
      - {name: amount, type: 'decimal(18,2)'}
      - {name: channel, type: varchar}
      - {name: running_amount, type: 'decimal(38,2)'}
      - {name: prev_order_date, type: date}
      - {name: seq, type: bigint}
  - name: order_lines
    columns:
      - {name: order_id, type: bigint}
      - {name: customer_id, type: bigint}
      - {name: order_date, type: date}
      - {name: sku, type: varchar}
      - {name: qty, type: integer}
      - {name: price, type: 'decimal(10,2)'}
      - {name: line_total, type: 'decimal(18,2)'}
  - name: orders_fx
    columns:
      - {name: order_id, type: bigint}
      - {name: amount, type: 'decimal(18,2)'}
      - {name: rate_date, type: date}
      - {name: fx, type: double}
      - {name: amount_eur, type: 'decimal(18,2)'}
  - name: daily
    columns:
      - {name: order_date, type: date}
      - {name: channel, type: varchar}
      - {name: n, type: bigint}
      - {name: total, type: 'decimal(38,2)'}
"""

_SALES_MODELS = {
    # WHERE
    "stg_orders": """
        select
            order_id::bigint as order_id,
            customer_id::bigint as customer_id,
            order_date::date as order_date,
            lower(status) as status,
            (amount / 100.0)::decimal(18, 2) as amount,
            channel
        from raw_orders
        where status <> 'void'
    """,
    # window functions: partition and order
    "orders": """
        select
            order_id, customer_id, order_date, status, amount, channel,
            sum(amount) over (partition by customer_id order by order_date, order_id) as running_amount,
            lag(order_date) over (partition by customer_id order by order_date, order_id) as prev_order_date,
            row_number() over (partition by customer_id order by order_date, order_id) as seq
        from stg_orders
    """,
    "stg_items": """
        select order_id::bigint as order_id, sku, qty::integer as qty, price::decimal(10, 2) as price
        from {{ input('raw_items') }}
    """,
    # an inner join
    "order_lines": """
        select
            i.order_id, o.customer_id, o.order_date, i.sku, i.qty, i.price,
            (i.qty * i.price)::decimal(18, 2) as line_total
        from stg_items as i
        join stg_orders as o on o.order_id = i.order_id
    """,
    "stg_rates": """
        select rate_date::date as rate_date, fx::double as fx
        from raw_rates
    """,
    # an ASOF LEFT join
    "orders_fx": """
        select
            o.order_id, o.amount, r.rate_date, r.fx,
            (o.amount * r.fx)::decimal(18, 2) as amount_eur
        from stg_orders as o
        asof left join stg_rates as r on o.order_date >= r.rate_date
    """,
    # GROUP BY ALL
    "daily": """
        select order_date, channel, count(*) as n, sum(amount) as total
        from stg_orders
        group by all
    """,
}

_CATALOG_YML = """
name: catalog
domain: product
owner: catalog@example.com
version: 2.0.0
inputs:
  - {name: raw_skus, file: ../data/skus.csv}
outputs:
  - name: sku_tree
    columns:
      - {name: sku, type: varchar}
      - {name: root_sku, type: varchar}
      - {name: depth, type: integer}
      - {name: path_cost, type: bigint}
  - name: skus
    columns:
      - {name: sku, type: varchar}
      - {name: category, type: varchar}
      - {name: cost, type: integer}
      - {name: root_sku, type: varchar}
      - {name: depth, type: integer}
"""

_CATALOG_MODELS = {
    "stg_skus": """
        select sku, category, parent_sku, cost::integer as cost
        from raw_skus
    """,
    # a recursive CTE
    "sku_tree": """
        with recursive tree (sku, root_sku, depth, path_cost) as (
            select sku, sku, 0, cost::bigint
            from stg_skus
            where parent_sku is null
            union all
            select s.sku, t.root_sku, t.depth + 1, t.path_cost + s.cost
            from stg_skus as s
            join tree as t on s.parent_sku = t.sku
            where t.depth < 6
        )
        select sku, root_sku, depth, path_cost
        from tree
    """,
    # a LEFT join with USING
    "skus": """
        select s.sku, s.category, s.cost, t.root_sku, t.depth
        from stg_skus as s
        left join sku_tree as t using (sku)
    """,
}

_INSIGHTS_YML = """
name: insights
domain: analytics
owner: insights@example.com
version: 0.4.0
inputs:
  - {name: customers, product: crm, port: customers, version: ^1}
  - {name: events, product: crm, port: events, version: ^1}
  - {name: orders, product: sales, port: orders, version: ^1.1}
  - {name: order_lines, product: sales, port: order_lines, version: ^1}
  - {name: orders_fx, product: sales, port: orders_fx, version: ^1}
  - {name: skus, product: catalog, port: skus, version: ^2}
outputs:
  - name: customer_orders
    columns:
      - {name: customer_id, type: bigint}
      - {name: name, type: varchar}
      - {name: tier, type: varchar}
      - {name: order_count, type: bigint}
      - {name: total, type: 'decimal(38,2)'}
      - {name: last_channel, type: varchar}
      - {name: amounts, type: 'decimal(18,2)[]'}
      - {name: statuses, type: varchar}
  - name: country_sales
    columns:
      - {name: country, type: varchar}
      - {name: channel, type: varchar}
      - {name: orders, type: bigint}
      - {name: revenue, type: 'decimal(38,2)'}
  - name: sales_cube
    columns:
      - {name: channel, type: varchar}
      - {name: status, type: varchar}
      - {name: level, type: bigint}
      - {name: revenue, type: 'decimal(38,2)'}
      - {name: n, type: bigint}
  - name: latest_order
    columns:
      - {name: customer_id, type: bigint}
      - {name: order_id, type: bigint}
      - {name: order_date, type: date}
      - {name: amount, type: 'decimal(18,2)'}
  - name: first_item
    columns:
      - {name: order_id, type: bigint}
      - {name: sku, type: varchar}
      - {name: category, type: varchar}
      - {name: price, type: 'decimal(10,2)'}
  - name: order_slots
    columns:
      - {name: order_id, type: bigint}
      - {name: sku, type: varchar}
      - {name: slot, type: bigint}
  - name: customer_scores
    columns:
      - {name: customer_id, type: bigint}
      - {name: tier, type: varchar}
      - {name: max_amount, type: 'decimal(18,2)'}
      - {name: avg_amount, type: double}
      - {name: action, type: varchar}
  - name: engagement
    columns:
      - {name: customer_id, type: bigint}
      - {name: events, type: bigint}
      - {name: event_value, type: hugeint}
      - {name: orders, type: bigint}
  - name: status_pivot
    columns:
      - {name: customer_id, type: bigint}
      - {name: open, type: 'decimal(38,2)'}
      - {name: shipped, type: 'decimal(38,2)'}
      - {name: done, type: 'decimal(38,2)'}
  - name: event_metrics
    columns:
      - {name: event_id, type: bigint}
      - {name: metric, type: varchar}
      - {name: val, type: double}
  - name: fx_columns
    columns:
      - {name: order_id, type: bigint}
      - {name: amount, type: 'decimal(18,2)'}
      - {name: amount_eur, type: 'decimal(18,2)'}
"""

_INSIGHTS_MODELS = {
    # a LEFT join over an aggregate; arg_max, list(... order by), string_agg(... order by)
    "customer_orders": """
        with per_customer as (
            select
                customer_id,
                count(*) as order_count,
                sum(amount) as total,
                arg_max(channel, order_id) as last_channel,
                list(amount order by order_date, order_id) as amounts,
                string_agg(status, ',' order by order_id) as statuses
            from sales.orders
            group by customer_id
        )
        select
            c.customer_id, c.name, c.tier,
            coalesce(p.order_count, 0) as order_count,
            p.total, p.last_channel, p.amounts, p.statuses
        from crm.customers as c
        left join per_customer as p on p.customer_id = c.customer_id
    """,
    # an inner join across products, GROUP BY ALL, HAVING
    "country_sales": """
        select c.country, o.channel, count(*) as orders, sum(o.amount) as revenue
        from sales.orders as o
        join crm.customers as c on c.customer_id = o.customer_id
        group by all
        having count(*) >= 2
    """,
    # GROUPING SETS and grouping()
    "sales_cube": """
        select
            channel, status,
            grouping(channel, status) as level,
            sum(amount) as revenue,
            count(*) as n
        from sales.orders
        group by grouping sets ((channel, status), (channel), ())
    """,
    # QUALIFY
    "latest_order": """
        select customer_id, order_id, order_date, amount
        from sales.orders
        qualify row_number() over (partition by customer_id order by order_date desc, order_id desc) = 1
    """,
    # DISTINCT ON, ORDER BY
    "first_item": """
        select distinct on (l.order_id) l.order_id, l.sku, s.category, l.price
        from sales.order_lines as l
        left join catalog.skus as s on s.sku = l.sku
        order by l.order_id, l.price desc, l.sku
    """,
    # a lateral table function
    "order_slots": """
        select l.order_id, l.sku, g.n as slot
        from sales.order_lines as l
        cross join lateral generate_series(1, l.qty) as g(n)
    """,
    # correlated and scalar subqueries, CASE
    "customer_scores": """
        select
            c.customer_id, c.tier,
            (select max(o.amount) from sales.orders as o where o.customer_id = c.customer_id) as max_amount,
            (select avg(amount) from sales.orders)::double as avg_amount,
            case
                when c.credit_state = 'debtor' then 'watch'
                when c.tier = 'gold' then 'keep'
                else 'grow'
            end as action
        from crm.customers as c
    """,
    # a FULL join of two aggregates
    "engagement": """
        with ev as (
            select customer_id, count(*) as events, sum(value)::hugeint as event_value
            from crm.events
            group by customer_id
        ),
        od as (
            select customer_id, count(*) as orders
            from sales.orders
            group by customer_id
        )
        select coalesce(ev.customer_id, od.customer_id) as customer_id, ev.events, ev.event_value, od.orders
        from ev
        full join od on ev.customer_id = od.customer_id
    """,
    # PIVOT wrapped in a CTE
    "status_pivot": """
        with pivoted as (
            pivot (select customer_id, status, amount from sales.orders)
            on status in ('open', 'shipped', 'done')
            using sum(amount)
            group by customer_id
        )
        select * from pivoted
    """,
    # UNPIVOT wrapped in a subquery
    "event_metrics": """
        select *
        from (
            unpivot (select event_id, value::double as value, score_total::double as score from crm.events)
            on value, score
            into name metric value val
        )
    """,
    # COLUMNS('re')
    "fx_columns": """
        select columns('^(order_id|amount.*)$')
        from sales.orders_fx
    """,
}

_BOARD_YML = """
name: board
domain: reporting
owner: board@example.com
version: 0.1.0
inputs:
  - {name: customers, product: crm, port: customers, version: ^1}
  - {name: events, product: crm, port: events, version: ^1}
  - {name: orders, product: sales, port: orders, version: ^1}
  - {name: skus, product: catalog, port: skus, version: ^2}
  - {name: customer_orders, product: insights, port: customer_orders, version: ^0.4}
  - {name: engagement, product: insights, port: engagement, version: ^0.4}
outputs:
  - name: kpis
    columns:
      - {name: order_rows, type: bigint}
  - name: flags
    columns:
      - {name: source, type: varchar}
      - {name: present, type: integer}
  - name: activity
    columns:
      - {name: customer_id, type: bigint}
      - {name: day, type: date}
      - {name: kind, type: varchar}
  - name: by_name
    columns:
      - {name: customer_id, type: bigint}
      - {name: value, type: 'decimal(38,2)'}
      - {name: src, type: varchar}
  - name: silent
    columns:
      - {name: customer_id, type: bigint}
  - name: both_sides
    columns:
      - {name: customer_id, type: bigint}
  - name: buyers
    columns:
      - {name: customer_id, type: bigint}
      - {name: name, type: varchar}
  - name: top_orders
    columns:
      - {name: order_id, type: bigint}
      - {name: customer_id, type: bigint}
      - {name: amount, type: 'decimal(18,2)'}
  - name: top_all
    columns:
      - {name: country, type: varchar}
      - {name: tier, type: varchar}
      - {name: name, type: varchar}
  - name: pairs
    columns:
      - {name: country, type: varchar}
      - {name: tier, type: varchar}
  - name: grid
    columns:
      - {name: customer_id, type: bigint}
      - {name: k, type: bigint}
"""

_BOARD_MODELS = {
    # count(*) from a port
    "kpis": """
        select count(*) as order_rows
        from sales.orders
    """,
    # a port read only for constants
    "flags": """
        select 'catalog' as source, 1 as present
        from catalog.skus
    """,
    # UNION ALL, a constant column in one branch
    "activity": """
        select customer_id, order_date as day, 'order' as kind
        from sales.orders
        union all
        select customer_id, day, kind
        from crm.events
    """,
    # UNION ALL BY NAME, branches in different column orders
    "by_name": """
        select customer_id, amount::decimal(38, 2) as value, 'order' as src
        from sales.orders
        union all by name
        select 'engagement' as src, event_value::decimal(38, 2) as value, customer_id
        from insights.engagement
    """,
    # EXCEPT
    "silent": """
        select customer_id from crm.customers
        except
        select customer_id from sales.orders
    """,
    # INTERSECT
    "both_sides": """
        select customer_id from crm.events
        intersect
        select customer_id from sales.orders
    """,
    # EXISTS and IN subqueries
    "buyers": """
        select c.customer_id, c.name
        from crm.customers as c
        where exists (
                select 1 from sales.orders as o
                where o.customer_id = c.customer_id and o.status = 'done'
            )
            or c.customer_id in (select customer_id from crm.events where kind = 'buy')
    """,
    # ORDER BY ... LIMIT
    "top_orders": """
        select order_id, customer_id, amount
        from sales.orders
        order by amount desc, order_id
        limit 5
    """,
    # ORDER BY ALL ... LIMIT
    "top_all": """
        select country, tier, name
        from crm.customers
        order by all
        limit 7
    """,
    # DISTINCT
    "pairs": """
        select distinct country, tier
        from crm.customers
    """,
    # range(x), lateral
    "grid": """
        select p.customer_id, r.range as k
        from insights.customer_orders as p, range(p.order_count) as r
    """,
}

# Models added only when dpsql accepts them (bare top-level PIVOT/UNPIVOT: DP202 today).
_OPTIONAL_YML = {
    "insights": """
  - name: status_pivot_bare
    columns:
      - {name: customer_id, type: bigint}
      - {name: open, type: 'decimal(38,2)'}
      - {name: shipped, type: 'decimal(38,2)'}
      - {name: done, type: 'decimal(38,2)'}
  - name: event_metrics_bare
    columns:
      - {name: event_id, type: bigint}
      - {name: metric, type: varchar}
      - {name: val, type: integer}
""",
}

OPTIONAL_MODELS: dict[str, dict[str, str]] = {
    "insights": {
        "status_pivot_bare": """
            pivot sales.orders
            on status in ('open', 'shipped', 'done')
            using sum(amount)
            group by customer_id
        """,
        "event_metrics_bare": """
            unpivot (select event_id, value, value * 2 as doubled from crm.events)
            on value, doubled
            into name metric value val
        """,
    },
}

MESH_PRODUCTS: dict[str, tuple[str, dict[str, str]]] = {
    "crm": (_CRM_YML, _CRM_MODELS),
    "sales": (_SALES_YML, _SALES_MODELS),
    "catalog": (_CATALOG_YML, _CATALOG_MODELS),
    "insights": (_INSIGHTS_YML, _INSIGHTS_MODELS),
    "board": (_BOARD_YML, _BOARD_MODELS),
}


def _mesh_tables(rng: random.Random) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The raw tables of the mesh: file name -> (columns, rows)."""
    day0 = dt.date(2023, 1, 1)
    first, last = ["Ada", "Bo", "Cy", "Di", "Ed", "Flo"], ["Ng", "Ruiz", "Koch", "Sato"]
    customers = []
    for cid in range(1, 41):
        referrer = rng.randint(1, cid - 1) if cid > 1 and rng.random() < 0.7 else None
        customers.append([
            cid,
            f"{rng.choice(first)} {rng.choice(last)}",
            rng.choice(["de", "fr", "us", "jp", "br"]),
            rng.choice(["gold", "silver", "bronze"]),
            day0 + dt.timedelta(days=rng.randint(0, 400)),
            rng.randint(-60, 240),
            referrer,
        ])
    # dates and amounts repeat, so that tie-breakers (order by x, order_id) show in the data
    orders = [[oid, rng.randint(1, 44), dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 45)),
               rng.choice(["open", "shipped", "done", "done", "void"]), 100 * rng.randint(2, 50),
               rng.choice(["web", "app", "shop"])] for oid in range(1, 61)]
    skus = []
    for i in range(1, 31):
        parent = f"S{rng.randint(1, i - 1):02d}" if i > 3 else None
        skus.append([f"S{i:02d}", rng.choice(["tools", "toys", "food"]), parent, rng.randint(50, 900)])
    items = [[rng.randint(1, 62), f"S{rng.randint(1, 32):02d}", rng.randint(1, 4),
              Decimal(rng.choice([199, 250, 499, 999, 1250])) / 100] for _ in range(60)]
    rates = [[dt.date(2024, 1, 10) + dt.timedelta(days=5 * i), round(rng.uniform(0.8, 1.2), 3)]
             for i in range(30)]
    events = []
    for eid in range(1, 41):
        payload = {"kind": rng.choice(["view", "click", "buy"]), "value": rng.randint(0, 100),
                   "day": dt.date(2024, 2, 1) + dt.timedelta(days=rng.randint(0, 90))}
        tags = rng.sample(["new", "promo", "mobile", "vip"], rng.randint(0, 3))
        scores = [rng.randint(1, 10) for _ in range(rng.randint(1, 4))]
        events.append([eid, rng.randint(1, 44), payload, tags, scores])
    return {
        "customers.csv": (["customer_id", "name", "country", "tier", "signup_date", "credit",
                           "referrer_id"], customers),
        "orders.csv": (["order_id", "customer_id", "order_date", "status", "amount", "channel"], orders),
        "items.csv": (["order_id", "sku", "qty", "price"], items),
        "rates.csv": (["rate_date", "fx"], rates),
        "skus.csv": (["sku", "category", "parent_sku", "cost"], skus),
        "events.parquet": (["event_id", "customer_id", "payload", "tags", "scores"], events),
    }


EVENTS_TYPES = ["BIGINT", "BIGINT", "STRUCT(kind VARCHAR, \"value\" INTEGER, \"day\" DATE)",
                "VARCHAR[]", "INTEGER[]"]


def write_mesh(root: Path, *, optional: bool = False) -> Path:
    """Write the tricky mesh into `root` (created); with `optional`, also the models dpsql
    may not accept yet (OPTIONAL_MODELS)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dpsql.yml").write_text("name: tricky_mesh\nwarehouse: warehouse.duckdb\n", encoding="utf-8")
    for product, (yml, models) in MESH_PRODUCTS.items():
        folder = root / product
        (folder / "models").mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(yml).lstrip("\n")
        all_models = dict(models)
        if optional and product in OPTIONAL_MODELS:
            text += _OPTIONAL_YML[product].lstrip("\n")
            all_models.update(OPTIONAL_MODELS[product])
        (folder / "product.yml").write_text(text, encoding="utf-8")
        for name, sql in all_models.items():
            (folder / "models" / f"{name}.sql").write_text(
                textwrap.dedent(sql).strip() + "\n", encoding="utf-8")
    data = root / "data"
    data.mkdir(exist_ok=True)
    for name, (columns, rows) in _mesh_tables(random.Random(SEED)).items():
        if name.endswith(".csv"):
            write_csv(data / name, columns, [[_csv_text(v) for v in row] for row in rows])
        else:
            write_duckdb_file(data / name, columns, EVENTS_TYPES, rows)
    return root


def model_count(*, optional: bool = False) -> int:
    n = sum(len(models) for _, models in MESH_PRODUCTS.values())
    return n + (sum(len(m) for m in OPTIONAL_MODELS.values()) if optional else 0)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def optional_supported(work: Path) -> bool:
    """Whether `dpsql check` accepts the mesh with OPTIONAL_MODELS (written under `work`)."""
    root = write_mesh(work / "optional_probe", optional=True)
    return CliRunner().invoke(dpsql_main, ["check", "-p", str(root)]).exit_code == 0

