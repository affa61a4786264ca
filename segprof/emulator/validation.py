"""Input checks of the emulated Public API, with Segment's (Joi-style) 422 messages.

Owns: reading typed fields out of request bodies, Reverse ETL trigger and schedule rules, and
settings masking. Must never echo a submitted value in a message (it may be a secret).
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from segprof.emulator.problem import invalid

MASK = "••••••••••"
GENERIC_SECRET_KEYS = re.compile(
    r"(password|passphrase|secret|token|private_?key|credentials|api_?key)", re.I
)
MAX_QUERY_CHARS = 65_535
MAX_IDENTIFIER_CHARS = 191
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
TRIGGER_TERM = re.compile(r'^\s*event\s*=\s*"(new|updated|deleted)"\s*$')
STRATEGIES = ("MANUAL", "PERIODIC", "SPECIFIC_DAYS", "CRON", "DBT_CLOUD")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MISSING = object()


def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def get(
    body: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    *,
    required: bool,
    prefix: str = "",
    nullable: bool = False,
) -> Any:
    """A typed field of a body; 422 naming the dotted path when missing or of the wrong type."""
    field = _path(prefix, key)
    value = body.get(key, _MISSING)
    if value is _MISSING:
        if required:
            raise invalid(field, f'"{key}" is required')
        return None
    if value is None:
        if nullable or not required:
            return None
        raise invalid(field, f'"{key}" must not be null')
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if bool not in kinds and isinstance(value, bool):
        raise invalid(field, f'"{key}" must be a {_type_name(kinds)}')
    if not isinstance(value, kinds):
        raise invalid(field, f'"{key}" must be a {_type_name(kinds)}')
    return value


def _type_name(kinds: tuple[type, ...]) -> str:
    names = {str: "string", bool: "boolean", dict: "object", list: "array", int: "number", float: "number"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def non_empty(value: str | None, field: str) -> None:
    if value is not None and not value.strip():
        raise invalid(field, f'"{field.rsplit(".", 1)[-1]}" is not allowed to be empty')


def immutable(body: dict[str, Any], key: str, current: Any, prefix: str = "") -> None:
    """Reject a change to a field Segment does not let you update (the same value is tolerated)."""
    if key in body and body[key] != current:
        raise invalid(_path(prefix, key), f'"{key}" is not allowed')


def not_allowed(body: dict[str, Any], key: str, prefix: str = "") -> None:
    if key in body:
        raise invalid(_path(prefix, key), f'"{key}" is not allowed')


def check_query(query: str | None, field: str) -> None:
    if query is None:
        return
    non_empty(query, field)
    if len(query) > MAX_QUERY_CHARS:
        raise invalid(
            field, f'"query" length must be less than or equal to {MAX_QUERY_CHARS} characters long'
        )


def check_identifier(column: str | None, field: str) -> None:
    if column is None:
        return
    non_empty(column, field)
    if len(column) > MAX_IDENTIFIER_CHARS:
        raise invalid(
            field,
            f'"queryIdentifierColumn" length must be less than or equal to {MAX_IDENTIFIER_CHARS} '
            "characters long",
        )


def check_slug(slug: str, field: str) -> None:
    if not SLUG.match(slug):
        raise invalid(field, '"slug" must contain only lowercase letters, digits, "_" and "-"')


def check_retl_trigger(trigger: str, field: str) -> None:
    """A Reverse ETL trigger: `event = "new"|"updated"|"deleted"` terms joined by `or`."""
    terms = re.split(r"\s+or\s+", trigger.strip())
    seen: set[str] = set()
    for term in terms:
        match = TRIGGER_TERM.match(term)
        if not match:
            raise invalid(
                field, '"trigger" must select record changes, e.g. event = "new" or event = "updated"'
            )
        seen.add(match.group(1))
    if len(seen) != len(terms):
        raise invalid(field, '"trigger" names the same record change twice')


def duration_seconds(text: str) -> float | None:
    """A Go-style duration (`15m`, `1h30m`, and `1d` as the UI offers); None when unparseable."""
    if not text:
        return None
    pos, total = 0, 0.0
    for match in DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None


def _int_list(value: Any, field: str, lo: int, hi: int, max_len: int) -> list[int]:
    if not isinstance(value, list) or not value:
        raise invalid(field, f'"{field.rsplit(".", 1)[-1]}" must be a non-empty array')
    if len(value) > max_len:
        raise invalid(field, f'"{field.rsplit(".", 1)[-1]}" must contain at most {max_len} items')
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not lo <= item <= hi:
            raise invalid(field, f'"{field.rsplit(".", 1)[-1]}" items must be integers from {lo} to {hi}')
    if len(set(value)) != len(value):
        raise invalid(field, f'"{field.rsplit(".", 1)[-1]}" must not repeat items')
    return value


def _timezone(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(field, '"timezone" is required')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(field, '"timezone" must be an IANA time zone') from None
    return value


def _cron(spec: Any, field: str) -> str:
    if not isinstance(spec, str):
        raise invalid(field, '"spec" is required')
    parts = spec.split()
    if len(parts) != 5 or not all(re.fullmatch(r"[\d*/,\-A-Za-z?]+", p) for p in parts):
        raise invalid(field, '"spec" must be a 5-field cron expression')
    return spec


def check_schedule(value: Any, prefix: str) -> dict[str, Any] | None:
    """Normalise a `reverseETLSchedule`: strategy upper-cased, config checked per strategy."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(prefix, '"reverseETLSchedule" must be an object')
    strategy = value.get("strategy")
    if not isinstance(strategy, str) or not strategy:
        raise invalid(f"{prefix}.strategy", '"strategy" is required')
    strategy = strategy.upper()
    if strategy not in STRATEGIES:
        raise invalid(f"{prefix}.strategy", f'"strategy" must be one of [{", ".join(STRATEGIES)}]')
    config = value.get("config")
    cfield = f"{prefix}.config"
    if strategy == "MANUAL":
        if config not in (None, {}):
            raise invalid(cfield, '"config" is not allowed for the MANUAL strategy')
        return {"strategy": strategy, "config": None}
    if not isinstance(config, dict):
        raise invalid(cfield, f'"config" is required for the {strategy} strategy')
    if strategy == "PERIODIC":
        interval = config.get("interval")
        seconds = duration_seconds(interval) if isinstance(interval, str) else None
        if seconds is None:
            raise invalid(f"{cfield}.interval", '"interval" must be a duration such as "15m" or "1h"')
        if seconds < 15 * 60 or seconds > 168 * 3600:
            raise invalid(f"{cfield}.interval", '"interval" must be at least 15m and at most 168h')
        clean: dict[str, Any] = {"interval": interval}
    elif strategy == "SPECIFIC_DAYS":
        clean = {
            "days": _int_list(config.get("days"), f"{cfield}.days", 0, 6, 7),
            "hours": _int_list(config.get("hours"), f"{cfield}.hours", 0, 23, 24),
            "timezone": _timezone(config.get("timezone"), f"{cfield}.timezone"),
        }
    elif strategy == "CRON":
        clean = {
            "spec": _cron(config.get("spec"), f"{cfield}.spec"),
            "timezone": _timezone(config.get("timezone"), f"{cfield}.timezone"),
        }
    else:
        clean = {}
        for key in ("jobId", "accountId"):
            item = config.get(key)
            if not isinstance(item, str) or not item:
                raise invalid(f"{cfield}.{key}", f'"{key}" is required')
            clean[key] = item
    extra = sorted(set(config) - set(clean))
    if extra:
        raise invalid(f"{cfield}.{extra[0]}", f'"{extra[0]}" is not allowed')
    return {"strategy": strategy, "config": clean}


def is_secret_key(key: str, secret_names: set[str]) -> bool:
    return key in secret_names or bool(GENERIC_SECRET_KEYS.search(key))


def mask_settings(settings: dict[str, Any], secret_names: set[str]) -> dict[str, Any]:
    """Settings as stored and read back: secret values censored with `•`, never kept in clear."""
    masked: dict[str, Any] = {}
    for key, value in settings.items():
        if (
            value is not None
            and is_secret_key(key, secret_names)
            and not (isinstance(value, str) and not value)
        ):
            masked[key] = MASK
        else:
            masked[key] = value
    return masked


def merge_settings(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Upsert: keys in the update replace, keys sent as null are removed."""
    merged = dict(current)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
