"""Numbers as JavaScript writes them, and decimals kept exact.

Owns: JavaScript's number-to-text rule (`String(n)`), which Segment's (JavaScript) code applies
whenever it turns a number into a string; the exact text of a Decimal; and `ExactNumber`, the
JSON-ready form of a decimal a double cannot hold (see `segprof.sync.messages.encode` for the
decisions users see).

Must never: round a decimal silently where its exact digits can be kept, or reach a warehouse or
the network.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Sequence


class ExactNumber(float):
    """A decimal a double cannot hold exactly: acts as the nearest float, keeps its exact text."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> ExactNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (ExactNumber, (self.text,))


def js_number_str(value: float | int | decimal.Decimal) -> str:
    """`String(n)` for a JavaScript number (ints and Decimals are written exactly, see module doc)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return decimal_text(value)
    if type(value) is ExactNumber:
        return value.text
    text = repr(value)
    if value == 0:
        return "0"
    if "e" not in text and "n" not in text:  # plain digits: JavaScript only drops a trailing ".0"
        return text[:-2] if text.endswith(".0") else text
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    # repr gives the shortest round-trip digits (as JavaScript does); only the layout differs.
    sign = "-" if value < 0 else ""
    digits_repr = repr(abs(value))
    if "e" in digits_repr:
        mant, _, exp_s = digits_repr.partition("e")
        exponent = int(exp_s)
        digits = mant.replace(".", "")
        point = 1 + exponent
    else:
        int_part, _, frac_part = digits_repr.partition(".")
        if frac_part == "0":
            frac_part = ""
        if int_part == "0":
            stripped = frac_part.lstrip("0")
            point = -(len(frac_part) - len(stripped))
            digits = stripped
        else:
            digits = int_part + frac_part
            point = len(int_part)
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    n = point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp = f"e+{e}" if e >= 0 else f"e-{-e}"
    if k == 1:
        return sign + digits + exp
    return sign + digits[0] + "." + digits[1:] + exp


def decimal_text(value: decimal.Decimal) -> str:
    """Exact, shortest plain text of a finite Decimal (`12.30` → `12.3`, `1E+2` → `100`)."""
    if value == 0:
        return "0"
    return format(_strip_zeros(value), "f")


def _strip_zeros(value: decimal.Decimal) -> decimal.Decimal:
    # Exact: Decimal.normalize() would round to the context's 28 digits.
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    trimmed = list(digits)
    while exponent < 0 and len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()
        exponent += 1
    return decimal.Decimal((sign, tuple(trimmed), exponent))


def decimal_value(value: decimal.Decimal) -> int | float | None:
    """A Decimal as a JSON-ready number: int, float, or `ExactNumber`; None when not finite."""
    if not value.is_finite():
        return None
    stripped = _strip_zeros(value)
    if stripped.as_tuple().exponent >= 0:  # type: ignore[operator]
        return int(stripped)
    text = format(stripped, "f")
    number = float(text)
    if js_number_str(number) == text:
        return number
    return ExactNumber(text)


__all__: Sequence[str] = (
    "ExactNumber",
    "decimal_text",
    "decimal_value",
    "js_number_str",
)
