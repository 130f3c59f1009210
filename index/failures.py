"""Any exception → one line for a person and an exit status that tells the causes apart.

The CLI promises one `Error: …` line per failure; an operator reading the journal should see
what went wrong and where (disk full, read-only folder, no memory), not a stack trace.
Exit statuses follow sysexits(3) where one fits.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index.controls import FORMAT_CONTROLS, shown
from index.errors import NewsqaError

EXIT_ERROR = 1  # newsqa refused: no index, no stories, nothing to roll back to …
EXIT_DATA = 65  # input that is not valid (undecodable bytes)
EXIT_NO_INPUT = 66  # a file or folder that does not exist
EXIT_SOFTWARE = 70  # an unexpected error (a bug): run with -v for the traceback
EXIT_NO_MEMORY = 71  # out of memory
EXIT_READ_ONLY = 73  # the folder cannot be written (read-only filesystem)
EXIT_IO = 74  # disk full, or another input/output error
EXIT_NO_PERMISSION = 77  # permission denied
EXIT_CONFIG = 78  # an invalid NEWSQA_* setting or Telegram token

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
PERMISSION = frozenset({errno.EACCES, errno.EPERM})
MISSING = frozenset({errno.ENOENT, errno.ENOTDIR})
# Every C0 control (the message is one line), C1, and the format controls (bidi overrides).
CONTROL_CHARS = re.compile(f"[\x00-\x1f\x7f-\x9f{FORMAT_CONTROLS}]")
MAX_MESSAGE_CHARS = 400
# numpy's tofile (under np.save) reports a failed write with no errno and no file name.
SHORT_WRITE = re.compile(r"(\d+) requested and (\d+) written")
# SQLite's words for the OS errors it met (sqlite3.OperationalError carries no errno).
SQLITE_OS_ERRORS = {
    "database or disk is full": errno.ENOSPC,
    "attempt to write a readonly database": errno.EROFS,
    "disk I/O error": errno.EIO,
}


@dataclass(frozen=True)
class Failure:
    """What the CLI prints after `Error: ` and the status it exits with."""

    message: str
    exit_status: int


def one_line(text: str) -> str:
    """Collapse whitespace and escape control characters, so the message is one clean line."""
    text = " ".join(text.split())
    text = CONTROL_CHARS.sub(lambda m: shown(m.group()), text)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def _path(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _cause(exc: OSError) -> str:
    """Why, in words: the C library's text, else the one its errno stands for, else the
    message (numpy's short write carries no errno)."""
    if exc.strerror:
        return exc.strerror
    if exc.errno:
        return os.strerror(exc.errno)
    short = SHORT_WRITE.fullmatch(str(exc))
    if short:
        return f"short write: {short[2]} of {short[1]} bytes written"
    return str(exc) or type(exc).__name__


def _existing(path: Path) -> Path:
    """The path, or its nearest ancestor that exists (a folder not created yet)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def _folders(code: int | None, writing: Sequence[Path]) -> str:
    """Where an error that names no file happened, among the folders the command writes:
    the fullest filesystem's for a full disk, the read-only ones for EROFS, else all."""
    chosen = list(writing)
    with contextlib.suppress(OSError):
        stats = [os.statvfs(_existing(folder)) for folder in writing]
        if code == errno.EROFS:
            chosen = [f for f, st in zip(writing, stats, strict=True) if st.f_flag & os.ST_RDONLY]
        elif code in DISK_FULL:
            least = min(st.f_bavail * st.f_frsize for st in stats)
            free = [st.f_bavail * st.f_frsize for st in stats]
            chosen = [f for f, room in zip(writing, free, strict=True) if room == least]
    return " or ".join(_path(folder) for folder in (chosen or writing))


def _os_failure(exc: OSError, writing: Sequence[Path] = ()) -> Failure:
    code = exc.errno
    if code is None and SHORT_WRITE.fullmatch(str(exc)):
        code = errno.ENOSPC  # what a short write to a file almost always means
    where = " ".join(_path(p) for p in (exc.filename, exc.filename2) if p is not None)
    at = f" at {where}" if where else ""
    if not where and writing:
        at = f" under {_folders(code, writing)}"
    reason = _cause(exc)
    if code in DISK_FULL:
        return Failure(f"disk full{at} ({reason})", EXIT_IO)
    if code == errno.EROFS:
        return Failure(f"read-only filesystem{at}: cannot write there ({reason})", EXIT_READ_ONLY)
    if code in PERMISSION:
        return Failure(f"permission denied{at} ({reason})", EXIT_NO_PERMISSION)
    if code in MISSING:
        return Failure(f"not found{at} ({reason})", EXIT_NO_INPUT)
    if code == errno.EISDIR:
        return Failure(f"a folder where a file was expected{at} ({reason})", EXIT_NO_INPUT)
    if code == errno.ENOMEM:
        return Failure(f"out of memory{at} ({reason})", EXIT_NO_MEMORY)
    return Failure(f"input/output error{at} ({reason})", EXIT_IO)


def describe_failure(exc: BaseException, writing: Sequence[Path] = ()) -> Failure:
    """The one line and exit status for any exception that reached the command line.

    `writing`: the folders the command writes, named when a full or read-only disk is
    reported without a file (a plain write(), numpy's tofile, SQLite)."""
    if isinstance(exc, NewsqaError):
        return Failure(one_line(str(exc)), exc.exit_status)
    if isinstance(exc, MemoryError):
        return Failure("out of memory (MemoryError); try a smaller corpus or batch", EXIT_NO_MEMORY)
    if isinstance(exc, OSError):
        failure = _os_failure(exc, writing)
        return Failure(one_line(failure.message), failure.exit_status)
    if isinstance(exc, UnicodeError):
        return Failure(one_line(f"text that cannot be encoded or decoded: {exc}"), EXIT_DATA)
    if type(exc).__module__ == "sqlite3" and str(exc) in SQLITE_OS_ERRORS:
        failure = _os_failure(OSError(SQLITE_OS_ERRORS[str(exc)], str(exc)), writing)
        return Failure(one_line(failure.message), failure.exit_status)
    text = str(exc)
    # C++ libraries (FAISS) report a failed write as RuntimeError carrying the C error text.
    for code, status, what in (
        (errno.ENOSPC, EXIT_IO, "disk full"),
        (errno.EROFS, EXIT_READ_ONLY, "read-only filesystem"),
    ):
        if os.strerror(code) in text:
            return Failure(one_line(f"{what}: {text}"), status)
    name = type(exc).__name__
    return Failure(
        one_line(f"unexpected {name}: {text or name} (run with -v for the traceback)"),
        EXIT_SOFTWARE,
    )
