{# Integer cents in the raw files -> exact dollars. #}
{% macro cents_to_dollars(col) -%}
    round({{ col }} / 100.0, 2)::decimal(18, 2)
{%- endmacro %}
