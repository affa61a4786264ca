SELECT user_id FROM users
