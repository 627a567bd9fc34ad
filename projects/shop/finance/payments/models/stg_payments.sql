-- Cleans the raw payment file.
select
    payment_id::bigint as payment_id,
    order_id::bigint as order_id,
    lower(trim(payment_method)) as payment_method,
    {{ cents_to_dollars('amount_cents') }} as amount,
    paid_at::timestamp as paid_at
from {{ input('raw_payments') }}
