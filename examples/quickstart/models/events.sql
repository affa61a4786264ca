-- One row per event, for Send Track. Events never change, so the mapping sends new rows only.
-- Columns that do not apply to an event are NULL (e.g. revenue on Signed Up).
SELECT
    event_id,
    user_id,
    event_name,
    occurred_at,
    signup_source,
    order_id,
    revenue,
    currency,
    product_count,
    plan,
    previous_plan
FROM events
