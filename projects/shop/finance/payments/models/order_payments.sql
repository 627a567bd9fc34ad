-- Feeds the `order_payments` port (the port's name defaults to this model's name).
-- Reads its sibling model in plain SQL (no Jinja).
select
    order_id,
    count(*) as payment_count,
    coalesce(sum(amount) filter (where amount > 0), 0)::decimal(18, 2) as gross_paid,
    coalesce(-sum(amount) filter (where amount < 0), 0)::decimal(18, 2) as refunded,
    sum(amount)::decimal(18, 2) as net_paid,
    max(paid_at) as last_paid_at
from stg_payments
group by order_id
