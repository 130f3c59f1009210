"""Answers as Telegram HTML messages with buttons, or as plain text for the console (pure).

Telegram messages are for readers: a citation names the headline (and the story's display
name, when the operator gave one) and the paragraph's number within its article, never a file
name. The console (`newsqa chat`, an operator's tool) keeps file names and file paragraphs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.texts import Lang, texts_for
from index.gloss import gloss_line
from index.models import IndexInfo, Passage, PassageContext, QAResult
from index.render import not_asked_note

MESSAGE_LIMIT = 4096  # Telegram's limit for one text message, in UTF-16 code units
CALLBACK_LIMIT = 64  # Telegram's limit for callback_data, in bytes
SOURCES_SHOWN = 3  # passages per "更多" page, and the console's sources under an answer
PASSAGE_CHARS = 240  # sources are a glance; "原文 n" shows the whole paragraph
FOLD_LINES = 3  # lines Telegram shows of a collapsed expandable block quote

SOURCE_PREFIX = "src:"
MORE_PREFIX = "more:"
FEEDBACK_PREFIX = "fb:"

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;.\n])")


@dataclass(frozen=True)
class Segment:
    """A run of plain text, optionally emphasised (bold in HTML, 【】 in plain text)."""

    text: str
    bold: bool = False


Block = tuple[Segment, ...]  # one paragraph of a message


@dataclass(frozen=True)
class AnswerStyle:
    """How an answer sits in its chat: groups get sources folded and no 更多 button (no page
    flood in a shared chat); private chats may have them open (`private_sources_open`)."""

    folded: bool = True  # sources in an expandable block quote, collapsed until tapped
    more: bool = True  # a 更多 button for further pages


GROUP_STYLE = AnswerStyle(folded=True, more=False)


@dataclass(frozen=True)
class ArticleSources:
    """One article under an answer: its 原文 button (number `number`, opening `chunk_id`) and
    its passages shown in the sources, never the one the answer quotes."""

    number: int
    article: str
    story: str
    chunk_id: str
    passages: tuple[Passage, ...]


@dataclass(frozen=True)
class Rendered:
    """Messages ready to send, in order; the keyboard goes under the last one."""

    messages: tuple[str, ...]
    keyboard: InlineKeyboardMarkup | None = None


def answer_blocks(result: QAResult, lang: Lang) -> list[Block]:
    """The console's answer: the sentence with its highlight and citation (file and file
    paragraph, for operators), then up to three sources."""
    words = texts_for(lang)
    blocks: list[Block] = []
    if result.context is not None:
        # Said first, so a wrong carry-over is seen before the answer is believed.
        label = titled(result.context.headline) or result.context.file
        blocks.append((Segment(words.context_note.format(article=label)),))
    shown = result.passages[:SOURCES_SHOWN]
    if result.answer is None and result.nearest is not None:
        near = result.nearest.source
        blocks.append(
            (
                Segment(not_asked(result, lang) + "\n"),
                Segment(result.nearest.text),
                Segment("\n—— " + citation(near.article, near.file, near.paragraph)),
            )
        )
        if shown:
            blocks.append((Segment(words.sources),))
    elif result.answer is None or result.abstained:
        blocks.append((Segment(words.abstain),))
    else:
        answer = result.answer
        src = answer.source
        blocks.append(
            (
                *_highlighted(answer.text, answer.highlight),
                Segment("\n—— " + citation(src.article, src.file, src.paragraph)),
            )
        )
        gloss = gloss_line(result)
        if gloss:
            blocks[-1] += (Segment("\n" + gloss),)
        if shown:
            blocks.append((Segment(words.sources),))
    blocks.extend(passage_block(n, p) for n, p in enumerate(shown, start=1))
    return blocks


def more_blocks(passages: Sequence[Passage], offset: int, lang: Lang) -> list[Block]:
    """The console's page of further passages, numbered on from the ones already shown."""
    words = texts_for(lang)
    if not passages:
        return [(Segment(words.no_more),)]
    blocks: list[Block] = [(Segment(words.more_header),)]
    blocks.extend(passage_block(offset + n, p) for n, p in enumerate(passages, start=1))
    return blocks


def context_blocks(context: PassageContext) -> list[Block]:
    """The console's `/src n`: the cited passage with its neighbouring paragraphs, numbered in
    the file; the cited paragraph in bold."""
    heading = " · ".join(part for part in (titled(context.article), context.file) if part)
    blocks: list[Block] = [(Segment(heading, bold=True),)]
    for paragraph in context.paragraphs:
        focus = paragraph.number == context.focus
        blocks.append(
            (Segment(f"¶{paragraph.number} "), Segment(paragraph.text, bold=focus)),
        )
    return blocks


def about_blocks(info: IndexInfo, lang: Lang) -> list[Block]:
    """What /about says about the serving generation."""
    text = texts_for(lang).about.format(
        generation=info.generation,
        built_at=info.built_at,
        stories=info.stories,
        articles=info.articles,
        chunks=info.chunks,
        embedder=info.embedder,
        index_type=info.index_type,
    )
    return [(Segment(text),)]


def citation(article: str, file: str, paragraph: int) -> str:
    """The citation line: 《headline》 · file · ¶n, or file · ¶n for an untitled passage."""
    return " · ".join(part for part in (titled(article), file, f"¶{paragraph}") if part)


def titled(headline: str) -> str:
    """A headline in 《》, or "" when there is none (never an empty 《》)."""
    headline = headline.strip()
    return f"《{headline}》" if headline else ""


def passage_block(number: int, passage: Passage) -> Block:
    """One numbered source: its citation, then the passage text."""
    text = passage.text.strip()
    if len(text) > PASSAGE_CHARS:
        text = text[: PASSAGE_CHARS - 1] + "…"
    return (
        Segment(f"{number}. " + citation(passage.article, passage.file, passage.paragraph)),
        Segment("\n" + text),
    )


def render_answer(result: QAResult, lang: Lang, style: AnswerStyle = AnswerStyle()) -> Rendered:
    """The one Telegram message for an answer or abstention: the quote with the fact in bold,
    one citation line, the other passages in one (expandable) block quote grouped by article,
    and a 原文 button per article."""
    articles = article_sources(result)
    return Rendered(
        (answer_html(result, lang, style, articles),),
        _answer_buttons(result, lang, style, articles),
    )


def answer_html(
    result: QAResult,
    lang: Lang,
    style: AnswerStyle,
    articles: Sequence[ArticleSources],
    limit: int = MESSAGE_LIMIT,
) -> str:
    """The answer message's HTML within `limit` UTF-16 units: the sources' last passages go
    first, then a very long quote is cut around its highlight."""
    head = answer_head(result, lang)
    passages = [(a, p) for a in articles for p in a.passages]
    while True:
        fold = _sources_html(passages, lang, style.folded)
        message = f"{head}\n{fold}" if fold else head
        if _units(message) <= limit:
            return message
        if not passages:
            break
        passages.pop()
    # Only a quote far longer than any answer setting gives gets here: cut around its bold.
    answer = result.answer
    chars = len(answer.text) if answer is not None else 0
    while _units(head) > limit and answer is not None and chars > 1:
        chars = chars * 4 // 5
        cut = replace(answer, text=cut_quote(answer.text, answer.highlight, chars))
        head = answer_head(replace(result, answer=cut), lang)
    return head


def cut_quote(text: str, highlight: str | None, chars: int) -> str:
    """At most `chars` characters of a quote (plus "…" at a cut end), around its highlight."""
    if len(text) <= chars:
        return text
    at = text.find(highlight) if highlight else -1
    start = (
        0 if at < 0 else max(0, min(at - (chars - len(highlight or "")) // 2, len(text) - chars))
    )
    kept = text[start : start + chars]
    return ("…" if start > 0 else "") + kept + ("…" if start + chars < len(text) else "")


def reader_citation(article: str, story: str, number: int, lang: Lang) -> str:
    """《headline》 · story name · 第N段: what a reader can look up in the newspaper."""
    words = texts_for(lang)
    where = words.paragraph.format(n=number) if number > 0 else ""
    return " · ".join(part for part in (titled(article) or words.untitled, story, where) if part)


def article_sources(result: QAResult) -> list[ArticleSources]:
    """The articles behind an answer, numbered for their 原文 buttons: the quoted article
    first (its button opens the quoted passage), then the others in rank order; each holds
    its passages other than the quoted one, in reading order."""
    quoted = None if result.answer is None or result.abstained else result.answer.source
    keys: list[tuple[str, str]] = []
    opens: dict[tuple[str, str], str] = {}
    held: dict[tuple[str, str], list[Passage]] = {}
    stories: dict[tuple[str, str], str] = {}
    if quoted is not None:
        keys.append((quoted.file, quoted.article))
        stories[keys[0]] = quoted.story
    for passage in result.passages:
        key = (passage.file, passage.article)
        if key not in held:
            held[key] = []
            stories.setdefault(key, passage.story)
            if key not in keys:
                keys.append(key)
        if quoted is not None and (passage.file, passage.paragraph) == (
            quoted.file,
            quoted.paragraph,
        ):
            opens[key] = passage.chunk_id  # the quoted passage: its button, never a source
            continue
        held[key].append(passage)
        opens.setdefault(key, passage.chunk_id)
    kept = [k for k in keys if k in opens]
    return [
        ArticleSources(n, k[1], stories[k], opens[k], tuple(sorted(held[k], key=_in_article)))
        for n, k in enumerate(kept, start=1)
    ]


def render_more(passages: Sequence[Passage], offset: int, lang: Lang) -> Rendered:
    """The one Telegram message for a "更多" page: its passages grouped by article, a 原文
    button per article, and 更多 while pages come back full."""
    words = texts_for(lang)
    if not passages:
        return Rendered((html.escape(words.no_more, quote=False),))
    articles = article_sources(QAResult("", True, None, tuple(passages)))
    pairs = [(a, p) for a in articles for p in a.passages]
    header = html.escape(words.more_header, quote=False)
    while True:
        message = f"{header}\n{_grouped_html(pairs, lang)}"
        if _units(message) <= MESSAGE_LIMIT or len(pairs) == 1:
            break
        pairs.pop()
    rows = [_article_buttons(articles, lang)]
    if len(passages) >= SOURCES_SHOWN:
        rows.append([_more_button(offset + len(passages), lang)])
    return Rendered((message,), InlineKeyboardMarkup([row for row in rows if row]))


def render_context(context: PassageContext, lang: Lang = "zh") -> Rendered:
    """The one message for a "原文" button: a paragraph too long for it is cut, with a note,
    rather than sent as dozens of messages into the chat."""
    messages = to_html(reader_context_blocks(context, lang))
    if len(messages) <= 1:
        return Rendered(messages)
    note = html.escape(texts_for(lang).passage_cut, quote=False)
    limit = MESSAGE_LIMIT - _units(note) - 2
    budget = MESSAGE_LIMIT
    while True:
        messages = to_html(reader_context_blocks(cut_context(context, budget), lang), limit)
        if len(messages) == 1 or budget == 0:
            return Rendered((f"{messages[0]}\n\n{note}",))
        budget = budget * 4 // 5


def reader_context_blocks(context: PassageContext, lang: Lang) -> list[Block]:
    """The 原文 message: 《headline》 · story in bold, then each paragraph numbered within
    the article, the cited one in bold."""
    words = texts_for(lang)
    heading = reader_citation(context.article, context.story, 0, lang)
    blocks: list[Block] = [(Segment(heading, bold=True),)]
    for paragraph in context.paragraphs:
        number = words.paragraph.format(n=context.article_number(paragraph))
        focus = paragraph.number == context.focus
        blocks.append((Segment(f"{number} "), Segment(paragraph.text, bold=focus)))
    return blocks


def cut_context(context: PassageContext, budget: int) -> PassageContext:
    """At most `budget` characters of paragraph text: the cited paragraph first, then its
    neighbours with what is left."""
    order = sorted(context.paragraphs, key=lambda p: abs(p.number - context.focus))
    kept: dict[int, str] = {}
    for paragraph in order:
        kept[paragraph.number] = paragraph.text[:budget]
        budget -= len(kept[paragraph.number])
    paragraphs = tuple(
        replace(p, text=kept[p.number]) for p in context.paragraphs if kept[p.number]
    )
    first = context.article_number(paragraphs[0]) if paragraphs else context.first
    return replace(context, paragraphs=paragraphs, first=first)


def render_words(text: str) -> Rendered:
    """A fixed sentence (help, refusals) as an escaped HTML message."""
    return Rendered(to_html([(Segment(text),)]))


def to_html(blocks: Sequence[Block], limit: int = MESSAGE_LIMIT) -> tuple[str, ...]:
    """Escape and join blocks into messages of at most `limit` characters, split between blocks."""
    pieces: list[str] = []
    for block in blocks:
        pieces.extend(_block_html(block, limit))
    messages: list[str] = []
    current = ""
    for piece in pieces:
        joined = f"{current}\n\n{piece}" if current else piece
        if _units(joined) <= limit:
            current = joined
        else:
            messages.append(current)
            current = piece
    if current:
        messages.append(current)
    return tuple(messages)


def to_plain(blocks: Sequence[Block]) -> str:
    """Blocks as terminal text, with emphasis in 【】."""
    return "\n\n".join(
        "".join(f"【{s.text}】" if s.bold else s.text for s in block) for block in blocks
    )


def callback_fits(data: str) -> bool:
    """Telegram refuses a button whose callback_data is over 64 bytes."""
    return 0 < len(data.encode("utf-8")) <= CALLBACK_LIMIT


def not_asked(result: QAResult, lang: Lang) -> str:
    """The abstention's first line when the stories hold the fact for another place, year or
    batch: the nearest fact is shown below it, plainly not as the answer."""
    return not_asked_note(result, english=lang == "en")


def answer_head(result: QAResult, lang: Lang) -> str:
    """The lines above the sources (the whole of a shared inline answer): the follow-up
    note, then the quote with its citation or the abstention."""
    words = texts_for(lang)
    lines: list[str] = []
    if result.context is not None:
        # Said first, so a wrong carry-over is seen before the answer is believed.
        label = titled(result.context.headline) or words.untitled
        lines.append(_escape(words.context_note.format(article=label)))
    if result.answer is None and result.nearest is not None:
        near = result.nearest
        lines.append(_escape(not_asked(result, lang)))
        lines.append(f"<i>{_escape(near.text)}</i>")
        where = reader_citation(
            near.source.article, near.source.story, near.source.article_paragraph, lang
        )
        lines.append(_escape("—— " + where))
    elif result.answer is None or result.abstained:
        lines.append(_escape(words.abstain))
    else:
        answer, src = result.answer, result.answer.source
        lines.append("".join(_segment_html(s) for s in _highlighted(answer.text, answer.highlight)))
        where = reader_citation(src.article, src.story, src.article_paragraph, lang)
        lines.append(_escape("—— " + where))
        gloss = gloss_line(result)
        if gloss:
            lines.append(_escape(gloss))
    return "\n".join(lines)


def passage_html(passage: Passage, lang: Lang) -> str:
    """One passage on its own (an inline result): its citation line, then its text."""
    where = reader_citation(passage.article, passage.story, passage.article_paragraph, lang)
    text = passage.text.strip()
    if len(text) > PASSAGE_CHARS:
        text = text[: PASSAGE_CHARS - 1] + "…"
    return _escape(f"{where}\n{text}")


def _sources_html(
    passages: Sequence[tuple[ArticleSources, Passage]], lang: Lang, folded: bool
) -> str:
    """The other passages in one block quote, expandable (collapsed) when `folded`."""
    if not passages:
        return ""
    tag = "blockquote expandable" if folded else "blockquote"
    body = _escape(texts_for(lang).sources) + "\n" + _grouped_html(passages, lang)
    return f"<{tag}>{body}</blockquote>"


def _grouped_html(passages: Sequence[tuple[ArticleSources, Passage]], lang: Lang) -> str:
    """Passages under their article's numbered headline, one headline per article."""
    words = texts_for(lang)
    lines: list[str] = []
    current: ArticleSources | None = None
    for article, passage in passages:
        if article is not current:
            current = article
            head = reader_citation(article.article, article.story, 0, lang)
            lines.append(_escape(f"{article.number}. {head}"))
        text = " ".join(passage.text.split())
        if len(text) > PASSAGE_CHARS:
            text = text[: PASSAGE_CHARS - 1] + "…"
        label = words.passage_label.format(n=passage.article_paragraph)
        lines.append(_escape((label if passage.article_paragraph > 0 else "") + text))
    return "\n".join(lines)


def _answer_buttons(
    result: QAResult, lang: Lang, style: AnswerStyle, articles: Sequence[ArticleSources]
) -> InlineKeyboardMarkup:
    """原文 n per article, 更多 (where the style has it) and 👍/👎."""
    bottom = [
        InlineKeyboardButton("👍", callback_data=FEEDBACK_PREFIX + "up"),
        InlineKeyboardButton("👎", callback_data=FEEDBACK_PREFIX + "down"),
    ]
    if style.more and result.passages:
        bottom.insert(0, _more_button(len(result.passages), lang))
    rows = [_article_buttons(articles, lang), bottom]
    return InlineKeyboardMarkup([row for row in rows if row])


def _article_buttons(articles: Sequence[ArticleSources], lang: Lang) -> list[InlineKeyboardButton]:
    label = texts_for(lang).source_button
    return [
        InlineKeyboardButton(label.format(n=a.number), callback_data=SOURCE_PREFIX + a.chunk_id)
        for a in articles
        if callback_fits(SOURCE_PREFIX + a.chunk_id)
    ]


def _in_article(passage: Passage) -> int:
    """Passages of one article are listed in reading order."""
    return passage.article_paragraph


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _highlighted(text: str, highlight: str | None) -> tuple[Segment, ...]:
    if not highlight or highlight not in text:
        return (Segment(text),)
    before, _, after = text.partition(highlight)
    return tuple(s for s in (Segment(before), Segment(highlight, True), Segment(after)) if s.text)


def _more_button(offset: int, lang: Lang) -> InlineKeyboardButton:
    return InlineKeyboardButton(texts_for(lang).more_button, callback_data=f"{MORE_PREFIX}{offset}")


def _segment_html(segment: Segment) -> str:
    escaped = html.escape(segment.text, quote=False)
    return f"<b>{escaped}</b>" if segment.bold and escaped else escaped


def _block_html(block: Block, limit: int) -> list[str]:
    """One block as one HTML piece, or several when it alone would exceed the limit."""
    whole = "".join(_segment_html(s) for s in block)
    if _units(whole) <= limit:
        return [whole]
    pieces: list[str] = []
    current = ""
    for segment in block:
        for part in _split_segment(segment, limit):
            rendered = _segment_html(part)
            if _units(current) + _units(rendered) > limit:
                pieces.append(current)
                current = ""
            current += rendered
    if current:
        pieces.append(current)
    return pieces


def _split_segment(segment: Segment, limit: int) -> list[Segment]:
    """Cut a segment at sentence ends (or anywhere, as a last resort) so each part fits."""
    budget = limit - len("<b></b>")
    pieces = (
        piece for sentence in _SENTENCE_END.split(segment.text) for piece in _pack(sentence, budget)
    )
    return [Segment(p, segment.bold) for p in _pack(pieces, budget)]


def _pack(pieces: Iterable[str], budget: int) -> list[str]:
    """Join pieces greedily into parts whose escaped size stays within `budget`."""
    parts: list[str] = []
    current, size = "", 0
    for piece in pieces:
        piece_size = _escaped_len(piece)
        if size + piece_size > budget:
            parts.append(current)
            current, size = "", 0
        current, size = current + piece, size + piece_size
    parts.append(current)
    return [p for p in parts if p]


def _escaped_len(text: str) -> int:
    return _units(html.escape(text, quote=False))


def _units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2
