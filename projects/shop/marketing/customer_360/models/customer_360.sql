{{ config(materialized='table') }}

-- Feeds the `customer_360` port.
with kept_orders as (
    select *
    from {{ input('orders') }}
    where status_group <> 'lost'
),

per_customer as (
    select
        customer_id,
        count(*) as order_count,
        sum(amount)::decimal(18, 2) as lifetime_value,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from kept_orders
    group by customer_id
),

profiles as (
    select
        c.customer_id,
        c.full_name,
        c.email,
        c.region,
        coalesce(pc.order_count, 0) as order_count,
        coalesce(pc.lifetime_value, 0)::decimal(18, 2) as lifetime_value,
        pc.first_order_date,
        pc.last_order_date
    from {{ ref('customers', 'customers') }} as c
    left join per_customer as pc
        on pc.customer_id = c.customer_id
)

select
    *,
    case
        when order_count = 0 then 'prospect'
        when lifetime_value >= 1000 then 'vip'
        when order_count >= 2 then 'repeat'
        else 'one_time'
    end as segment,
    row_number() over (order by lifetime_value desc, customer_id) as value_rank
from profiles
