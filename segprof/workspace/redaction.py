"""Scrubbing of secrets from any text the client produces.

Owns: `Redactor`, which knows the secret values of one client (the API token, plus any value a
caller registers, such as a write key or a warehouse password) and removes them, and any
`Bearer …` credential, from messages before they become errors or log lines. Must never store
secrets anywhere but in memory, nor expose them through `repr`.
"""

from __future__ import annotations

import re

#: Settings keys whose values are secrets (warehouse credentials, the Profile Space write key).
SECRET_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|private_?key|key_?pair|passphrase|credential|write_?key|engage_space|api_?key)"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",;]+")
MASK = "[redacted]"


class Redactor:
    """Remembers secret values and removes them from text."""

    def __init__(self, *secrets: str | None) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        # Very short values would blank out ordinary words; a real secret is never that short.
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

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

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return _BEARER.sub(rf"\g<1>{MASK}", text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"
