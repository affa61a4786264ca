"""Writing the files a command produces (saved plans, schema snapshots) safely.

Owns `write_atomically`: the whole file or nothing (a temporary file in the same folder, then a
rename), and a clear `SegprofError` naming the path when the place cannot be written (a folder
that is a file, a read-only folder, a full disk). Must never leave a partial or temporary file behind.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from segprof.errors import SegprofError
from segprof.redaction import scrub

_REASONS = {
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a part of the path is a file, not a folder",  # mkdir over a file
    errno.EISDIR: "the path is a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "a symbolic link loop",
}


def describe_os_error(err: OSError) -> str:
    """A short, path-free reason for an OS error."""
    return _REASONS.get(err.errno or 0) or (err.strerror or type(err).__name__).lower()


def write_atomically(path: Path, text: str, *, what: str) -> None:
    """Write `text` to `path` whole, or raise `SegprofError("cannot write <what> to <path>: …")`.

    The text is scrubbed of every secret the process has registered before it reaches the disk."""
    text = scrub(text)
    tmp: str | None = None
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        raise SegprofError(f"cannot write {what} to {path}: {describe_os_error(err)}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
