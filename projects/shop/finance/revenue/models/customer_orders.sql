-- Internal: what each customer bought, for finance's credit reviews. Orders returned or
-- cancelled do not count.
with kept as (
    select *
    from orders.orders
    where status_group <> 'lost'
)

select
    customer_id,
    count(*) as order_count,
    sum(amount)::decimal(18, 2) as lifetime_value,
    min(order_date) as first_order_date,
    max(order_date) as last_order_date
from kept
group by customer_id
