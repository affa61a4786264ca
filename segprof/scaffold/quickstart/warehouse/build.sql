-- The quickstart demo warehouse: a small B2B SaaS company in DuckDB.
--
--   accounts                   300 companies; each has an owner user
--   users                   12,000 people, each belonging to one account
--   events                 ~49,000 Signed Up / Order Completed / Plan Upgraded events
--   subscriptions          ~19,600 email and SMS subscription statuses
--   email_subscription_groups  24,000 statuses for the newsletter and product_updates groups
--
-- Every value is integer arithmetic on range(): no random(), now() or hash(), so the same rows
-- come out on every machine and DuckDB version. Timestamps are UTC and end before 2025-06-30.
-- Edit freely; `segprof init --warehouse-only --force .` rebuilds warehouse.duckdb from this file.

CREATE OR REPLACE TABLE accounts (
    account_id    VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    domain        VARCHAR NOT NULL,
    industry      VARCHAR NOT NULL,
    plan          VARCHAR NOT NULL,          -- free | starter | pro | enterprise
    country       VARCHAR NOT NULL,          -- ISO 3166-1 alpha-2
    employees     INTEGER NOT NULL,
    seats         INTEGER NOT NULL,          -- users in the account
    mrr           DECIMAL(10, 2) NOT NULL,   -- monthly recurring revenue, USD
    owner_user_id VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE OR REPLACE TABLE users (
    user_id        VARCHAR PRIMARY KEY,
    account_id     VARCHAR NOT NULL,
    email          VARCHAR NOT NULL,
    first_name     VARCHAR NOT NULL,
    last_name      VARCHAR NOT NULL,
    phone          VARCHAR,                  -- E.164; NULL when never given
    plan           VARCHAR NOT NULL,
    country        VARCHAR NOT NULL,
    is_active      BOOLEAN NOT NULL,
    orders_count   INTEGER NOT NULL,
    lifetime_value DECIMAL(12, 2) NOT NULL,  -- sum of completed orders, USD
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

CREATE OR REPLACE TABLE events (
    event_id      VARCHAR PRIMARY KEY,
    user_id       VARCHAR NOT NULL,
    account_id    VARCHAR NOT NULL,
    event_name    VARCHAR NOT NULL,          -- Signed Up | Order Completed | Plan Upgraded
    occurred_at   TIMESTAMP NOT NULL,
    signup_source VARCHAR,                   -- Signed Up
    order_id      VARCHAR,                   -- Order Completed
    revenue       DECIMAL(10, 2),            -- Order Completed, USD
    currency      VARCHAR,                   -- Order Completed
    product_count INTEGER,                   -- Order Completed
    plan          VARCHAR,                   -- Signed Up, Plan Upgraded
    previous_plan VARCHAR                    -- Plan Upgraded
);

CREATE OR REPLACE TABLE subscriptions (
    subscription_id VARCHAR PRIMARY KEY,
    user_id         VARCHAR NOT NULL,
    channel         VARCHAR NOT NULL,        -- email | sms
    address         VARCHAR NOT NULL,        -- the email address or phone number
    status          VARCHAR NOT NULL,        -- subscribed | unsubscribed | did_not_subscribe
    updated_at      TIMESTAMP NOT NULL
);

CREATE OR REPLACE TABLE email_subscription_groups (
    user_id    VARCHAR NOT NULL,
    group_name VARCHAR NOT NULL,             -- newsletter | product_updates
    status     VARCHAR NOT NULL,             -- subscribed | unsubscribed | did_not_subscribe
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, group_name)
);

-- Accounts before their derived columns (seats, mrr, owner), which need the users.
CREATE OR REPLACE TEMP TABLE account_seed AS
WITH n AS (
    SELECT range AS i FROM range(1, 301)
), named AS (
    SELECT
        i,
        ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne', 'Wonka',
         'Tyrell', 'Cyberdyne', 'Soylent', 'Aperture', 'Massive', 'Pied Piper', 'Dunder', 'Prestige',
         'Monarch', 'Sterling', 'Oceanic'][1 + (i - 1) % 20] AS brand,
        ['Labs', 'Systems', 'Group', 'Industries', 'Partners', 'Analytics', 'Foods', 'Logistics',
         'Media', 'Health', 'Robotics', 'Capital', 'Studios', 'Energy', 'Networks'][1 + (i - 1) // 20] AS kind,
        CASE
            WHEN (i * 37) % 20 < 8 THEN 'free'
            WHEN (i * 37) % 20 < 14 THEN 'starter'
            WHEN (i * 37) % 20 < 18 THEN 'pro'
            ELSE 'enterprise'
        END AS plan,
        TIMESTAMP '2022-01-03 09:00:00' + INTERVAL (i * 172800 + (i * 7919) % 36000) SECOND AS created_at
    FROM n
)
SELECT
    i,
    'acct_' || lpad(i::VARCHAR, 4, '0') AS account_id,
    brand || ' ' || kind AS name,
    lower(replace(brand, ' ', '')) || '-' || lower(kind) || '.example' AS domain,
    ['Software', 'Retail', 'Healthcare', 'Financial Services', 'Manufacturing', 'Media',
     'Education', 'Logistics'][1 + (i * 7) % 8] AS industry,
    plan,
    ['US', 'US', 'US', 'GB', 'DE', 'FR', 'CA', 'AU', 'NL', 'SE', 'BR', 'JP'][1 + (i * 11) % 12] AS country,
    CASE plan
        WHEN 'free' THEN 2 + (i * 7919) % 19
        WHEN 'starter' THEN 10 + (i * 7919) % 91
        WHEN 'pro' THEN 50 + (i * 7919) % 451
        ELSE 500 + (i * 7919) % 9501
    END AS employees,
    created_at
FROM named;

-- Users: the first 300 are the account owners (user i owns account i); the rest spread over the
-- accounts so that sizes vary.
CREATE OR REPLACE TEMP TABLE user_seed AS
WITH n AS (
    SELECT
        range AS i,
        CASE
            WHEN range <= 300 THEN range
            -- (v/10007)^2 spreads users unevenly: low-numbered accounts get hundreds, the last a few.
            ELSE 1 + (300 * ((range * 7919) % 10007) * ((range * 7919) % 10007)) // (10007 * 10007)
        END AS account_i
    FROM range(1, 12001)
), named AS (
    SELECT
        n.i,
        a.account_id,
        a.domain,
        a.plan,
        a.country AS account_country,
        a.created_at AS account_created_at,
        ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Radia', 'Dennis',
         'Frances', 'John', 'Katherine', 'Linus', 'Hedy', 'Tim', 'Sophie', 'Guido', 'Anita', 'Bjarne',
         'Shafi', 'Niklaus', 'Jean', 'Vint', 'Adele', 'Leslie', 'Karen', 'Whitfield', 'Evelyn', 'Brian',
         'Mary', 'Robin', 'Lynn', 'Yukihiro', 'Joan', 'Andrew', 'Carol', 'Rasmus', 'Ruth', 'James'][1 + (n.i * 7) % 40] AS first_name,
        ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Perlman',
         'Ritchie', 'Allen', 'McCarthy', 'Johnson', 'Torvalds', 'Lamarr', 'Berners-Lee', 'Wilson', 'van Rossum',
         'Borg', 'Stroustrup', 'Goldwasser', 'Wirth', 'Bartik', 'Cerf', 'Goldberg', 'Lamport', 'Jones',
         'Diffie', 'Boyd', 'Kernighan', 'Keller', 'Milner', 'Conway', 'Matsumoto', 'Clarke', 'Tanenbaum',
         'Shaw', 'Lerdorf', 'Teitelbaum', 'Gosling', 'Backus', 'Floyd', 'Hoare', 'Kay', 'Engelbart',
         'Sutherland', 'Nygaard', 'Dahl', 'Codd', 'Gray'][1 + (n.i * 13) % 50] AS last_name
    FROM n
    JOIN account_seed AS a ON a.i = n.account_i
)
SELECT
    i,
    'usr_' || lpad(i::VARCHAR, 6, '0') AS user_id,
    account_id,
    lower(replace(replace(first_name, ' ', ''), '-', '')) || '.'
        || lower(replace(replace(last_name, ' ', ''), '-', '')) || '.' || i::VARCHAR || '@' || domain AS email,
    first_name,
    last_name,
    CASE WHEN (i * 17) % 11 < 7 THEN '+1555' || lpad(i::VARCHAR, 7, '0') END AS phone,
    plan,
    CASE WHEN (i * 19) % 10 < 8 THEN account_country
         ELSE ['US', 'GB', 'DE', 'FR', 'CA', 'IN', 'ES', 'MX'][1 + (i * 23) % 8] END AS country,
    (i * 29) % 13 < 10 AS is_active,
    account_created_at + CASE
        WHEN i <= 300 THEN INTERVAL ((i * 37) % 3600) SECOND
        ELSE INTERVAL ((i * 7919) % (86400 * 300)) SECOND
    END AS created_at
FROM named;

INSERT INTO events
WITH signed_up AS (
    SELECT
        'evt_' || lpad(i::VARCHAR, 6, '0') || '_s0' AS event_id,
        user_id,
        account_id,
        'Signed Up' AS event_name,
        created_at AS occurred_at,
        ['organic', 'paid_search', 'referral', 'partner'][1 + (i * 3) % 4] AS signup_source,
        NULL::VARCHAR AS order_id,
        NULL::DECIMAL(10, 2) AS revenue,
        NULL::VARCHAR AS currency,
        NULL::INTEGER AS product_count,
        CASE WHEN i % 9 = 0 AND plan = 'starter' THEN 'free'
             WHEN i % 9 = 0 AND plan = 'pro' THEN 'starter'
             WHEN i % 9 = 0 AND plan = 'enterprise' THEN 'pro'
             ELSE plan END AS plan,
        NULL::VARCHAR AS previous_plan
    FROM user_seed
), orders AS (
    SELECT
        'evt_' || lpad(u.i::VARCHAR, 6, '0') || '_o' || k.n::VARCHAR AS event_id,
        u.user_id,
        u.account_id,
        'Order Completed' AS event_name,
        u.created_at + INTERVAL (86400 * (2 + k.n * 41 + (u.i * 7 + k.n * 13) % 30) + (u.i * 31) % 86400) SECOND
            AS occurred_at,
        NULL::VARCHAR AS signup_source,
        'ord_' || lpad((u.i * 10 + k.n)::VARCHAR, 8, '0') AS order_id,
        ((500 + (u.i * 7919 + k.n * 104729) % 39500)::DECIMAL(12, 0) * 0.01)::DECIMAL(10, 2) AS revenue,
        'USD' AS currency,
        (1 + (u.i + k.n * 3) % 5)::INTEGER AS product_count,
        NULL::VARCHAR AS plan,
        NULL::VARCHAR AS previous_plan
    FROM user_seed AS u
    JOIN (SELECT range AS n FROM range(0, 6)) AS k ON k.n < (u.i * 13) % 7
), upgrades AS (
    SELECT
        'evt_' || lpad(i::VARCHAR, 6, '0') || '_u0' AS event_id,
        user_id,
        account_id,
        'Plan Upgraded' AS event_name,
        created_at + INTERVAL (86400 * (20 + i % 40) + (i * 53) % 86400) SECOND AS occurred_at,
        NULL::VARCHAR AS signup_source,
        NULL::VARCHAR AS order_id,
        NULL::DECIMAL(10, 2) AS revenue,
        NULL::VARCHAR AS currency,
        NULL::INTEGER AS product_count,
        plan,
        CASE plan WHEN 'starter' THEN 'free' WHEN 'pro' THEN 'starter' ELSE 'pro' END AS previous_plan
    FROM user_seed
    WHERE i % 9 = 0 AND plan <> 'free'
)
SELECT * FROM signed_up
UNION ALL SELECT * FROM orders
UNION ALL SELECT * FROM upgrades
ORDER BY event_id;

INSERT INTO users
WITH activity AS (
    SELECT
        user_id,
        count(order_id)::INTEGER AS orders_count,
        coalesce(sum(revenue), 0)::DECIMAL(12, 2) AS lifetime_value,
        max(occurred_at) AS last_event_at
    FROM events
    GROUP BY user_id
)
SELECT
    u.user_id,
    u.account_id,
    u.email,
    u.first_name,
    u.last_name,
    u.phone,
    u.plan,
    u.country,
    u.is_active,
    a.orders_count,
    a.lifetime_value,
    u.created_at,
    a.last_event_at + INTERVAL ((u.i * 13) % 86400) SECOND AS updated_at
FROM user_seed AS u
JOIN activity AS a USING (user_id)
ORDER BY u.user_id;

INSERT INTO accounts
WITH seats AS (
    SELECT account_id, count(*)::INTEGER AS seats, max(updated_at) AS last_user_update
    FROM users
    GROUP BY account_id
)
SELECT
    a.account_id,
    a.name,
    a.domain,
    a.industry,
    a.plan,
    a.country,
    a.employees,
    s.seats,
    (s.seats * CASE a.plan WHEN 'free' THEN 0 WHEN 'starter' THEN 15 WHEN 'pro' THEN 45 ELSE 95 END)::DECIMAL(10, 2)
        AS mrr,
    'usr_' || lpad(a.i::VARCHAR, 6, '0') AS owner_user_id,
    a.created_at,
    s.last_user_update AS updated_at
FROM account_seed AS a
JOIN seats AS s USING (account_id)
ORDER BY a.account_id;

INSERT INTO subscriptions
WITH u AS (
    SELECT i, user_id, email, phone, created_at FROM user_seed
)
SELECT
    'sub_' || lpad(i::VARCHAR, 6, '0') || '_email' AS subscription_id,
    user_id,
    'email' AS channel,
    email AS address,
    CASE WHEN (i * 41 + 3) % 17 < 10 THEN 'subscribed'
         WHEN (i * 41 + 3) % 17 < 14 THEN 'unsubscribed'
         ELSE 'did_not_subscribe' END AS status,
    created_at + INTERVAL ((i * 7919) % (86400 * 200)) SECOND AS updated_at
FROM u
UNION ALL
SELECT
    'sub_' || lpad(i::VARCHAR, 6, '0') || '_sms',
    user_id,
    'sms',
    phone,
    CASE WHEN (i * 43 + 1) % 19 < 8 THEN 'subscribed'
         WHEN (i * 43 + 1) % 19 < 14 THEN 'unsubscribed'
         ELSE 'did_not_subscribe' END,
    created_at + INTERVAL ((i * 104729) % (86400 * 250)) SECOND
FROM u
WHERE phone IS NOT NULL
ORDER BY 1;

-- Group statuses follow the email channel: only subscribers can be in or out of a group.
INSERT INTO email_subscription_groups
SELECT
    s.user_id,
    g.group_name,
    CASE
        WHEN s.status <> 'subscribed' THEN s.status
        WHEN (u.i * g.k) % 11 < 8 THEN 'subscribed'
        ELSE 'unsubscribed'
    END AS status,
    s.updated_at AS updated_at
FROM subscriptions AS s
JOIN user_seed AS u USING (user_id)
CROSS JOIN (VALUES ('newsletter', 47), ('product_updates', 53)) AS g (group_name, k)
WHERE s.channel = 'email'
ORDER BY s.user_id, g.group_name;

DROP TABLE user_seed;
DROP TABLE account_seed;
