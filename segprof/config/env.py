"""`${VAR}` / `${VAR:-default}` interpolation of YAML string values, and the project's `.env` file.

Owns reading `.env` and substituting variables in place in a YAML tree. Must never put a
variable's value into a diagnostic: messages name variables, never their contents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from segprof.config.diagnostic import Diagnostic, error
from segprof.config.yamltree import YMap, YNode, YScalar, YSeq, position
from segprof.errors import Location

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}?")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_dotenv(path: Path) -> tuple[dict[str, str], list[Diagnostic]]:
    """KEY=VALUE lines (optional `export`, quotes, `#` comments) of a `.env` file, if present."""
    values: dict[str, str] = {}
    diagnostics: list[Diagnostic] = []
    if not path.is_file():
        return values, diagnostics
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return values, [error("env.file", "cannot read .env as UTF-8 text", Location(path.name))]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _NAME.match(key):
            diagnostics.append(
                error("env.file", "expected KEY=VALUE in .env", Location(path.name, number, 1))
            )
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values, diagnostics


class Interpolator:
    """Substitutes variables in every string scalar of a tree; the environment wins over `.env`."""

    def __init__(self, environ: Mapping[str, str], dotenv: Mapping[str, str]) -> None:
        self.environ = environ
        self.dotenv = dotenv

    def lookup(self, name: str) -> str | None:
        if name in self.environ:
            return self.environ[name]
        return self.dotenv.get(name)

    def apply(self, node: YNode | None, text: str) -> list[Diagnostic]:
        diagnostics: list[Diagnostic] = []
        stack: list[YNode | None] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, YMap):
                stack.extend(value for _, value in current.entries.values())
            elif isinstance(current, YSeq):
                stack.extend(current.items)
            elif isinstance(current, YScalar) and isinstance(current.value, str) and "${" in current.value:
                current.value = self._substitute(current, text, diagnostics)
        return diagnostics

    def _substitute(self, scalar: YScalar, text: str, diagnostics: list[Diagnostic]) -> str:
        value: str = scalar.value

        def where(ref: str) -> Location:
            # point at the reference itself in the file when we can find it, else at the scalar
            index = text.find(ref, scalar.start, scalar.end) if scalar.end > scalar.start else -1
            if index < 0:
                return scalar.loc
            line, col = position(text, index)
            return Location(scalar.loc.file, line, col)

        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            if whole == "$${":
                return "${"
            body = match.group(1)
            if not whole.endswith("}"):
                diagnostics.append(
                    error(
                        "env.syntax",
                        "unclosed `${` in value",
                        where(whole),
                        hint="write `$${` for a literal `${`",
                    )
                )
                return whole
            name, sep, default = body.partition(":-")
            if not _NAME.match(name):
                diagnostics.append(
                    error(
                        "env.syntax",
                        f"invalid variable reference `${{{body}}}`",
                        where(whole),
                        hint="use ${NAME} or ${NAME:-default}; write `$${` for a literal `${`",
                    )
                )
                return whole
            found = self.lookup(name)
            if sep:
                return found if found else default
            if found is None:
                diagnostics.append(
                    error(
                        "env.unset",
                        f"environment variable {name} is not set",
                        where(whole),
                        hint=f"set {name} in the environment or in .env, or write ${{{name}:-default}}",
                    )
                )
                return ""
            return found

        return _REFERENCE.sub(replace, value)
