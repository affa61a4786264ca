"""How `segprof generate` reads a table: which entity it holds and which action fits it.

Owns the naming heuristics a data engineer applies when looking at a schema: user, account,
event, fact and subscription tables; identifier choice (primary key, then a unique non-null
column, then names); the timestamp; and which columns stay out (secrets, free text, binary).
Returns plain proposals. Must never touch a warehouse, a file, or the YAML layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from segprof.warehouses import ColumnInfo, TableInfo

_PREFIXES = ("dim_", "fct_", "fact_", "stg_", "raw_", "tbl_", "vw_", "v_", "int_", "mart_", "rpt_")
_SUFFIXES = ("_vw", "_view", "_v", "_dim", "_fct", "_tbl", "_current", "_latest")

PEOPLE = {"user", "customer", "member", "person", "people", "contact", "profile", "subscriber", "lead"}
GROUPS = {"account", "company", "organization", "organisation", "org", "team", "workspace", "tenant", "group"}
EVENT_WORDS = {"event", "activity", "activities", "track", "tracks", "action", "log", "clickstream"}
FACT_EVENTS = {
    "order": "Order Completed",
    "purchase": "Purchase Completed",
    "payment": "Payment Completed",
    "transaction": "Transaction Completed",
    "signup": "Signed Up",
    "invoice": "Invoice Paid",
    "refund": "Order Refunded",
    "session": "Session Started",
}
SUBSCRIPTION_WORDS = {"subscription", "consent", "preference", "opt_in", "optin", "marketing_preference"}

EVENT_NAME_COLUMNS = ("event_name", "event", "event_type", "action", "name", "type")
PERSON_COLUMNS = (
    "user_id",
    "customer_id",
    "member_id",
    "person_id",
    "contact_id",
    "profile_id",
    "owner_user_id",
    "owner_id",
    "primary_user_id",
    "primary_contact_id",
)
ANONYMOUS_COLUMNS = ("anonymous_id", "anon_id", "device_id")
EVENT_TIME = ("timestamp", "event_timestamp", "event_time", "occurred_at", "sent_at", "received_at", "ts")
RECORD_TIME = ("updated_at", "modified_at", "last_updated_at", "last_modified_at", "updated")
CREATED_TIME = ("created_at", "ordered_at", "placed_at", "purchased_at", "paid_at", "created")

_SECRET = re.compile(
    r"(pass(word|wd)?|pwd|token|secret|hash|salt|ssn|social_security|api_?key|private_key|"
    r"credit_?card|card_number|cvv|cvc|iban|otp|mfa|auth_code|session_key|access_key)",
    re.IGNORECASE,
)
_FREE_TEXT = re.compile(
    r"^(notes?|comments?|description|body|bio|about|message|content|raw|payload|html|text|"
    r"details|memo|remarks|internal_notes|raw_json|blob)$",
    re.IGNORECASE,
)
_BINARY = re.compile(r"^\s*(BLOB|BYTEA|BINARY|VARBINARY|BYTES|IMAGE|GEOMETRY|GEOGRAPHY)\b", re.IGNORECASE)
_TIME = re.compile(r"^\s*(TIMESTAMP|DATETIME|DATE\b|TIMESTAMPTZ|TIMESTAMP_\w+)", re.IGNORECASE)
_BOOL = re.compile(r"^\s*(BOOL|BOOLEAN)\b", re.IGNORECASE)
_NESTED = re.compile(r"^\s*(STRUCT|ROW|ARRAY|LIST|MAP|UNION)\b|\[\]\s*$", re.IGNORECASE)


@dataclass
class Proposal:
    """What to generate for one table: the model and its mappings, with the reasons."""

    table: TableInfo
    model: str
    identifier: str
    columns: list[str]
    kind: str  # user | group | event | fact | subscription
    reasons: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    # (mapping name suffix, action, fields); fields use the config language's plain forms
    mappings: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    table: TableInfo
    reason: str


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """Any naming convention in snake_case: `UserId`, `userId`, `USER_ID`, `"User Id"`, `user-id`
    → `user_id`; `HTTPStatus` → `http_status`. Names are matched in this form."""
    if not name.isupper():
        name = _CAMEL_BOUNDARY.sub("_", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def entity_name(table: str) -> str:
    """`dim_customer` → `customer`, `fct_orders` → `orders`, `Users_VW` → `users`,
    `DimCustomer` → `customer`, `UserAccounts` → `user_accounts`."""
    name = snake(table) or "table"
    for prefix in _PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    if not name[0].isalpha():
        name = "t_" + name
    return name[:63]


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _words(entity: str) -> list[str]:
    return [singular(part) for part in entity.split("_") if part]


def is_time(column: ColumnInfo) -> bool:
    return bool(_TIME.match(column.type))


def left_out_reason(column: ColumnInfo) -> str | None:
    """Why a column should not become a trait or property, or None."""
    if _SECRET.search(snake(column.name)):
        return "looks like a secret"
    if _BINARY.match(column.type):
        return f"binary ({column.type})"
    if _FREE_TEXT.match(snake(column.name)):
        return "free text"
    return None


def columns_by_name(table: TableInfo) -> dict[str, ColumnInfo]:
    """The table's columns under their snake_case names (the first column wins a clash)."""
    found: dict[str, ColumnInfo] = {}
    for column in table.columns:
        found.setdefault(snake(column.name), column)
    return found


def _find(columns: dict[str, ColumnInfo], names: tuple[str, ...] | list[str]) -> str | None:
    for name in names:
        if name in columns:
            return columns[name].name
    return None


def choose_identifier(table: TableInfo, entity: str, prefer: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(column, why): the primary key, then a unique non-null column, then a column named like one."""
    by_lower = columns_by_name(table)
    if len(table.primary_key) == 1:
        return table.primary_key[0], f"primary key `{table.primary_key[0]}`"
    unique = [
        key[0]
        for key in sorted(table.unique_keys)
        if len(key) == 1 and snake(key[0]) in by_lower and not by_lower[snake(key[0])].nullable
    ]
    if unique:
        return unique[0], f"unique, non-null column `{unique[0]}`"
    base = singular(entity)
    names = (*prefer, "id", f"{base}_id", f"{entity}_id", f"{base}_key", "uuid", f"{base}_uuid")
    found = _find(by_lower, names)
    if found is not None:
        composite = (
            f" (its primary key {', '.join(table.primary_key)} is composite)" if table.primary_key else ""
        )
        return found, f"column `{found}`, unique by its name{composite}; no single-column key is declared"
    return None


def _status_columns(by_lower: dict[str, ColumnInfo]) -> dict[str, str]:
    """Subscription status fields → columns (`email_opt_in`, `sms_subscription_status`, …)."""
    found: dict[str, str] = {}
    channels = {
        "email_subscription_status": ("email", "newsletter", "marketing"),
        "sms_subscription_status": ("sms", "phone", "text"),
        "whatsapp_subscription_status": ("whatsapp",),
    }
    status = re.compile(r"(subscri|opt_?in|opted_?in|consent|status)")
    for lower, column in by_lower.items():
        if not status.search(lower) or _NESTED.search(column.type) or is_time(column):
            continue
        if lower.endswith(("_at", "_date", "_on")):
            continue
        for key, words in channels.items():
            if key not in found and any(lower.startswith(w) or f"_{w}" in lower for w in words):
                found[key] = column.name
                break
    return found


# what a dbt model's `meta: {segment: {action: …}}` asks for, as a kind of table
ACTION_KINDS = {
    "send_identify": "user",
    "send_group": "group",
    "send_track": "event",
    "send_subscription": "subscription",
}


def classify(
    table: TableInfo, model_name: str, *, action: str | None = None, event_label: str | None = None
) -> Proposal | Skipped:
    """What to generate for `table`; `action` (from dbt's meta) decides the kind instead of the
    table's name and columns, and `event_label` names the event of a table without an event column."""
    entity = entity_name(table.name)
    words = set(_words(entity)) | {entity}
    by_lower = columns_by_name(table)
    if not table.columns:
        return Skipped(table, "no columns")
    person = _find(by_lower, PERSON_COLUMNS)
    anonymous = _find(by_lower, ANONYMOUS_COLUMNS)
    times = [c.name for c in table.columns if is_time(c)]
    event_time = _find(by_lower, EVENT_TIME) or _find(by_lower, CREATED_TIME) or (times[0] if times else None)
    record_time = _find(by_lower, RECORD_TIME)
    event_name = _find(by_lower, EVENT_NAME_COLUMNS[:4])
    if event_name is None and words & EVENT_WORDS:
        event_name = _find(by_lower, EVENT_NAME_COLUMNS[4:])
    email = _find(by_lower, ("email", "email_address", "emailaddress"))
    phone = _find(by_lower, ("phone", "phone_number", "mobile", "mobile_phone", "msisdn"))
    statuses = _status_columns(by_lower)

    kind: str | None = None
    reason = ""
    if event_name and event_time and (person or anonymous):
        kind, reason = "event", f"an event table: event name in `{event_name}`, time in `{event_time}`"
    elif (words & set(FACT_EVENTS)) and event_time and (person or anonymous):
        kind = "fact"
        reason = f"a table of {entity}: each row becomes an event, time in `{event_time}`"
    elif (email or phone) and statuses and (words & SUBSCRIPTION_WORDS or not words & (PEOPLE | GROUPS)):
        kind = "subscription"
        reason = "subscription statuses (" + ", ".join(f"`{c}`" for c in statuses.values()) + ")"
    elif words & GROUPS:
        kind, reason = "group", f"an account-like table (`{table.name}`)"
    elif words & PEOPLE or email:
        kind = "user"
        reason = f"a table of people (`{table.name}`" + (f", with `{email}`)" if email else ")")
    if action is not None:
        kind = ACTION_KINDS[action]
        if kind == "event" and not event_name:
            kind = "fact"
        reason = f"asked for by dbt meta `segment.action: {action}`"
    if kind is None:
        if event_name and event_time:
            return Skipped(table, "looks like events, but has no user or anonymous id column")
        return Skipped(table, "not recognisably users, accounts, events or subscriptions")

    prefer: tuple[str, ...] = ("event_id", "message_id", "id") if kind in ("event",) else ()
    if kind == "user" and person:
        prefer = (person,)
    chosen = choose_identifier(table, entity, prefer)
    if chosen is None:
        return Skipped(
            table, f"read as {kind} data, but it has no usable key (no primary key, unique column or id)"
        )
    identifier, why_id = chosen
    proposal = Proposal(
        table, model_name, identifier, [identifier], kind, [f"Read as {reason}.", f"Identifier: {why_id}."]
    )

    def take(column: str) -> str:
        if column not in proposal.columns:
            proposal.columns.append(column)
        return column

    used_top: set[str] = {identifier}
    payload: dict[str, object] = {}
    fields: dict[str, object] = {}
    if kind == "user":
        fields["user_id"] = take(identifier)
        if anonymous:
            fields["anonymous_id"] = take(anonymous)
            used_top.add(anonymous)
        stamp = record_time
    elif kind == "group":
        fields["group_id"] = take(identifier)
        if person:
            fields["user_id"] = take(person)
            used_top.add(person)
            proposal.reasons.append(f"Each Group call is sent for the user in `{person}`.")
        else:
            fields["anonymous_id"] = {"template": f"{singular(entity)}-{{{{{identifier}}}}}"}
            proposal.reasons.append(
                "Segment needs a user or anonymous id on a Group call and this table names no user, "
                "so each account gets its own anonymous id; map `user_id` to an owner column if you have one."
            )
        stamp = record_time
    elif kind in ("event", "fact"):
        if person:
            fields["user_id"] = take(person)
            used_top.add(person)
        if anonymous:
            fields["anonymous_id"] = take(anonymous)
            used_top.add(anonymous)
        if kind == "event":
            assert event_name is not None
            fields["event_name"] = take(event_name)
            used_top.add(event_name)
        else:
            facts = sorted(words & set(FACT_EVENTS))
            label = event_label or (
                FACT_EVENTS[facts[0]] if facts else " ".join(w.title() for w in entity.split("_"))
            )
            fields["event_name"] = {"value": label}
            proposal.reasons.append(f'Event name "{label}" (a literal: the table has no event name column).')
        stamp = event_time
    else:  # subscription
        if person:
            fields["user_id"] = take(person)
            used_top.add(person)
        elif identifier not in (email, phone):
            fields["user_id"] = take(identifier)
        if email:
            fields["email"] = take(email)
            used_top.add(email)
        for key in ("email_subscription_status", "sms_subscription_status", "whatsapp_subscription_status"):
            if key in statuses and (email if key.startswith("email") else phone):
                fields[key] = take(statuses[key])
                used_top.add(statuses[key])
        if phone and ("sms_subscription_status" in fields or "whatsapp_subscription_status" in fields):
            fields["phone"] = take(phone)
            used_top.add(phone)
        stamp = record_time
    if stamp is not None:
        fields["timestamp"] = take(stamp)
        used_top.add(stamp)
        proposal.reasons.append(f"Timestamp: `{stamp}`.")

    if kind in ("user", "group", "event", "fact"):
        for column in table.columns:
            if column.name in used_top:
                continue
            why = left_out_reason(column)
            if why is not None:
                proposal.left_out.append((column.name, why))
                continue
            # warehouses that fold to upper case (Snowflake) would give `EMAIL`; traits read better lower
            payload[column.name.lower() if column.name.isupper() else column.name] = take(column.name)
        object_key = "properties" if kind in ("event", "fact") else "traits"
        if payload:
            fields[object_key] = payload
    else:
        for column in table.columns:
            if column.name in used_top:
                continue
            why = left_out_reason(column) or "not a subscription field"
            proposal.left_out.append((column.name, why))

    action = {
        "user": ("identify", "send_identify"),
        "group": ("group", "send_group"),
        "event": ("track", "send_track"),
        "fact": ("track", "send_track"),
        "subscription": ("subscriptions", "send_subscription"),
    }[kind]
    proposal.mappings.append((action[0], action[1], fields))
    if kind == "user" and (email or phone) and statuses:
        # a people table that also holds channel statuses: send them as subscriptions too
        subscription: dict[str, object] = {"user_id": identifier}
        if email:
            subscription["email"] = take(email)
        if phone and ("sms_subscription_status" in statuses or "whatsapp_subscription_status" in statuses):
            subscription["phone"] = take(phone)
        for key, column in statuses.items():
            if subscription.get("email" if key.startswith("email") else "phone"):
                subscription[key] = take(column)
        if stamp is not None:
            subscription["timestamp"] = stamp
        if len(subscription) > 2 + ("timestamp" in subscription):
            proposal.mappings.append(("subscriptions", "send_subscription", subscription))
            proposal.reasons.append(
                "Its "
                + ", ".join(f"`{c}`" for c in statuses.values())
                + " also go out as subscription statuses."
            )
    order = {c.name: i for i, c in enumerate(table.columns)}
    proposal.columns.sort(key=lambda c: (c != identifier, order.get(c, 0)))
    return proposal
