"""SQLite files that only save time (the embedding and analysis caches): opened checked, moved
aside when corrupt, skipped with a warning when locked, so a cache never stops a build."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from index.errors import BuildError
from index.failures import DISK_FULL, EXIT_IO, EXIT_NO_PERMISSION, EXIT_READ_ONLY, PERMISSION
from index.reuse import collect_stale

log = logging.getLogger(__name__)

T = TypeVar("T")

# sqlite's primary result codes (the low byte of `sqlite_errorcode`).
SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def connect_checked(path: Path, schema: str, lock_timeout_s: float) -> sqlite3.Connection:
    """A connection to `path` that passed sqlite's quick check, with `schema` created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=lock_timeout_s, check_same_thread=False)
    try:
        (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {verdict}")
        db.executescript(schema)
        db.commit()
    except BaseException:
        db.close()
        raise
    return db


class CacheDirError(BuildError):
    """The cache folder cannot be written: refused before a build does any work."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def check_cache_dir(cache_dir: Path) -> None:
    """Make sure the build can write `cache_dir` (NEWSQA_CACHE_DIR), or raise CacheDirError
    naming it and the cause; then remove what killed builds left there (`collect_stale`:
    every build starts here, daily deltas included, which keep no arrays of their own).
    A corrupt or locked cache file only costs time, but a cache folder that is a file or
    cannot be written would fail the build after it embedded everything, so it is tried
    first, by making and removing a file in it."""
    where = f"cache folder {cache_dir} (NEWSQA_CACHE_DIR)"
    if cache_dir.exists() and not cache_dir.is_dir():
        raise CacheDirError(f"{where} is a file, not a folder", EXIT_IO)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".writable-", dir=cache_dir)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.errno == errno.EROFS:
            raise CacheDirError(f"{where} is on a read-only filesystem", EXIT_READ_ONLY) from exc
        if exc.errno in PERMISSION:
            raise CacheDirError(f"{where} cannot be written: {reason}", EXIT_NO_PERMISSION) from exc
        if exc.errno in DISK_FULL:
            raise CacheDirError(f"{where}: disk full ({reason})", EXIT_IO) from exc
        if exc.errno == errno.ENOTDIR:
            raise CacheDirError(
                f"{where}: a part of its path is a file ({reason})", EXIT_IO
            ) from exc
        raise CacheDirError(f"{where} cannot be made or written: {reason}", EXIT_IO) from exc
    collect_stale(cache_dir)


def open_cache(make: Callable[[], T], path: Path, what: str, lock_timeout_s: float) -> T | None:
    """`make()` (which opens the cache at `path`); a corrupt file is moved aside and made
    afresh; None, with a warning naming `what`, when it is locked past `lock_timeout_s` or
    cannot be made at all."""
    try:
        return make()
    except sqlite3.OperationalError as exc:
        if _sqlite_code(exc) not in (SQLITE_BUSY, SQLITE_LOCKED):
            log.warning("%s %s unusable (%s); building without it", what, path, exc)
            return None
        log.warning(
            "%s %s is locked by another process after %.0f s; building without it",
            what,
            path,
            lock_timeout_s,
        )
        return None
    except sqlite3.DatabaseError as exc:
        aside = move_aside(path)
        log.warning("%s %s is corrupt (%s); moved to %s", what, path, exc, aside.name)
    except OSError as exc:
        log.warning("%s %s cannot be opened (%s); building without it", what, path, exc)
        return None
    try:
        return make()
    except (sqlite3.Error, OSError) as exc:
        log.warning("%s %s unusable (%s); building without it", what, path, exc)
        return None


def move_aside(path: Path) -> Path:
    """Rename a damaged file (and its journal) out of the way, keeping it for inspection."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-journal", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.replace(Path(f"{aside}{suffix}"))
    return aside


def _sqlite_code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
