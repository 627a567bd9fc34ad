"""A small dbt project written for the import tests, and the same SQL written by hand without
Jinja (the oracle): two business areas (sales, crm), each with staging and marts folders;
seeds (one gzip-compressed, one with column_types), a source read from a file through
dbt-duckdb's external_location, a local package with namespaced and dispatched macros, a
versioned model, `{% do %}` and `return()`, folder-level materializations, a dbt group with
an owner, and schema.yml tests of every kind dpsql runs natively: on ports and internal models,
on a seed and a source, `severity: warn`, `where:`, `enabled: false`, custom generic tests (of
the project's macros, its tests/generic/ folder and the package, one with an extra argument),
and a relationships test towards another product's internal model. TEST_ORACLE says, for each
test, the query whose rows are its failures, written by hand over the relations of ORACLE."""

from __future__ import annotations

import gzip
from pathlib import Path

from tests.conftest import write_files

ORDERS_CSV = """\
id,customer_id,ordered_on,status,amount_cents
1,1,2024-01-03,shipped,1250
2,1,2024-01-09,placed,990
3,2,2024-02-01,shipped,30000
4,3,2024-02-11,returned,450
5,2,2024-03-05,shipped,7025
"""

FILES: dict[str, str] = {
    "shop/dbt_project.yml": """
        name: shopco
        version: '1.0'
        profile: shopco
        model-paths: [models]
        seed-paths: [seeds]
        vars:
          min_cents: 0
        models:
          shopco:
            +materialized: view
            marts:
              +materialized: table
        seeds:
          shopco:
            raw_customers:
              +column_types: {since: varchar}
    """,
    "shop/packages.yml": """
        packages:
          - local: ../kit
    """,
    "kit/dbt_project.yml": "name: kit\nversion: '1.0'\nmacro-paths: [macros]\n",
    "kit/macros/keys.sql": """
        {% macro key(columns) %}md5(concat_ws('|', {{ columns | join(', ') }})){% endmacro %}
        {% macro dollars(col) %}{{ return(adapter.dispatch('dollars', 'kit')(col)) }}{% endmacro %}
        {% macro default__dollars(col) %}round({{ col }} / 100.0, 2){% endmacro %}
    """,
    "kit/macros/checks.sql": """
        {% test positive(model, column_name) %}
          select * from {{ model }} where {{ column_name }} <= 0
        {% endtest %}
        {% macro pct(x) %}round(100.0 * {{ x }}, 1){% endmacro %}
    """,
    "shop/macros/tests.sql": """
        {% test at_least(model, column_name, value) %}
          select * from {{ model }} where {{ column_name }} < {{ value }}
        {% endtest %}
    """,
    "shop/tests/generic/has_rows.sql": """
        {% test has_rows(model, n) %}
          select count(*) as n_rows from {{ model }} having count(*) < {{ n }}
        {% endtest %}
    """,
    "shop/seeds/properties.yml": """
        version: 2
        seeds:
          - name: raw_customers
            columns:
              - name: id
                data_tests: [unique, kit.positive]
              - name: region
                data_tests: [{accepted_values: {values: [north, south]}}]
    """,
    "shop/macros/lists.sql": """
        {% macro statuses() %}
          {% set found = [] %}
          {% for s in ['placed', 'shipped'] %}{% do found.append("'" ~ s ~ "'") %}{% endfor %}
          {{ return(found) }}
        {% endmacro %}
    """,
    "shop/seeds/raw_customers.csv": "id,name,region,since\n1,Ann,north,2020\n2,Bo,south,2021\n"
                                    "3,Cy,north,2023\n",
    "shop/data/payments.csv": "payment_id,order_id,method\n10,1,card\n11,2,card\n12,3,bank\n"
                              "13,5,card\n",
    "shop/models/staging/sales/sources.yml": """
        version: 2
        sources:
          - name: shop
            meta: {external_location: "data/{name}.csv"}
            tables:
              - name: payments
                description: Payments, one per order.
                columns:
                  - name: payment_id
                    data_tests: [not_null]
                  - name: method
                    data_tests:
                      - accepted_values: {values: [card], severity: warn}
    """,
    "shop/models/staging/sales/schema.yml": """
        version: 2
        models:
          - name: stg_orders
            columns:
              - name: status
                data_tests:
                  - accepted_values:
                      arguments: {values: [placed, shipped]}
                      config: {severity: warn, store_failures: true}
              - name: customer_id
                data_tests:
                  - relationships: {arguments: {to: "ref('stg_customers')", field: customer_id}}
          - name: stg_payments
            columns:
              - name: method
                data_tests: [{unique: {config: {enabled: false}}}]
              - name: payment_id
                data_tests:
                  - relationships: {to: "source('shop', 'payments')", field: payment_id}
    """,
    "shop/models/staging/crm/schema.yml": """
        version: 2
        models:
          - name: stg_customers
            data_tests: [{has_rows: {n: 3}}, {has_rows: {n: 4, config: {severity: warn}}}]
    """,
    "shop/models/staging/sales/stg_orders.sql": """
        select id as order_id, customer_id, ordered_on, status, amount_cents
        from {{ ref('raw_orders') }}
        where amount_cents >= {{ var('min_cents') }}
    """,
    "shop/models/staging/sales/stg_payments.sql": """
        select payment_id, order_id, method from {{ source('shop', 'payments') }}
    """,
    "shop/models/staging/crm/stg_customers.sql": """
        select id as customer_id, name, region, since from {{ ref('raw_customers') }}
    """,
    "shop/models/marts/sales/fct_orders.sql": """
        select o.order_id, o.customer_id, o.ordered_on, o.status,
               {{ kit.dollars('o.amount_cents') }} as amount,
               p.method,
               {{ kit.key(['o.order_id', 'o.customer_id']) }} as order_key
        from {{ ref('stg_orders') }} as o
        left join {{ ref('stg_payments') }} as p on p.order_id = o.order_id
    """,
    "shop/models/marts/sales/order_summary.sql": """
        {{ config(materialized='ephemeral') }}
        select status, count(*) as orders, sum(amount) as amount
        from {{ ref('fct_orders') }}
        where status in ({{ statuses() | join(', ') }})
        group by status
    """,
    "shop/models/marts/sales/schema.yml": """
        version: 2
        groups:
          - name: finance
            owner: {name: Finance, email: finance@example.com}
        models:
          - name: fct_orders
            description: One row per order.
            columns:
              - name: order_id
                description: The order.
                data_tests: [unique, not_null]
              - name: status
                data_tests:
                  - accepted_values:
                      arguments:
                        values: [placed, shipped, returned]
              - name: amount
                data_tests:
                  - at_least:
                      arguments: {value: 5}
                      config: {where: "status <> 'returned'"}
          - name: order_summary
            config: {group: finance, access: public}
    """,
    "shop/models/marts/crm/dim_customers_v1.sql": """
        select customer_id, name from {{ ref('stg_customers') }}
    """,
    "shop/models/marts/crm/dim_customers_v2.sql": """
        select customer_id, name, region, since from {{ ref('stg_customers') }}
    """,
    "shop/models/marts/crm/customer_value.sql": """
        select c.customer_id, c.region, count(o.order_id) as orders,
               coalesce(sum(o.amount), 0) as amount
        from {{ ref('dim_customers', v=2) }} as c
        left join {{ ref('fct_orders') }} as o on o.customer_id = c.customer_id
        group by c.customer_id, c.region
    """,
    "shop/models/marts/crm/segments.sql": """
        {% set regions = [] %}
        {% do regions.append('north') %}
        select region, count(*) as customers
        from {{ ref('dim_customers') }}
        where region in ('{{ regions | join("', '") }}')
        group by region
    """,
    "shop/tests/assert_no_order_without_customer.sql": """
        select o.* from {{ ref('fct_orders') }} as o
        where o.customer_id not in (select id from {{ ref('raw_customers') }})
    """,
    "shop/models/marts/crm/schema.yml": """
        version: 2
        models:
          - name: dim_customers
            latest_version: 2
            versions: [{v: 1}, {v: 2}]
            columns:
              - name: customer_id
                tests: [not_null]
          - name: customer_value
            columns:
              - name: customer_id
                tests:
                  - relationships: {to: "ref('dim_customers_v2')", field: customer_id}
    """,
}

# the same models by hand, reading relations by their dbt names: the oracle
ORACLE: dict[str, str] = {
    "raw_orders": "select * from read_csv('{seeds}/raw_orders.csv.gz', types := "
                  "{{'id': 'INTEGER', 'customer_id': 'INTEGER', 'amount_cents': 'INTEGER'}})",
    "raw_customers": "select * from read_csv('{seeds}/raw_customers.csv', types := "
                     "{{'id': 'INTEGER', 'since': 'VARCHAR'}})",
    "payments": "select * from read_csv('{root}/data/payments.csv')",
    "stg_orders": "select id as order_id, customer_id, ordered_on, status, amount_cents "
                  "from raw_orders where amount_cents >= 0",
    "stg_payments": "select payment_id, order_id, method from payments",
    "stg_customers": "select id as customer_id, name, region, since from raw_customers",
    "fct_orders": "select o.order_id, o.customer_id, o.ordered_on, o.status, "
                  "round(o.amount_cents / 100.0, 2) as amount, p.method, "
                  "md5(concat_ws('|', o.order_id, o.customer_id)) as order_key "
                  "from stg_orders o left join stg_payments p on p.order_id = o.order_id",
    "order_summary": "select status, count(*) as orders, sum(amount) as amount from fct_orders "
                     "where status in ('placed', 'shipped') group by status",
    "dim_customers_v1": "select customer_id, name from stg_customers",
    "dim_customers_v2": "select customer_id, name, region, since from stg_customers",
    "customer_value": "select c.customer_id, c.region, count(o.order_id) as orders, "
                      "coalesce(sum(o.amount), 0) as amount from dim_customers_v2 c "
                      "left join fct_orders o on o.customer_id = c.customer_id "
                      "group by c.customer_id, c.region",
    "segments": "select region, count(*) as customers from dim_customers_v2 "
                "where region in ('north') group by region",
}


# each test dpsql runs: where it is declared, its column, its kind, a query over the relations
# of ORACLE whose rows are its failures, and its severity; `enabled: false` ones are absent
TEST_ORACLE: list[tuple[str, str | None, str, str, str]] = [
    ("raw_customers", "id", "unique",
     "select id from raw_customers group by id having count(*) > 1", "error"),
    ("raw_customers", "id", "positive", "select * from raw_customers where id <= 0", "error"),
    ("raw_customers", "region", "accepted_values",
     "select * from raw_customers where region not in ('north', 'south')", "error"),
    ("payments", "payment_id", "not_null",
     "select * from payments where payment_id is null", "error"),
    ("payments", "method", "accepted_values",
     "select method from payments where method not in ('card') group by method", "warn"),
    ("stg_orders", "status", "accepted_values",
     "select status from stg_orders where status not in ('placed', 'shipped') group by status",
     "warn"),
    ("stg_orders", "customer_id", "relationships",
     "select customer_id from stg_orders where customer_id not in "
     "(select customer_id from stg_customers) group by customer_id", "error"),
    ("stg_payments", "payment_id", "relationships",
     "select payment_id from stg_payments where payment_id not in "
     "(select payment_id from payments) group by payment_id", "error"),
    ("stg_customers", None, "has_rows",
     "select count(*) from stg_customers having count(*) < 3", "error"),
    ("stg_customers", None, "has_rows",
     "select count(*) from stg_customers having count(*) < 4", "warn"),
    ("fct_orders", "order_id", "unique",
     "select order_id from fct_orders group by order_id having count(*) > 1", "error"),
    ("fct_orders", "order_id", "not_null",
     "select * from fct_orders where order_id is null", "error"),
    ("fct_orders", "status", "accepted_values",
     "select * from fct_orders where status not in ('placed', 'shipped', 'returned')", "error"),
    ("fct_orders", "amount", "at_least",
     "select * from fct_orders where status <> 'returned' and amount < 5", "error"),
    ("dim_customers_v1", "customer_id", "not_null",
     "select * from dim_customers_v1 where customer_id is null", "error"),
    ("dim_customers_v2", "customer_id", "not_null",
     "select * from dim_customers_v2 where customer_id is null", "error"),
    ("customer_value", "customer_id", "relationships",
     "select customer_id from customer_value where customer_id not in "
     "(select customer_id from dim_customers_v2) group by customer_id", "error"),
]


def write_dbt_project(base: Path) -> Path:
    """The fixture under `base`: the dbt project in base/shop, its local package in base/kit."""
    write_files(base, FILES)
    (base / "shop" / "seeds" / "raw_orders.csv.gz").write_bytes(gzip.compress(ORDERS_CSV.encode()))
    return base / "shop"
