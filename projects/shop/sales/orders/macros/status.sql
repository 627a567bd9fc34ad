{# Buckets an order status; visible to the orders product only. #}
{% macro order_status_group(col) -%}
    case
        when {{ col }} in ('placed', 'shipped') then 'open'
        when {{ col }} = 'completed' then 'fulfilled'
        else 'lost'
    end
{%- endmacro %}
