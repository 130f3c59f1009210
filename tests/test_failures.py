"""Any exception → one line and an exit status that names its cause."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.cli import main
from index.errors import BuildBusyError, IndexNotFoundError, InputError
from index.failures import (
    EXIT_DATA,
    EXIT_ERROR,
    EXIT_IO,
    EXIT_NO_INPUT,
    EXIT_NO_MEMORY,
    EXIT_NO_PERMISSION,
    EXIT_READ_ONLY,
    EXIT_SOFTWARE,
    describe_failure,
    one_line,
)


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        (errno.ENOSPC, EXIT_IO, "disk full"),
        (errno.EDQUOT, EXIT_IO, "disk full"),
        (errno.EROFS, EXIT_READ_ONLY, "read-only filesystem"),
        (errno.EACCES, EXIT_NO_PERMISSION, "permission denied"),
        (errno.ENOENT, EXIT_NO_INPUT, "not found"),
        (errno.EIO, EXIT_IO, "input/output error"),
    ],
)
def test_os_errors_name_the_cause_and_the_path(code: int, status: int, words: str) -> None:
    failure = describe_failure(OSError(code, "strerror text", "/srv/index/generations/x"))
    assert failure.exit_status == status
    assert failure.message.startswith(words)
    assert "/srv/index/generations/x" in failure.message


def test_statuses_tell_the_causes_apart() -> None:
    statuses = {
        describe_failure(exc).exit_status
        for exc in (
            OSError(errno.ENOSPC, "full"),
            OSError(errno.EROFS, "ro"),
            OSError(errno.EACCES, "denied"),
            MemoryError(),
            InputError("bad bytes"),
            IndexNotFoundError("none"),
            BuildBusyError("busy"),
            KeyError("bug"),
        )
    }
    assert len(statuses) == 8 and 0 not in statuses and 2 not in statuses


def test_newsqa_errors_keep_their_own_status() -> None:
    assert describe_failure(IndexNotFoundError("no index under x")).exit_status == EXIT_ERROR
    assert describe_failure(InputError("line 2 is not valid UTF-8")).exit_status == EXIT_DATA
    assert describe_failure(BuildBusyError("another build")).exit_status == 75


def test_memory_error_has_no_message_of_its_own_but_gets_one() -> None:
    failure = describe_failure(MemoryError())
    assert failure.exit_status == EXIT_NO_MEMORY and "out of memory" in failure.message


def test_a_library_reporting_enospc_as_text_is_disk_full() -> None:
    faiss_style = RuntimeError(
        "Error in faiss::FileIOWriter at impl/io.cpp:98:\n"
        "  could not open x: No space left on device"
    )
    failure = describe_failure(faiss_style)
    assert failure.exit_status == EXIT_IO and failure.message.startswith("disk full")
    assert "\n" not in failure.message


def test_anything_else_is_unexpected_and_points_at_verbose() -> None:
    failure = describe_failure(KeyError("article"))
    assert failure.exit_status == EXIT_SOFTWARE
    assert "KeyError" in failure.message and "-v" in failure.message


def test_bytes_and_undecodable_paths_stay_printable() -> None:
    undecodable = b"/srv/stories/caf\xe9.txt".decode("utf-8", "surrogateescape")
    message = describe_failure(OSError(errno.EACCES, "denied", undecodable)).message
    assert "caf\\xe9.txt" in message
    message.encode("utf-8")  # no lone surrogate left
    assert "caf\\xe9" in describe_failure(OSError(errno.EIO, "io", b"caf\xe9")).message


def test_one_line_collapses_and_escapes() -> None:
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("\x1b]0;title\x07x") == "\\x1b]0;title\\x07x"
    assert len(one_line("长" * 1000)) == 400


def test_one_line_escapes_bidi_controls_in_a_path() -> None:
    message = describe_failure(OSError(errno.ENOSPC, "No space left", "/srv/\u202eexe.txt")).message
    assert "\u202e" not in message and "/srv/\\u202eexe.txt" in message


# What a full disk raises where no file is named: a plain write(), numpy's tofile (np.save),
# SQLite. The failing command names the folders it writes, and the message names them.
UNNAMED_DISK_FULL = [
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EDQUOT, None),
    OSError("100000 requested and 8176 written"),
    sqlite3.OperationalError("database or disk is full"),
]


@pytest.mark.parametrize("exc", UNNAMED_DISK_FULL, ids=["write", "quota", "np.save", "sqlite"])
def test_disk_full_without_a_file_names_the_folder_written_and_the_cause(
    exc: Exception, tmp_path: Path
) -> None:
    failure = describe_failure(exc, writing=[tmp_path / "index"])
    assert failure.exit_status == EXIT_IO
    assert failure.message.startswith("disk full under ")
    assert str(tmp_path / "index") in failure.message
    cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
    cause = cause or (os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else None)
    if str(exc) == "100000 requested and 8176 written":
        cause = "short write: 8176 of 100000 bytes written"
    assert (cause or str(exc)) in failure.message


def test_disk_full_names_the_fullest_of_the_folders_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, roomy = tmp_path / "index", tmp_path / "cache"
    full.mkdir()
    roomy.mkdir()
    real = os.statvfs

    def free_space(path: str) -> object:
        stat = real(path)
        if Path(path) == roomy:
            return stat
        fields = list(stat)
        fields[4] = 0  # f_bavail
        return os.statvfs_result(fields)

    monkeypatch.setattr(os, "statvfs", free_space)
    message = describe_failure(OSError(errno.ENOSPC, "No space"), writing=[roomy, full]).message
    assert f"under {full} (" in message and str(roomy) not in message


def test_read_only_without_a_file_names_the_read_only_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen, writable = tmp_path / "index", tmp_path / "cache"
    frozen.mkdir()
    writable.mkdir()
    real = os.statvfs

    def flags(path: str) -> object:
        fields = list(real(path))
        if Path(path) == frozen:
            fields[8] |= os.ST_RDONLY  # f_flag
        return os.statvfs_result(fields)

    monkeypatch.setattr(os, "statvfs", flags)
    failure = describe_failure(OSError(errno.EROFS, "Read-only"), writing=[writable, frozen])
    assert failure.exit_status == EXIT_READ_ONLY
    assert str(frozen) in failure.message and str(writable) not in failure.message


def test_a_named_file_wins_over_the_folders_and_an_errno_alone_still_gives_the_cause() -> None:
    failure = describe_failure(OSError(errno.ENOSPC, None, "/srv/x.npy"), writing=[Path("/srv")])
    assert failure.message == f"disk full at /srv/x.npy ({os.strerror(errno.ENOSPC)})"
    assert describe_failure(OSError("odd")).message == "input/output error (odd)"


def test_the_cli_names_the_folder_a_full_disk_stopped_it_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(settings: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")  # a plain write(): no file

    monkeypatch.setattr("index.backends.factory.rollback", full)
    index_dir = tmp_path / "index"
    ran = CliRunner().invoke(main, ["index", "rollback", "--index", str(index_dir)])
    assert ran.exit_code == EXIT_IO
    assert ran.stderr == f"Error: disk full under {index_dir} (No space left on device)\n"
