-- One row per person, for Send Identify. Every column here can be mapped as a trait.
SELECT
    user_id,
    account_id,
    email,
    first_name,
    last_name,
    phone,
    plan,
    country,
    is_active,
    orders_count,
    lifetime_value,
    created_at,
    updated_at
FROM users
