-- ephemeral: inlined into the models that use it
{{ config(materialized='ephemeral') }}
select
    id as user_id,
    first_name,
    lower(email) as email,
    plan,
    cast(signed_up_at as date) as signed_up_at,
    deleted
from {{ ref('raw_users') }}
