"""Identifier formats of the emulated workspace.

Owns: generating ids shaped like Segment's (22-char base58 for sources, models and subscriptions,
24-hex for destinations, 32-char write keys, numeric sync ids) and stable synthetic ids derived from
names. Must never reuse randomness that the fault injector seeds: ids come from `secrets`.
"""

from __future__ import annotations

import hashlib
import secrets

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
WRITE_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def base58_id(length: int = 22) -> str:
    """A random id like `hMgBoC3nJYSkCuEQ2Mq3bF` (sources, models, subscriptions)."""
    return "".join(secrets.choice(BASE58) for _ in range(length))


def hex_id() -> str:
    """A random 24-hex id like `68abfe7eacb3221e16dc5890` (destinations)."""
    return secrets.token_hex(12)


def write_key() -> str:
    """A random 32-character write key."""
    return "".join(secrets.choice(WRITE_KEY_ALPHABET) for _ in range(32))


def stable_base58(*parts: str, length: int = 22) -> str:
    """A deterministic base58 id derived from names (catalog field ids, workspace ids)."""
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    out = []
    for _ in range(length):
        digest, rem = divmod(digest, 58)
        out.append(BASE58[rem])
    return "".join(out)
