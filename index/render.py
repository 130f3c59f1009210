"""Plain-text rendering of a QAResult for `newsqa ask` (the bot has its own HTML renderer)."""

from __future__ import annotations

import json
from typing import Any

from index.controls import JSON_RAW_CONTROLS, TERMINAL_CONTROLS, json_escape, shown
from index.gloss import gloss_line, place_in_english
from index.models import QAResult
from index.question import is_english


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
    if result.answer is None and result.nearest is not None:
        near = result.nearest
        lines.append(not_asked_note(result, english=is_english(result.question)))
        lines.append(near.text)
        cited = [_titled(near.source.article), near.source.file, f"¶{near.source.paragraph}"]
        lines.append("——" + " · ".join(part for part in cited if part))
    elif result.answer is None:
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


NOT_ASKED = {
    False: "报道中没有{asked}的这项内容。相近的是{found}的（不是所问的{asked}）：",
    True: "The stories do not give this for {asked}. Nearest, for {found} (not {asked}):",
}


def not_asked_note(result: QAResult, english: bool) -> str:
    """What the abstention says when the stories hold the fact for another place, year or
    batch: what was asked, and what the nearest fact is about instead."""
    joiner = ", " if english else "、"
    asked = joiner.join(d.asked for d in result.differs)
    found = joiner.join(_found(d.found, english) for d in result.differs)
    return NOT_ASKED[english].format(asked=asked, found=found)


def _found(name: str, english: bool) -> str:
    """The evidence's place as written, spelled for an English reader: 聂荣县 (Nierong County)."""
    spelled = place_in_english(name) if english else None
    return f"{name} ({spelled})" if spelled else name


def _titled(headline: str) -> str:
    """《headline》, or "" for an untitled passage: never an empty 《》."""
    return f"《{headline.strip()}》" if headline.strip() else ""
