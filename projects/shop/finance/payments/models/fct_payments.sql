{{ config(materialized='table') }}

-- Feeds the `payments` port.
select
    payment_id,
    order_id,
    payment_method,
    amount,
    amount < 0 as is_refund,
    paid_at
from {{ ref('stg_payments') }}
