"""JSON bodies of the emulated Public API: one fast encoder for responses, one strict decoder for requests.

Owns: `encode` (compact UTF-8 JSON, the same value Starlette's `JSONResponse` would send: orjson
when it can, the stdlib's compact form for what orjson refuses, such as integers beyond 64 bits or
non-string keys), `decode` (JSON as Segment reads it: `NaN` and `Infinity` are not JSON, and
integers keep every digit) and `json_response`, a response over bytes encoded once. Must never
change a value, only how fast it is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

try:  # orjson encodes the large catalog-bearing bodies ~10x faster than the stdlib.
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the installation
    _orjson = None

MEDIA_TYPE = "application/json"

# What Starlette's JSONResponse does; also the fallback for values orjson refuses.
_stdlib = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _stdlib_encode(value: Any) -> bytes:
    return _stdlib.encode(value).encode("utf-8")


if _orjson is not None:
    _dumps = _orjson.dumps

    def encode(value: Any) -> bytes:
        """Compact JSON bytes of `value`."""
        try:
            return _dumps(value)
        except TypeError:  # orjson.JSONEncodeError: big integers, non-string keys, ...
            return _stdlib_encode(value)

else:  # pragma: no cover - depends on the installation
    encode = _stdlib_encode


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(raw: bytes | str) -> Any:
    """Parse strict JSON; raises ValueError for anything else (including NaN and Infinity).

    The stdlib, not orjson: orjson turns integers beyond 64 bits into floats, losing digits.
    """
    return json.loads(raw, parse_constant=_reject_constant)


def json_response(body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response; `body` may be bytes already encoded (a cached body) or a JSON value."""
    content = body if isinstance(body, bytes) else encode(body)
    return Response(content, status_code=status_code, headers=headers, media_type=MEDIA_TYPE)
