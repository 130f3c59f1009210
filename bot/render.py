"""Answers as Telegram HTML messages with buttons, or as plain text for the console (pure)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.texts import Lang, texts_for
from index.models import IndexInfo, Passage, PassageContext, QAResult

MESSAGE_LIMIT = 4096  # Telegram's limit for one text message, in UTF-16 code units
CALLBACK_LIMIT = 64  # Telegram's limit for callback_data, in bytes
SOURCES_SHOWN = 3  # supporting sources under an answer, and passages per "更多" page
PASSAGE_CHARS = 240  # sources are a glance; "原文 n" shows the whole paragraph

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
class Rendered:
    """Messages ready to send, in order; the keyboard goes under the last one."""

    messages: tuple[str, ...]
    keyboard: InlineKeyboardMarkup | None = None


def answer_blocks(result: QAResult, lang: Lang) -> list[Block]:
    """The answer sentence with its highlight and citation, then up to three sources."""
    words = texts_for(lang)
    blocks: list[Block] = []
    if result.context is not None:
        # Said first, so a wrong carry-over is seen before the answer is believed.
        label = titled(result.context.headline) or result.context.file
        blocks.append((Segment(words.context_note.format(article=label)),))
    shown = result.passages[:SOURCES_SHOWN]
    if result.answer is None or result.abstained:
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
        if shown:
            blocks.append((Segment(words.sources),))
    blocks.extend(passage_block(n, p) for n, p in enumerate(shown, start=1))
    return blocks


def more_blocks(passages: Sequence[Passage], offset: int, lang: Lang) -> list[Block]:
    """A page of further passages, numbered on from the ones already shown."""
    words = texts_for(lang)
    if not passages:
        return [(Segment(words.no_more),)]
    blocks: list[Block] = [(Segment(words.more_header),)]
    blocks.extend(passage_block(offset + n, p) for n, p in enumerate(passages, start=1))
    return blocks


def context_blocks(context: PassageContext) -> list[Block]:
    """The cited passage with its neighbouring paragraphs; the cited paragraph in bold."""
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


def answer_keyboard(result: QAResult, lang: Lang) -> InlineKeyboardMarkup:
    """原文 n for each source shown, 更多 for the next page, and 👍/👎."""
    shown = result.passages[:SOURCES_SHOWN]
    rows = [_source_buttons(shown, 0, lang)]
    bottom = [
        InlineKeyboardButton("👍", callback_data=FEEDBACK_PREFIX + "up"),
        InlineKeyboardButton("👎", callback_data=FEEDBACK_PREFIX + "down"),
    ]
    if shown:
        bottom.insert(0, _more_button(len(shown), lang))
    rows.append(bottom)
    return InlineKeyboardMarkup([row for row in rows if row])


def more_keyboard(
    passages: Sequence[Passage], offset: int, lang: Lang
) -> InlineKeyboardMarkup | None:
    """原文 n for the page's passages and 更多 while pages come back full."""
    if not passages:
        return None
    rows = [_source_buttons(passages, offset, lang)]
    if len(passages) >= SOURCES_SHOWN:
        rows.append([_more_button(offset + len(passages), lang)])
    return InlineKeyboardMarkup([row for row in rows if row])


def render_answer(result: QAResult, lang: Lang) -> Rendered:
    """The Telegram messages for one answer or abstention."""
    return Rendered(to_html(answer_blocks(result, lang)), answer_keyboard(result, lang))


def render_more(passages: Sequence[Passage], offset: int, lang: Lang) -> Rendered:
    """The Telegram messages for one "更多" page."""
    return Rendered(
        to_html(more_blocks(passages, offset, lang)), more_keyboard(passages, offset, lang)
    )


def render_context(context: PassageContext, lang: Lang = "zh") -> Rendered:
    """The one message for a "原文" button: a paragraph too long for it is cut, with a note,
    rather than sent as dozens of messages into the chat."""
    messages = to_html(context_blocks(context))
    if len(messages) <= 1:
        return Rendered(messages)
    note = html.escape(texts_for(lang).passage_cut, quote=False)
    limit = MESSAGE_LIMIT - _units(note) - 2
    budget = MESSAGE_LIMIT
    while True:
        messages = to_html(context_blocks(cut_context(context, budget)), limit)
        if len(messages) == 1 or budget == 0:
            return Rendered((f"{messages[0]}\n\n{note}",))
        budget = budget * 4 // 5


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
    return replace(context, paragraphs=paragraphs)


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


def _highlighted(text: str, highlight: str | None) -> tuple[Segment, ...]:
    if not highlight or highlight not in text:
        return (Segment(text),)
    before, _, after = text.partition(highlight)
    return tuple(s for s in (Segment(before), Segment(highlight, True), Segment(after)) if s.text)


def _source_buttons(
    passages: Sequence[Passage], offset: int, lang: Lang
) -> list[InlineKeyboardButton]:
    label = texts_for(lang).source_button
    buttons = []
    for n, passage in enumerate(passages, start=offset + 1):
        data = SOURCE_PREFIX + passage.chunk_id
        if callback_fits(data):
            buttons.append(InlineKeyboardButton(label.format(n=n), callback_data=data))
    return buttons


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
