-- One row per company, for Send Group. owner_user_id is the user the group call is made for
-- (Segment needs a user or anonymous id on every group call).
SELECT
    account_id,
    owner_user_id,
    name,
    domain,
    industry,
    plan,
    country,
    employees,
    seats,
    mrr,
    created_at,
    updated_at
FROM accounts
