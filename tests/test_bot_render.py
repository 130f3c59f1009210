"""Rendering is pure: escaped HTML, bold highlight, citations, ≤4096-character messages."""

from __future__ import annotations

from bot.render import (
    CALLBACK_LIMIT,
    MESSAGE_LIMIT,
    Segment,
    answer_blocks,
    render_answer,
    render_context,
    render_more,
    to_html,
    to_plain,
)
from index.models import AnswerSpan, Paragraph, Passage, PassageContext, QAResult, Source
from tests.fake_bot_api import bold_parts, visible_text

HEADLINE = "那曲市聂荣县:党建搭台强根基 医疗服务惠民生"


def passage(n: int, text: str = "聂荣县 <b>不是标签</b> & 段落", chunk_id: str = "") -> Passage:
    return Passage(chunk_id or f"{n:016x}", text, "001.txt", HEADLINE, 30 + n, 1.0 / n)


def result(passages: int = 5, abstained: bool = False) -> QAResult:
    answer = AnswerSpan(
        "截至目前，已累计完成90余场次远程服务。", "90余场次", Source("001.txt", HEADLINE, 33)
    )
    found = tuple(passage(n) for n in range(1, passages + 1))
    return QAResult("聂荣县远程会诊多少场", abstained, None if abstained else answer, found)


def test_answer_has_bold_highlight_citation_and_three_sources() -> None:
    rendered = render_answer(result(), "zh")
    assert len(rendered.messages) == 1
    html_text = rendered.messages[0]
    shown = visible_text(html_text)
    assert bold_parts(html_text) == ["90余场次"]
    assert f"—— 《{HEADLINE}》 · 001.txt · ¶33" in shown
    assert "3. 《" in shown and "4. 《" not in shown
    assert "聂荣县 <b>不是标签</b> & 段落" in shown  # escaped, so shown literally
    assert "&lt;b&gt;不是标签&lt;/b&gt; &amp;" in html_text


def test_keyboard_buttons_and_callback_data() -> None:
    keyboard = render_answer(result(), "zh").keyboard
    assert keyboard is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard]
    assert rows[0] == [
        ("原文 1", "src:0000000000000001"),
        ("原文 2", "src:0000000000000002"),
        ("原文 3", "src:0000000000000003"),
    ]
    assert rows[1] == [("更多", "more:3"), ("👍", "fb:up"), ("👎", "fb:down")]


def test_a_chunk_id_too_long_for_callback_data_gets_no_button() -> None:
    long_id = "x" * (CALLBACK_LIMIT - len("src:") + 1)
    found = QAResult("q", True, None, (passage(1, chunk_id=long_id), passage(2)))
    keyboard = render_answer(found, "en").keyboard
    assert keyboard is not None
    labels = [b.text for row in keyboard.inline_keyboard for b in row]
    assert "Source 1" not in labels and "Source 2" in labels
    for row in keyboard.inline_keyboard:
        for button in row:
            assert len(str(button.callback_data).encode()) <= CALLBACK_LIMIT


def test_abstention_says_so_and_lists_nearest_passages() -> None:
    zh = visible_text(render_answer(result(abstained=True), "zh").messages[0])
    assert zh.startswith("没有在报道中找到这个问题的答案。最接近的段落：")
    assert "1. 《" in zh
    en = visible_text(render_answer(result(abstained=True), "en").messages[0])
    assert en.startswith("I could not find the answer")


def test_more_page_numbers_on_and_offers_the_next_page() -> None:
    page = [passage(n) for n in (4, 5, 6)]
    rendered = render_more(page, 3, "zh")
    shown = visible_text(rendered.messages[0])
    assert shown.startswith("更多相关段落：")
    assert "4. 《" in shown and "6. 《" in shown
    assert rendered.keyboard is not None
    last_row = rendered.keyboard.inline_keyboard[-1]
    assert [(b.text, b.callback_data) for b in last_row] == [("更多", "more:6")]
    assert render_more([], 9, "en").messages == ("No further passages.",)


def test_long_context_is_one_message_cut_around_the_cited_paragraph() -> None:
    paragraphs = tuple(Paragraph(n, f"第{n}段" + "很长的句子。" * 300) for n in range(1, 6))
    rendered = render_context(PassageContext("c", "001.txt", HEADLINE, paragraphs, focus=3))
    (message,) = rendered.messages  # one "原文" press, one message: never a flood
    assert len(message) <= MESSAGE_LIMIT
    shown = visible_text(message)  # parses on its own (no tag cut in half)
    assert bold_parts(message)[-1].startswith("第3段很长的句子。")
    assert "¶2 第2段" in shown  # the nearest neighbour gets what is left
    assert "第1段" not in shown and "第5段" not in shown
    assert shown.endswith("（原文过长，只显示这一条消息放得下的部分。）")
    english = render_context(PassageContext("c", "001.txt", HEADLINE, paragraphs, 3), "en")
    assert english.messages[0].endswith("it is cut here.)")


def test_a_single_huge_paragraph_is_cut_at_sentences_and_stays_valid() -> None:
    text = "<&>" * 2000 + "。" + "甲" * 5000
    messages = to_html([(Segment("头"), Segment(text, bold=True))])
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)
    assert "".join(visible_text(m) for m in messages) == "头" + text


def test_astral_characters_count_double_as_telegram_counts_them() -> None:
    messages = to_html([(Segment("𠀀" * 3000),)])  # CJK extension B: two UTF-16 units each
    assert len(messages) == 2
    assert all(len(m.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT for m in messages)


def test_plain_text_uses_the_same_wording() -> None:
    plain = to_plain(answer_blocks(result(), "zh"))
    assert "【90余场次】" in plain
    assert f"《{HEADLINE}》 · 001.txt · ¶33" in plain
    assert "相关来源：" in plain
    assert "<" in plain  # no escaping in the terminal
