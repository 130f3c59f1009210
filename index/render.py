"""Plain-text rendering of a QAResult for `newsqa ask` (the bot has its own HTML renderer)."""

from __future__ import annotations

import json
from typing import Any

from index.controls import JSON_RAW_CONTROLS, TERMINAL_CONTROLS, json_escape, shown
from index.gloss import gloss_line
from index.models import QAResult


def terminal_safe(text: str) -> str:
    """Text for a terminal: control and format characters from the stories are shown as
    escapes (\\x1b, \\u202e), not obeyed; \\n and \\t stay."""
    return TERMINAL_CONTROLS.sub(lambda m: shown(m.group()), text)


def json_line(data: dict[str, Any]) -> str:
    """One JSON object on one line, Chinese kept readable, no raw control character: the
    characters the terminal path shows escaped are JSON escapes here (\\u202e)."""
    text = json.dumps(data, ensure_ascii=False)
    return JSON_RAW_CONTROLS.sub(lambda m: json_escape(m.group()), text)


def render_text(result: QAResult) -> str:
    """Answer, highlighted span in 【】, citation line, then the nearest passages."""
    lines: list[str] = []
    if result.context is not None:
        lines.append(f"（接上文：{_titled(result.context.headline) or result.context.file}）")
    if result.answer is None:
        lines.append("没有在报道中找到答案。最接近的段落：")
    else:
        answer = result.answer
        text = answer.text
        if answer.highlight and answer.highlight in text:
            text = text.replace(answer.highlight, f"【{answer.highlight}】", 1)
        lines.append(text)
        src = answer.source
        cited = [_titled(src.article), src.file, f"¶{src.paragraph}"]
        lines.append("——" + " · ".join(part for part in cited if part))
        gloss = gloss_line(result)
        if gloss:
            lines.append(gloss)
    for n, passage in enumerate(result.passages, start=1):
        where = [_titled(passage.article), passage.file, f"¶{passage.paragraph}:"]
        lines.append(f"[{n}] " + " ".join(part for part in where if part) + f" {passage.text}")
    return terminal_safe("\n".join(lines))


def _titled(headline: str) -> str:
    """《headline》, or "" for an untitled passage: never an empty 《》."""
    return f"《{headline.strip()}》" if headline.strip() else ""
