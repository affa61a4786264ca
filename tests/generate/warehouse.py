"""A realistic warehouse schema (DuckDB and PostgreSQL flavours) for the generate tests."""

from __future__ import annotations


def schema_sql(json_type: str, bool_type: str = "BOOLEAN") -> list[str]:
    return [
        "CREATE TABLE users (user_id VARCHAR PRIMARY KEY, email VARCHAR NOT NULL, first_name VARCHAR, "
        "last_name VARCHAR, plan VARCHAR, password_hash VARCHAR, notes VARCHAR, newsletter_opt_in BOOLEAN, "
        "created_at TIMESTAMP, updated_at TIMESTAMP)",
        "CREATE TABLE dim_customer (customer_id INTEGER NOT NULL UNIQUE, email VARCHAR, full_name VARCHAR, "
        "country VARCHAR, loyalty_tier VARCHAR, ssn VARCHAR, updated_at TIMESTAMP)",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR, industry VARCHAR, employees INTEGER, "
        "owner_user_id VARCHAR, created_at TIMESTAMP)",
        "CREATE TABLE orgs (org_id VARCHAR, name VARCHAR, domain VARCHAR, api_token VARCHAR)",
        f"CREATE TABLE events (event_id VARCHAR PRIMARY KEY, user_id VARCHAR, anonymous_id VARCHAR, "
        f"event_name VARCHAR, occurred_at TIMESTAMP, page_url VARCHAR, context {json_type})",
        "CREATE TABLE fct_orders (order_id VARCHAR PRIMARY KEY, customer_id INTEGER, total DECIMAL(10, 2), "
        "currency VARCHAR, status VARCHAR, ordered_at TIMESTAMP)",
        f"CREATE TABLE email_subscriptions (subscription_id INTEGER PRIMARY KEY, user_id VARCHAR, "
        f"email VARCHAR, phone VARCHAR, email_opt_in {bool_type}, sms_opt_in {bool_type}, "
        f"source VARCHAR, updated_at TIMESTAMP)",
        "CREATE TABLE contacts_import (email VARCHAR, first_name VARCHAR, imported_at TIMESTAMP)",
        "CREATE TABLE audit_log (actor VARCHAR, verb VARCHAR, logged_at TIMESTAMP)",
        "CREATE VIEW active_users_v AS SELECT user_id, email, plan FROM users WHERE plan <> 'free'",
    ]
