"""Any exception → one line for a person and an exit status that tells the causes apart.

The CLI promises one `Error: …` line per failure; an operator reading the journal should see
what went wrong and where (disk full, read-only folder, no memory), not a stack trace.
Exit statuses follow sysexits(3) where one fits.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass

from index.controls import FORMAT_CONTROLS, shown
from index.errors import NewsqaError

EXIT_ERROR = 1  # newsqa refused: no index, no stories, another build running …
EXIT_DATA = 65  # input that is not valid (undecodable bytes)
EXIT_NO_INPUT = 66  # a file or folder that does not exist
EXIT_SOFTWARE = 70  # an unexpected error (a bug): run with -v for the traceback
EXIT_NO_MEMORY = 71  # out of memory
EXIT_READ_ONLY = 73  # the folder cannot be written (read-only filesystem)
EXIT_IO = 74  # disk full, or another input/output error
EXIT_NO_PERMISSION = 77  # permission denied

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
PERMISSION = frozenset({errno.EACCES, errno.EPERM})
MISSING = frozenset({errno.ENOENT, errno.ENOTDIR})
# Every C0 control (the message is one line), C1, and the format controls (bidi overrides).
CONTROL_CHARS = re.compile(f"[\x00-\x1f\x7f-\x9f{FORMAT_CONTROLS}]")
MAX_MESSAGE_CHARS = 400


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


def _os_failure(exc: OSError) -> Failure:
    where = " ".join(_path(p) for p in (exc.filename, exc.filename2) if p is not None)
    reason = exc.strerror or type(exc).__name__
    at = f" at {where}" if where else ""
    if exc.errno in DISK_FULL:
        return Failure(f"disk full{at} ({reason})", EXIT_IO)
    if exc.errno == errno.EROFS:
        return Failure(f"read-only filesystem{at}: cannot write there ({reason})", EXIT_READ_ONLY)
    if exc.errno in PERMISSION:
        return Failure(f"permission denied{at} ({reason})", EXIT_NO_PERMISSION)
    if exc.errno in MISSING:
        return Failure(f"not found{at} ({reason})", EXIT_NO_INPUT)
    if exc.errno == errno.ENOMEM:
        return Failure(f"out of memory{at} ({reason})", EXIT_NO_MEMORY)
    return Failure(f"input/output error{at} ({reason})", EXIT_IO)


def describe_failure(exc: BaseException) -> Failure:
    """The one line and exit status for any exception that reached the command line."""
    if isinstance(exc, NewsqaError):
        return Failure(one_line(str(exc)), exc.exit_status)
    if isinstance(exc, MemoryError):
        return Failure("out of memory (MemoryError); try a smaller corpus or batch", EXIT_NO_MEMORY)
    if isinstance(exc, OSError):
        failure = _os_failure(exc)
        return Failure(one_line(failure.message), failure.exit_status)
    if isinstance(exc, UnicodeError):
        return Failure(one_line(f"text that cannot be encoded or decoded: {exc}"), EXIT_DATA)
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
