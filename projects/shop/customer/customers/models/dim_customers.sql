-- Feeds the `customers` port. Reads its sibling model in plain SQL (no Jinja).
select
    customer_id,
    first_name || ' ' || last_name as full_name,
    email,
    country_code,
    case
        when country_code in ('US', 'CA') then 'NA'
        when country_code in ('GB', 'DE', 'FR', 'NL', 'ES') then 'EU'
        when country_code in ('AU', 'JP') then 'APAC'
        else 'LATAM'
    end as region,
    signup_date
from stg_customers
