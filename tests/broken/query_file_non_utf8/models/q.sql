SELECT user_id, email -- café
FROM users
