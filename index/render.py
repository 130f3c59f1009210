"""Plain-text rendering of a QAResult for `newsqa ask` (the bot has its own HTML renderer)."""

from __future__ import annotations

from index.models import QAResult


def render_text(result: QAResult) -> str:
    """Answer, highlighted span in 【】, citation line, then the nearest passages."""
    lines: list[str] = []
    if result.answer is None:
        lines.append("没有在报道中找到答案。最接近的段落：")
    else:
        answer = result.answer
        text = answer.text
        if answer.highlight and answer.highlight in text:
            text = text.replace(answer.highlight, f"【{answer.highlight}】", 1)
        lines.append(text)
        src = answer.source
        lines.append(f"——《{src.article}》 · {src.file} · ¶{src.paragraph}")
    for n, passage in enumerate(result.passages, start=1):
        lines.append(
            f"[{n}] 《{passage.article}》 {passage.file} ¶{passage.paragraph}: {passage.text}"
        )
    return "\n".join(lines)
