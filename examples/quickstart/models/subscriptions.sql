-- One row per person with their email and SMS subscription statuses, for Send Subscriptions.
-- Statuses use Segment's words: subscribed, unsubscribed, did_not_subscribe.
-- phone and sms_status are NULL for people who never gave a phone number.
SELECT
    u.user_id,
    email_sub.address AS email,
    email_sub.status AS email_status,
    sms_sub.address AS phone,
    sms_sub.status AS sms_status,
    newsletter.status AS newsletter_status,
    product_updates.status AS product_updates_status,
    greatest(email_sub.updated_at, coalesce(sms_sub.updated_at, email_sub.updated_at)) AS updated_at
FROM users AS u
JOIN subscriptions AS email_sub
    ON email_sub.user_id = u.user_id AND email_sub.channel = 'email'
LEFT JOIN subscriptions AS sms_sub
    ON sms_sub.user_id = u.user_id AND sms_sub.channel = 'sms'
LEFT JOIN email_subscription_groups AS newsletter
    ON newsletter.user_id = u.user_id AND newsletter.group_name = 'newsletter'
LEFT JOIN email_subscription_groups AS product_updates
    ON product_updates.user_id = u.user_id AND product_updates.group_name = 'product_updates'
