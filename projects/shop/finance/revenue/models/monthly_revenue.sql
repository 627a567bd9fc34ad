{{ config(materialized='table') }}

-- Feeds the `monthly_revenue` port.
with by_month as (
    select
        {{ month_start('order_date') }} as month,
        count(*) as order_count,
        count(distinct customer_id) as customer_count,
        sum(gross_paid)::decimal(18, 2) as gross_revenue,
        sum(refunded)::decimal(18, 2) as refunds,
        sum(net_paid)::decimal(18, 2) as net_revenue
    from {{ ref('order_revenue') }}
    group by 1
)

select
    month,
    order_count,
    customer_count,
    gross_revenue,
    refunds,
    net_revenue,
    sum(net_revenue) over (
        order by month
        rows between unbounded preceding and current row
    )::decimal(18, 2) as cumulative_net_revenue
from by_month
