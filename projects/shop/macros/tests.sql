-- Custom generic tests: used in product.yml by name, like not_null or unique.

{% test not_negative(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0
{% endtest %}
