"""Any exception → one line and an exit status that names its cause."""

from __future__ import annotations

import errno

import pytest

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
