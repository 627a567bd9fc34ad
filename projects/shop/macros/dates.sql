{# First day of the month holding a date or timestamp, as a DATE. #}
{% macro month_start(col) -%}
    date_trunc('month', {{ col }})::date
{%- endmacro %}
