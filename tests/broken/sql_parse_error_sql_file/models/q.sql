-- active users
SELECT user_id, email
FROM users
WHERE (active
