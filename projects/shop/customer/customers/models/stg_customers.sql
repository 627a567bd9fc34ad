-- Cleans the raw customer file: trims names, normalises emails and country codes.
select
    customer_id::bigint as customer_id,
    trim(first_name) as first_name,
    trim(last_name) as last_name,
    nullif(lower(trim(email)), '') as email,
    upper(trim(country)) as country_code,
    signup_date::date as signup_date
from {{ input('raw_customers') }}
