"""`newsqa ask` output: control characters from the stories never reach a terminal raw."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from index.models import AnswerSpan, Passage, QAResult, Source
from index.render import json_line, render_text, terminal_safe

HOSTILE = "聂荣县\x1b]0;owned\x07完成\x1b[2J90余场次\x9b31m服务"


def test_terminal_safe_escapes_controls_but_keeps_lines() -> None:
    assert terminal_safe("a\nb\tc") == "a\nb\tc"
    assert terminal_safe("\x1b[31mred\x9b") == "\\x1b[31mred\\x9b"
    assert terminal_safe("\r\x00\x7f") == "\\x0d\\x00\\x7f"


def test_render_text_writes_no_raw_escape() -> None:
    passage = Passage("c1", HOSTILE, "a\x1b.txt", "标题\x07", 3, 0.9)
    result = QAResult(
        question="q",
        abstained=False,
        answer=AnswerSpan(HOSTILE, "90余场次", Source("a\x1b.txt", "标题\x07", 3)),
        passages=(passage,),
    )
    text = render_text(result)
    assert not any(ch in text for ch in "\x1b\x07\x9b")
    assert "【90余场次】" in text and "\\x1b]0;owned" in text


def test_an_english_question_gets_a_gloss_line_under_the_citation() -> None:
    source = Source("001.txt", "标题", 3)
    answer = AnswerSpan("已累计完成90余场次远程服务。", "90余场次", source)
    english = QAResult("How many remote consultations?", False, answer)
    lines = render_text(english).split("\n")
    assert lines[:3] == [
        "已累计完成【90余场次】远程服务。",
        "——《标题》 · 001.txt · ¶3",
        "≈ 90+ (场次, sessions)",
    ]
    assert "≈" not in render_text(QAResult("远程会诊多少场", False, answer))


def test_json_line_escapes_c1_and_stays_valid_json() -> None:
    line = json_line({"text": HOSTILE})
    assert not any(ch in line for ch in "\x1b\x07\x9b")
    assert json.loads(line) == {"text": HOSTILE}
    assert "聂荣县" in line  # Chinese stays readable


# U+202E (right-to-left override) makes a terminal show `座七十三` as `三十七座`.
REORDERED = "共建成\u202e座七十三\u202c，\u2066隔离\u2069\u200f\u2028下一行"
FORMAT_CONTROLS = [
    chr(c)
    for c in range(sys.maxunicode + 1)
    if unicodedata.category(chr(c)) == "Cf" or c in (0x2028, 0x2029)
]


def test_terminal_safe_escapes_bidi_and_every_format_control() -> None:
    shown = terminal_safe(REORDERED)
    assert shown == "共建成\\u202e座七十三\\u202c，\\u2066隔离\\u2069\\u200f\\u2028下一行"
    left = [f"U+{ord(ch):04X}" for ch in FORMAT_CONTROLS if ch in terminal_safe(ch)]
    assert not left, left
    assert terminal_safe("\U000e0001") == "\\U000e0001" and terminal_safe("\xad") == "\\xad"


@pytest.mark.parametrize("text", [REORDERED, "".join(FORMAT_CONTROLS)], ids=["bidi", "all"])
def test_json_line_writes_format_controls_as_escapes_and_keeps_the_text(text: str) -> None:
    line = json_line({"text": text})
    assert not any(ch in line for ch in FORMAT_CONTROLS)
    assert json.loads(line) == {"text": text}  # a JSON reader still gets the story as written


def test_render_text_shows_a_bidi_override_instead_of_obeying_it() -> None:
    passage = Passage("c1", REORDERED, "a\u202e.txt", "标题\u2067", 3, 0.9)
    result = QAResult(
        question="q",
        abstained=False,
        answer=AnswerSpan(REORDERED, "座七十三", Source("a\u202e.txt", "标题\u2067", 3)),
        passages=(passage,),
    )
    text = render_text(result)
    assert not any(ch in text for ch in FORMAT_CONTROLS)
    assert "【座七十三】" in text and "a\\u202e.txt" in text
