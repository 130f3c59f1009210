"""Questions from the command line and `ask --batch` files, checked before they reach search.

A batch answers line for line: one JSON line out per line in, even when a line cannot be read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from index.errors import InputError


def undecodable_at(text: str) -> int | None:
    """Where the first byte that was not UTF-8 sits (Python keeps such argv bytes as lone
    surrogates), or None when the text is clean."""
    for at, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            return at
    return None


def checked_question(text: str) -> str:
    """The question itself, or InputError when it holds bytes that are not UTF-8."""
    at = undecodable_at(text)
    if at is not None:
        byte = ord(text[at]) - 0xDC00
        raise InputError(f"the question is not valid UTF-8 (byte 0x{byte:02x} at character {at})")
    return text


def question_from_line(raw: bytes, number: int) -> str:
    """One --batch line: split on b"\\n" only, so a "\\r" inside stays part of the question;
    a trailing "\\r" (a CRLF file) is dropped."""
    line = raw.removesuffix(b"\n").removesuffix(b"\r")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"line {number} is not valid UTF-8 (byte 0x{line[exc.start]:02x} at offset {exc.start})"
        ) from exc


@dataclass(frozen=True)
class BatchQuestion:
    """One --batch line: the question and the chat it belongs to (None: a chat of its own)."""

    question: str
    chat: str | None = None


def batch_question(line: str, number: int | None = None) -> BatchQuestion:
    """A JSON line `{"question": "…", "chat": any id}`, or else the line itself as the
    question (plain-text files keep working; each line is then its own chat).

    A JSON object without a "question" string is an InputError, not a question: `{"chat": 1}`
    asked as text would get an answer to a question nobody asked."""
    if line.lstrip().startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if isinstance(data, dict):
            if not isinstance(data.get("question"), str):
                at = "" if number is None else f"line {number}: "
                raise InputError(f'{at}a JSON line needs a "question" string')
            chat = data.get("chat")
            key = None if chat is None else json.dumps(chat, ensure_ascii=False, sort_keys=True)
            return BatchQuestion(data["question"], key)
    return BatchQuestion(line)


def shown_line(raw: bytes) -> str:
    """An unreadable line as it can be echoed back: undecodable bytes written as \\xNN."""
    return raw.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8", "backslashreplace")


def failed_answer(question: str, error: str) -> dict[str, Any]:
    """The JSON for a line that could not be answered: abstained, no passages, and why."""
    return {
        "question": question,
        "abstained": True,
        "answer": None,
        "nearest": None,
        "passages": [],
        "elapsed_ms": 0.0,
        "context": None,
        "gloss": None,
        "error": error,
    }
