"""Rendering is pure: the answer message's every element (bold span, one citation line,
folded sources grouped by article, 原文 per article), HTML escaping, long quotes, and
Telegram's 4,096-unit limit counted in UTF-16 code units."""

from __future__ import annotations

from bot.render import (
    CALLBACK_LIMIT,
    GROUP_STYLE,
    MESSAGE_LIMIT,
    AnswerStyle,
    Segment,
    answer_blocks,
    article_sources,
    cut_quote,
    reader_citation,
    render_answer,
    render_context,
    render_more,
    to_html,
    to_plain,
)
from index.models import AnswerSpan, Paragraph, Passage, PassageContext, QAResult, Source, Topic
from tests.fake_bot_api import block_quotes, bold_parts, visible_text

HEADLINE = "那曲市聂荣县:党建搭台强根基 医疗服务惠民生"
OTHER = "草原生态修复"
FILE = "001_a156c6055a039714.txt"
OTHER_FILE = "002_046523daf5b7182a.txt"


def passage(n: int, text: str = "聂荣县 <b>不是标签</b> & 段落", chunk_id: str = "") -> Passage:
    """Passages 1-3 from the answer's article (3 is the quoted one), 4-5 from another."""
    file, headline = (FILE, HEADLINE) if n <= 3 else (OTHER_FILE, OTHER)
    return Passage(
        chunk_id or f"{n:016x}",
        f"{text}{n}",
        file,
        headline,
        30 + n,
        1.0 / n,
        article_paragraph=n,
    )


def result(passages: int = 5, abstained: bool = False, story: str = "") -> QAResult:
    source = Source(FILE, HEADLINE, 33, article_paragraph=3, story=story)
    answer = AnswerSpan("截至目前，已累计完成90余场次远程服务。", "90余场次", source)
    found = tuple(passage(n) for n in (3, 1, 4, 2, 5)[:passages])
    return QAResult("聂荣县远程会诊多少场", abstained, None if abstained else answer, found)


def test_answer_is_the_bold_span_one_citation_line_and_folded_sources() -> None:
    rendered = render_answer(result(), "zh")
    (html_text,) = rendered.messages
    shown = visible_text(html_text)
    quote, citation, *_ = shown.split("\n")
    assert quote == "截至目前，已累计完成90余场次远程服务。"
    assert bold_parts(html_text) == ["90余场次"]
    assert citation == f"—— 《{HEADLINE}》 · 第3段"
    assert FILE not in shown and "¶" not in shown
    [(sources, folded)] = block_quotes(html_text)
    assert folded and html_text.count("<blockquote expandable>") == 1
    assert sources == (
        f"相关来源：\n1. 《{HEADLINE}》\n"
        "第1段：聂荣县 <b>不是标签</b> & 段落1\n第2段：聂荣县 <b>不是标签</b> & 段落2\n"
        f"2. 《{OTHER}》\n"
        "第4段：聂荣县 <b>不是标签</b> & 段落4\n第5段：聂荣县 <b>不是标签</b> & 段落5"
    )
    assert "段落3" not in shown  # the quoted paragraph is never repeated as a source


def test_story_text_and_headlines_are_escaped() -> None:
    answer = AnswerSpan("a<b>&c 90余场次", "90余场次", Source(FILE, "<i>标题</i>&", 33, 2))
    html_text = render_answer(QAResult("q", False, answer, (passage(4),)), "zh").messages[0]
    assert "a&lt;b&gt;&amp;c <b>90余场次</b>" in html_text
    assert "《&lt;i&gt;标题&lt;/i&gt;&amp;》" in html_text
    assert "聂荣县 &lt;b&gt;不是标签&lt;/b&gt; &amp; 段落4" in html_text
    assert visible_text(html_text).startswith("a<b>&c 90余场次\n—— 《<i>标题</i>&》 · 第2段")


def test_display_name_joins_the_citation_and_untitled_passages_say_so() -> None:
    shown = visible_text(render_answer(result(story="西藏日报 第3版"), "zh").messages[0])
    assert f"—— 《{HEADLINE}》 · 西藏日报 第3版 · 第3段" in shown
    assert reader_citation("", "", 4, "zh") == "无标题报道 · 第4段"
    assert reader_citation("", "", 4, "en") == "untitled story · para. 4"
    assert reader_citation(OTHER, "", 0, "zh") == f"《{OTHER}》"


def test_buttons_one_source_per_article_the_first_opening_the_quote() -> None:
    keyboard = render_answer(result(), "zh").keyboard
    assert keyboard is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard]
    assert rows[0] == [("原文 1", f"src:{3:016x}"), ("原文 2", f"src:{4:016x}")]
    assert rows[1] == [("更多", "more:5"), ("👍", "fb:up"), ("👎", "fb:down")]


def test_groups_get_no_more_button_and_private_chats_may_open_sources() -> None:
    group = render_answer(result(), "zh", GROUP_STYLE)
    assert group.keyboard is not None
    assert "更多" not in [b.text for row in group.keyboard.inline_keyboard for b in row]
    opened = render_answer(result(), "zh", AnswerStyle(folded=False)).messages[0]
    assert "<blockquote>" in opened and "expandable" not in opened
    assert [folded for _, folded in block_quotes(opened)] == [False]


def test_only_the_quoted_passage_means_no_sources_block() -> None:
    rendered = render_answer(result(passages=1), "zh")
    assert block_quotes(rendered.messages[0]) == []
    assert visible_text(rendered.messages[0]).count("\n") == 1  # quote and citation
    assert rendered.keyboard is not None
    assert rendered.keyboard.inline_keyboard[0][0].text == "原文 1"


def test_english_questions_get_english_labels() -> None:
    html_text = render_answer(result(), "en").messages[0]
    assert f"—— 《{HEADLINE}》 · para. 3" in visible_text(html_text)
    [(sources, _)] = block_quotes(html_text)
    assert sources.startswith(f"Sources:\n1. 《{HEADLINE}》\npara. 1: ")
    keyboard = render_answer(result(), "en").keyboard
    assert keyboard is not None
    assert [b.text for b in keyboard.inline_keyboard[0]] == ["Source 1", "Source 2"]


def test_an_english_question_gets_an_escaped_gloss_line_under_the_citation() -> None:
    english = QAResult("How many remote consultations?", False, result().answer, result().passages)
    html_text = render_answer(english, "en").messages[0]
    quote, citation, gloss, *_ = visible_text(html_text).split("\n")
    assert quote == "截至目前，已累计完成90余场次远程服务。"
    assert citation == f"—— 《{HEADLINE}》 · para. 3" and gloss == "≈ 90+ (场次, sessions)"
    assert bold_parts(html_text) == ["90余场次"]  # the gloss is no second bold
    plain = to_plain(answer_blocks(english, "en"))
    assert f"《{HEADLINE}》 · {FILE} · ¶33\n≈ 90+ (场次, sessions)" in plain
    assert "≈" not in visible_text(render_answer(result(), "en").messages[0])
    assert "≈" not in to_plain(answer_blocks(result(), "zh"))


def test_follow_up_note_comes_first_without_a_file_name() -> None:
    found = QAResult("那开到哪天", False, result().answer, context=Topic(FILE, 0, "", ("交流会",)))
    shown = visible_text(render_answer(found, "zh").messages[0])
    assert shown.startswith("（接上文：无标题报道）\n截至目前")


def test_a_chunk_id_too_long_for_callback_data_gets_no_button() -> None:
    long_id = "x" * (CALLBACK_LIMIT - len("src:") + 1)
    found = QAResult("q", True, None, (passage(1, chunk_id=long_id), passage(4)))
    keyboard = render_answer(found, "en").keyboard
    assert keyboard is not None
    labels = [b.text for row in keyboard.inline_keyboard for b in row]
    assert "Source 1" not in labels and "Source 2" in labels
    for row in keyboard.inline_keyboard:
        for button in row:
            assert len(str(button.callback_data).encode()) <= CALLBACK_LIMIT


def test_abstention_says_so_and_folds_the_nearest_passages() -> None:
    html_text = render_answer(result(abstained=True), "zh").messages[0]
    assert visible_text(html_text).startswith("没有在报道中找到这个问题的答案。最接近的段落：\n")
    [(nearest, folded)] = block_quotes(html_text)
    assert folded and f"1. 《{HEADLINE}》\n第1段：" in nearest and "第3段：" in nearest
    en = visible_text(render_answer(result(abstained=True), "en").messages[0])
    assert en.startswith("I could not find the answer")


def test_articles_are_numbered_quoted_first_then_by_rank() -> None:
    articles = article_sources(result())
    assert [(a.number, a.article, a.chunk_id) for a in articles] == [
        (1, HEADLINE, f"{3:016x}"),
        (2, OTHER, f"{4:016x}"),
    ]
    assert [p.article_paragraph for p in articles[0].passages] == [1, 2]  # reading order


def test_sources_past_the_limit_are_dropped_counting_utf16_units() -> None:
    astral = "𠀀" * 1000  # CJK extension B: two UTF-16 units each; a source shows 240 chars
    numbers = (3, 1, *range(4, 14))
    found = QAResult("q", False, result().answer, tuple(passage(n, astral) for n in numbers))
    (html_text,) = render_answer(found, "zh").messages
    assert len(html_text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
    # Counted in code points, two more sources would have fitted: the count is UTF-16's.
    assert len(html_text) + 2 * 260 < MESSAGE_LIMIT
    [(sources, _)] = block_quotes(html_text)  # still parses: no tag cut in half
    assert "第1段" in sources and "第4段" in sources and "第13段" not in sources


def test_a_long_quote_is_cut_around_its_bold_span_into_one_message() -> None:
    text = "前文。" * 2000 + "90余场次" + "后文。" * 2000
    answer = AnswerSpan(text, "90余场次", Source(FILE, HEADLINE, 33, 3))
    (html_text,) = render_answer(QAResult("q", False, answer, (passage(4),)), "zh").messages
    assert len(html_text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
    assert bold_parts(html_text) == ["90余场次"]
    quote = visible_text(html_text).split("\n")[0]
    assert quote.startswith("…") and quote.endswith("后文…")
    assert cut_quote("abcdefghij", "ef", 4) == "…defg…"
    assert cut_quote("abcdefghij", None, 4) == "abcd…"
    assert cut_quote("abc", "b", 4) == "abc"


def test_more_page_groups_by_article_and_offers_the_next_page() -> None:
    page = [passage(n) for n in (4, 1, 5)]
    rendered = render_more(page, 5, "zh")
    shown = visible_text(rendered.messages[0])
    assert shown.startswith(f"更多相关段落：\n1. 《{OTHER}》\n第4段：")
    assert shown.count(OTHER) == 1 and f"2. 《{HEADLINE}》\n第1段：" in shown
    assert FILE not in shown
    assert rendered.keyboard is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in rendered.keyboard.inline_keyboard]
    assert rows == [
        [("原文 1", f"src:{4:016x}"), ("原文 2", f"src:{1:016x}")],
        [("更多", "more:8")],
    ]
    assert render_more([], 9, "en").messages == ("No further passages.",)


def test_source_message_numbers_paragraphs_within_the_article() -> None:
    paragraphs = tuple(Paragraph(n + 40, f"段落{n}") for n in (2, 3, 4))
    context = PassageContext("c", FILE, HEADLINE, paragraphs, focus=43, first=2, story="日报")
    (message,) = render_context(context).messages
    assert (
        visible_text(message)
        == f"《{HEADLINE}》 · 日报\n\n第2段 段落2\n\n第3段 段落3\n\n第4段 段落4"
    )
    assert bold_parts(message) == [f"《{HEADLINE}》 · 日报", "段落3"]
    assert "para. 3 段落3" in visible_text(render_context(context, "en").messages[0])


def test_long_context_is_one_message_cut_around_the_cited_paragraph() -> None:
    paragraphs = tuple(Paragraph(n + 10, f"第{n}段" + "很长的句子。" * 300) for n in range(1, 6))
    rendered = render_context(PassageContext("c", FILE, HEADLINE, paragraphs, focus=13))
    (message,) = rendered.messages  # one "原文" press, one message: never a flood
    assert len(message) <= MESSAGE_LIMIT
    shown = visible_text(message)  # parses on its own (no tag cut in half)
    assert bold_parts(message)[-1].startswith("第3段很长的句子。")
    assert "第2段 第2段" in shown  # the nearest neighbour gets what is left, numbered as before
    assert "第1段 第1段" not in shown and "第5段" not in shown
    assert shown.endswith("（原文过长，只显示这一条消息放得下的部分。）")
    english = render_context(PassageContext("c", FILE, HEADLINE, paragraphs, 13), "en")
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


def test_the_console_keeps_files_for_operators() -> None:
    plain = to_plain(answer_blocks(result(), "zh"))
    assert "【90余场次】" in plain
    assert f"《{HEADLINE}》 · {FILE} · ¶33" in plain
    assert "相关来源：" in plain
    assert "<" in plain  # no escaping in the terminal
