"""The state store: address → live id (and the attributes last applied), with a lock.

Owns: the `State` value, the local JSON file under `.segprof/state.json` (written atomically),
and the lock every plan-refresh and apply holds. Must never store a secret: callers pass
attributes already redacted for storage (fingerprints instead of secret values).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from segprof.errors import SegprofError
from segprof.redaction import scrub

STATE_FORMAT_VERSION = 1


@dataclass
class StateEntry:
    kind: str
    id: str
    parent_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # as last applied, redacted for storage


@dataclass
class State:
    lineage: str = field(default_factory=lambda: uuid.uuid4().hex)
    serial: int = 0
    resources: dict[str, StateEntry] = field(default_factory=dict)

    def id_of(self, address: str) -> str | None:
        entry = self.resources.get(address)
        return entry.id if entry else None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_FORMAT_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": {addr: asdict(entry) for addr, entry in sorted(self.resources.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], origin: str) -> State:
        if not isinstance(data, dict) or data.get("version") != STATE_FORMAT_VERSION:
            raise SegprofError(
                f"{origin}: not a segprof state file of format version {STATE_FORMAT_VERSION}",
                hint="restore it from version control or remove it and adopt the workspace with `segprof plan`",
            )
        try:
            resources = {
                addr: StateEntry(
                    kind=str(entry["kind"]),
                    id=str(entry["id"]),
                    parent_id=entry.get("parent_id"),
                    attributes=dict(entry.get("attributes") or {}),
                )
                for addr, entry in (data.get("resources") or {}).items()
            }
        except (KeyError, TypeError, AttributeError) as err:
            raise SegprofError(f"{origin}: malformed state entry ({err})") from None
        return cls(
            lineage=str(data.get("lineage") or uuid.uuid4().hex),
            serial=int(data.get("serial", 0)),
            resources=resources,
        )


class StateStore(Protocol):
    """Where state lives. `write` stores `state` and advances its serial; `lock` is held around
    every plan refresh and apply, refusing (after `timeout` seconds) with the holder named."""

    def describe(self) -> str: ...

    def read(self) -> State: ...

    def write(self, state: State) -> None: ...

    def lock(self, operation: str, timeout: float) -> contextlib.AbstractContextManager[None]: ...


class LocalStateStore:
    """State in a JSON file; the lock is an advisory `flock` released even if the process dies."""

    def __init__(self, folder: Path, key: str = "default") -> None:
        self.folder = folder
        # one file per state key: each environment keeps its own (`state.<key>.json`)
        stem = "state" if key == "default" else f"state.{key}"
        self.path = folder / f"{stem}.json"
        self.lock_path = folder / f"{stem}.lock"

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> State:
        if not self.path.exists():
            return State()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError) as err:
            raise SegprofError(f"{self.path}: cannot read the state file ({err})") from None
        return State.from_json(data, str(self.path))

    def write(self, state: State, *, advance: bool = True) -> None:
        """Write the file atomically; `advance=False` keeps the serial (a copy, e.g. `state pull`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if advance:
            state.serial += 1
        # Attributes are redacted for storage already; the scrub catches a secret in any other form.
        text = scrub(json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n")
        fd, tmp = tempfile.mkstemp(prefix=".state.", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
        try:
            deadline = time.monotonic() + max(timeout, 0.0)
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SegprofError(
                            f"the state is locked by {_describe_holder(self.lock_path)}",
                            hint=LOCK_HINT,
                        ) from None
                    time.sleep(0.1)
            holder = holder_of(operation)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(holder))
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                handle.flush()
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()


LOCK_HINT = "wait for it to finish, or pass --lock-timeout SECONDS to wait longer"


def holder_of(operation: str) -> dict[str, Any]:
    """Who takes a lock: the operation, this process and where it runs (never a secret)."""
    return {
        "operation": operation,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": _user(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def describe_holder(holder: dict[str, Any]) -> str:
    """A lock holder as the refusal names it, the same for every store."""
    if not holder:
        return "another segprof process"
    return (
        f"`segprof {holder.get('operation', '?')}` (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
        f"user {holder.get('user', '?')}, since {holder.get('since', '?')})"
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def _describe_holder(lock_path: Path) -> str:
    try:
        holder = json.loads(lock_path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError, RecursionError):
        holder = {}
    return describe_holder(holder if isinstance(holder, dict) else {})
