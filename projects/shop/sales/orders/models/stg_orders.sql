-- Cleans the raw order file and keeps orders from var('start_date') on.
select
    order_id::bigint as order_id,
    customer_id::bigint as customer_id,
    order_date::date as order_date,
    lower(trim(status)) as status,
    {{ cents_to_dollars('amount_cents') }} as amount,
    nullif(trim(coupon_code), '') as coupon_code
from {{ input('raw_orders') }}
where order_date::date >= cast('{{ var("start_date") }}' as date)
