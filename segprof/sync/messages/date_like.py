"""actions-core's `date-like` format: which texts Segment accepts for a datetime field.

Owns: `is_date_like` (dayjs-parseable, or a numeric string read as unix seconds) and its
approximation of JavaScript's legacy `Date` parser (ISO-8601, RFC 2822, month-name dates).

Must never: turn a text into a date or change it: it only answers whether Segment accepts it.
"""

from __future__ import annotations

import email.utils
import math
import re

from segprof.sync.messages.js_numbers import js_number_str
from segprof.sync.messages.js_values import js_trim

_DAYJS_PARSE = re.compile(
    r"^(\d{4})[-/]?(\d{1,2})?[-/]?(\d{0,2})[Tt\s]*(\d{1,2})?:?(\d{1,2})?:?(\d{1,2})?[.:]?(\d+)?$"
)
_ISO = re.compile(
    r"^([+-]\d{6}|\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC|GMT|[ECMP][SD]T)?$",
    re.IGNORECASE,
)
_MAX_EPOCH_MS = 8.64e15
_LEGACY_WORDS = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", "am", "pm", "utc", "gmt", "ut", "z", "t",
    "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt",
}  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def is_date_like(text: str) -> bool:
    """actions-core's `date-like` format: dayjs-parseable, or a numeric string read as unix seconds.

    dayjs falls back to JavaScript's `Date` parser for text it does not recognise itself; that
    parser's legacy forms are approximated (ISO-8601, RFC 2822, month-name dates).
    """
    number = _canonical_js_number(text)
    if number is not None:
        return math.isfinite(number) and abs(number * 1000) <= _MAX_EPOCH_MS
    if not text.upper().endswith("Z") and _DAYJS_PARSE.match(text):
        return True
    return _js_date_parses(text)


def _canonical_js_number(text: str) -> float | None:
    # `String(Number(text)) === text`
    stripped = js_trim(text)
    try:
        number = float(stripped) if stripped else 0.0
    except ValueError:
        return None
    if stripped.lower() in {"inf", "+inf", "-inf", "infinity", "+infinity", "nan"} and stripped not in {
        "Infinity",
        "-Infinity",
    }:
        return None
    if js_number_str(number) != text:
        return None
    return number


def _js_date_parses(text: str) -> bool:
    text = js_trim(text)
    iso = _ISO.match(text)
    if iso:
        if iso.group(7) and _T_SEPARATOR.search(text) and text[iso.start(7) - 1].isspace():
            return False  # `2024-05-01T10:00:00 +00:00`: neither the ISO nor the legacy parser takes it
        month = int(iso.group(2) or 1)
        day = int(iso.group(3) or 1)
        hour = int(iso.group(4) or 0)
        minute = int(iso.group(5) or 0)
        second = int(iso.group(6) or 0)
        return 1 <= month <= 12 and 1 <= day <= 31 and hour <= 24 and minute < 60 and second < 60
    if email.utils.parsedate_tz(text) is not None:
        return True
    if _SIGNED_DIGITS.match(text):
        return True  # the legacy parser reads a short bare number as a month or a year
    numeric = _NUMERIC_DATE.match(text)
    if numeric:
        first, second = int(numeric.group(1)), int(numeric.group(2))
        if len(numeric.group(1)) == 4:
            return 1 <= second <= 12
        return 1 <= first <= 12 and 1 <= second <= 31
    return _legacy_words_parse(text)


def _legacy_words_parse(text: str) -> bool:
    # JavaScript's legacy Date parser: unknown words before the first number are skipped; after
    # it, only month/day names, AM/PM and zone names may appear; a word glued to digits fails.
    seen_number = False
    numbers = 0
    month_word = False
    for chunk in _CHUNK.findall(text):
        if chunk.isdigit():
            seen_number = True
            numbers += 1
        elif chunk.isalpha():
            word = chunk.lower()
            is_month = len(word) >= 3 and any(m.startswith(word) for m in _MONTHS)
            month_word = month_word or is_month
            if (
                not (is_month or word in _LEGACY_WORDS or any(d.startswith(word) for d in _DAYS))
                and seen_number
            ):
                return False
        else:
            return False
    if ":" in text and numbers <= 2 and not month_word:
        return False  # a time without a date
    if not month_word and ("." in text or (":" not in text and _AM_PM.search(text))):
        return False
    return seen_number


_T_SEPARATOR = re.compile(r"\d[Tt]\d")
_SIGNED_DIGITS = re.compile(r"^[+-]?\d{1,6}$")
_NUMERIC_DATE = re.compile(r"^(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})(?:[ ]+\d{1,2}:\d{2}(?::\d{2})?)?$")
_CHUNK = re.compile(r"[A-Za-z0-9]+")
_AM_PM = re.compile(r"\b[ap]m\b", re.IGNORECASE)
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_MONTH_PREFIXES = {m[:3] for m in _MONTHS}


__all__ = [
    "is_date_like",
]
