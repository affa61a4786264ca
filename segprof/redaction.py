"""Scrubbing secrets from any text segprof prints or stores, in every form a secret takes on the wire.

Owns `secret_forms` (a secret raw, as HTTP Basic credentials `base64("key:")`, base64, URL-encoded,
JSON-escaped), `Redactor` (a set of secrets and the scrubbing of all their forms, plus any
`Basic …` / `Bearer …` credential and any `"writeKey": "…"` value whatever its secret), `redact`
for one-off use, and the process-wide registry (`remember`, `scrub`) that the CLI's output streams
and file writers consult. Must never store a secret anywhere but in memory, nor expose one
through `repr`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

#: Settings keys whose values are secrets (warehouse credentials, the Profile Space write key).
SECRET_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|private_?key|key_?pair|passphrase|credential|write_?key|engage_space|api_?key)"
)
MASK = "[redacted]"
#: Shortest value treated as a secret: shorter ones would blank out ordinary words.
MIN_SECRET_LENGTH = 4

# Credentials on the wire whatever their value: an Authorization header echoed by a proxy, or the
# Tracking API's `writeKey` body field.
_SCHEME = re.compile(r"(?i)\b(basic|bearer)(\s+|%20|\+)([A-Za-z0-9._~+/=%-]{4,})")


def _mask_credential(match: re.Match[str]) -> str:
    scheme, gap, value = match.groups()
    if scheme.lower() == "basic" and not _is_basic_credential(value):
        return match.group(0)  # "basic information", not a credential
    return f"{scheme}{gap}{MASK}"


def _is_basic_credential(value: str) -> bool:
    """Basic credentials are base64 of `user:password`; ordinary words do not decode to that."""
    try:
        decoded = base64.b64decode(value.replace("%3D", "=") + "=" * (-len(value) % 4), validate=True)
    except ValueError:
        return False
    return b":" in decoded


_WRITE_KEY_FIELD = re.compile(r"""(?i)(\\?["']write_?key\\?["']\s*:\s*\\?["'])([^"'\\]+)""")


def _b64_forms(raw: bytes) -> set[str]:
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw).decode("ascii")
        forms.add(text)
        forms.add(text.rstrip("="))
    return forms


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def secret_forms(secret: str) -> set[str]:
    """Every spelling of `secret` that can reach a message, a header echo or a stored record."""
    forms = {secret}
    raw = secret.encode("utf-8")
    # HTTP Basic: Segment's Tracking API takes base64("<write key>:"); some clients send ":<key>".
    for wrapped in (raw + b":", b":" + raw, raw):
        forms |= _b64_forms(wrapped)
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms |= {encoded, _lower_hex(encoded)}
    escaped = json.dumps(secret)[1:-1]
    forms |= {escaped, escaped.replace("/", "\\/"), json.dumps(secret, ensure_ascii=False)[1:-1]}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Remembers secret values and removes them, in every form, from text."""

    def __init__(self, *secrets: str | None) -> None:
        self._forms: set[str] = set()
        self._ordered_forms: tuple[str, ...] | None = None
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            return
        forms = secret_forms(secret)
        with self._lock:
            if forms <= self._forms:
                return
            self._forms |= forms
            self._ordered_forms = None

    def add_from_settings(self, settings: object) -> None:
        """Remember the values of secret-looking keys anywhere in a settings object."""
        if isinstance(settings, dict):
            for key, value in settings.items():
                if isinstance(value, str) and SECRET_KEY.search(str(key)):
                    self.add(value)
                else:
                    self.add_from_settings(value)
        elif isinstance(settings, list):
            for item in settings:
                self.add_from_settings(item)

    def _ordered(self) -> tuple[str, ...]:
        with self._lock:
            if self._ordered_forms is None:
                # Longest first, so a secret's base64 is masked whole rather than around a shorter form.
                self._ordered_forms = tuple(sorted(self._forms, key=len, reverse=True))
            return self._ordered_forms

    def scrub(self, text: str) -> str:
        if not text:
            return text
        # `in` and `replace` are plain substring scans in C: fast on a large plan, unlike one
        # regex alternation of every form tried at every position.
        for form in self._ordered():
            if form in text:
                text = text.replace(form, MASK)
        lowered = text.lower()  # cheap prefilters: the patterns below are slow on large text
        if "basic" in lowered or "bearer" in lowered:
            text = _SCHEME.sub(_mask_credential, text)
        if "writekey" in lowered or "write_key" in lowered:
            text = _WRITE_KEY_FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._forms)} forms)"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without `secrets` (in every form), without the secrets the process has seen
    (`remember`), and without any Basic/Bearer credential or `writeKey` value.

    The one call for code that prints or stores text that came from outside (an HTTP error body,
    a driver's message): scrub first, then shorten, so no cut can leave part of a secret behind."""
    text = _REGISTRY.scrub(text)
    extra = [s for s in secrets if s]
    return Redactor(*extra).scrub(text) if extra else text


_REGISTRY = Redactor()


#: Shortest value the process-wide registry takes: it scrubs state and plan files too, where a short
#: value could match inside an id or a fingerprint and corrupt them. Real keys and tokens are longer.
MIN_REGISTERED_LENGTH = 8


def remember(secret: str | None) -> None:
    """Register a secret for the whole process: every scrubbed output and written file drops it."""
    if isinstance(secret, str) and len(secret) >= MIN_REGISTERED_LENGTH:
        _REGISTRY.add(secret)


def scrub(text: str) -> str:
    """`text` without any secret the process has registered (and without wire credentials)."""
    return _REGISTRY.scrub(text)


class ScrubbingStream:
    """A text stream that scrubs registered secrets from everything written through it.

    Whole lines are scrubbed at once (a secret never spans a newline); the rest waits for the next
    newline or `flush`, which click and `input()` call before they wait for the user."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            head, _, self._pending = self._pending.rpartition("\n")
            self._inner.write(scrub(head + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._inner.write(scrub(self._pending))
            self._pending = ""
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def scrubbed_stdio() -> Iterator[None]:
    """Route `sys.stdout` and `sys.stderr` through `ScrubbingStream` for the duration."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbingStream(saved[0]), ScrubbingStream(saved[1])
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved
