-- Every customer with orders has exactly one first order, and it is their earliest.
with firsts as (
    select
        customer_id,
        count(*) filter (where is_first_order) as first_orders,
        min(order_date) as earliest,
        min(order_date) filter (where is_first_order) as first_order_date
    from {{ ref('fct_orders') }}
    group by customer_id
)

select *
from firsts
where first_orders <> 1 or first_order_date <> earliest
