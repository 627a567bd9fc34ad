-- Internal: one row per order that was not cancelled, with the money collected for it.
-- Reads two other products' output ports in plain SQL (no Jinja); both are declared inputs.
select
    o.order_id,
    o.customer_id,
    o.order_date,
    o.status,
    coalesce(p.gross_paid, 0)::decimal(18, 2) as gross_paid,
    coalesce(p.refunded, 0)::decimal(18, 2) as refunded,
    coalesce(p.net_paid, 0)::decimal(18, 2) as net_paid
from orders.orders as o
left join payments.order_payments as p
    on p.order_id = o.order_id
where o.status <> 'cancelled'
