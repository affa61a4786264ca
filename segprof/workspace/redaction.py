"""The client's redaction: the shared `segprof.redaction` (kept importable here for the client).

Must never hold redaction rules of its own.
"""

from segprof.redaction import MASK, SECRET_KEY, Redactor

__all__ = ["MASK", "SECRET_KEY", "Redactor"]
