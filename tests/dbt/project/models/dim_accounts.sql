select
    account_id,
    account_name as name,
    tier
from {{ ref('raw_accounts') }}
