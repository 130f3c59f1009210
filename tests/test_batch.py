"""Questions from argv and --batch lines: undecodable bytes are named, never passed on."""

from __future__ import annotations

import json

import pytest

from index.batch import (
    batch_question,
    checked_question,
    failed_answer,
    question_from_line,
    shown_line,
    undecodable_at,
)
from index.cli import _answer_line
from index.conversation import Conversations
from index.errors import InputError
from index.models import QAResult


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
        "nearest": None,
        "passages": [],
        "elapsed_ms": 0.0,
        "context": None,
        "gloss": None,
        "error": "why",
    }


@pytest.mark.parametrize(
    "line",
    ['{"chat": 1}', '{"question": 5, "chat": "a"}', '{"question": null}', '{"Question": "q"}'],
)
def test_a_json_line_without_a_question_string_is_refused_with_its_number(line: str) -> None:
    with pytest.raises(InputError, match=r'^line 4: a JSON line needs a "question" string'):
        batch_question(line, 4)


def test_a_json_line_without_a_question_gets_its_own_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Echo:
        """Answers whatever it is asked with nothing found, naming the question."""

        def answer(self, question: str, context: object = None) -> QAResult:
            return QAResult(question=question, abstained=True, answer=None, passages=())

    chats = Conversations(idle_s=float("inf"))
    for number, raw in enumerate([b'{"chat": 1}\n', "问题\n".encode()], start=1):
        _answer_line(Echo(), raw, number, True, chats)  # type: ignore[arg-type]
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["question"] == '{"chat": 1}' and first["abstained"] is True
    assert first["answer"] is None and first["error"].startswith("line 1: ")
    assert second["question"] == "问题" and "error" not in second
