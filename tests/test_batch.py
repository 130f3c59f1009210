"""Questions from argv and --batch lines: undecodable bytes are named, never passed on."""

from __future__ import annotations

import pytest

from index.batch import (
    checked_question,
    failed_answer,
    question_from_line,
    shown_line,
    undecodable_at,
)
from index.errors import InputError


def test_clean_questions_pass_unchanged() -> None:
    assert checked_question("聂荣县远程会诊多少场") == "聂荣县远程会诊多少场"
    assert undecodable_at("plain") is None


def test_argv_bytes_that_are_not_utf8_are_refused_with_the_byte() -> None:
    argv = b"\xe8\x81\x82\xff?".decode("utf-8", "surrogateescape")
    assert undecodable_at(argv) == 1
    with pytest.raises(InputError, match=r"not valid UTF-8 \(byte 0xff at character 1\)"):
        checked_question(argv)


def test_lines_split_on_newline_only() -> None:
    assert question_from_line("甲\r乙\n".encode(), 1) == "甲\r乙"
    assert question_from_line("甲乙\r\n".encode(), 1) == "甲乙"
    assert question_from_line(b"last line without newline", 9) == "last line without newline"


def test_an_undecodable_line_names_its_number_and_byte() -> None:
    with pytest.raises(InputError, match=r"line 3 is not valid UTF-8 \(byte 0xfe at offset 2\)"):
        question_from_line(b"ab\xfecd\n", 3)
    assert shown_line(b"ab\xfecd\r\n") == "ab\\xfecd"


def test_failed_answer_has_the_answer_shape_plus_error() -> None:
    row = failed_answer("q", "why")
    assert row == {
        "question": "q",
        "abstained": True,
        "answer": None,
        "passages": [],
        "elapsed_ms": 0.0,
        "context": None,
        "error": "why",
    }
