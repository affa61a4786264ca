select
    user_id,
    first_name,
    email,
    plan,
    signed_up_at
from {{ ref('stg_users') }}
where not deleted
