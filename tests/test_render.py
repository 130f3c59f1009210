"""`newsqa ask` output: control characters from the stories never reach a terminal raw."""

from __future__ import annotations

import json

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


def test_json_line_escapes_c1_and_stays_valid_json() -> None:
    line = json_line({"text": HOSTILE})
    assert not any(ch in line for ch in "\x1b\x07\x9b")
    assert json.loads(line) == {"text": HOSTILE}
    assert "聂荣县" in line  # Chinese stays readable
