{{ config(materialized='table') }}

-- Feeds the `orders` port: numbers each customer's orders in date order.
with cleaned as (
    select * from {{ ref('stg_orders') }}
),

sequenced as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by order_date, order_id
        ) as customer_order_seq
    from cleaned
)

select
    order_id,
    customer_id,
    order_date,
    status,
    {{ order_status_group('status') }} as status_group,
    amount,
    coupon_code,
    customer_order_seq,
    customer_order_seq = 1 as is_first_order
from sequenced
