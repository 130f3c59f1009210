"""Inline mode (`@bot question` in any chat): an answer as up to three results to pick and
share. Pure: a QAResult in, InlineQueryResultArticles out."""

from __future__ import annotations

from telegram import InlineQueryResultArticle, InputTextMessageContent
from telegram.constants import ParseMode

from bot.render import Block, Segment, answer_blocks, citation, passage_block, to_html
from bot.texts import Lang, texts_for
from index.models import QAResult

MAX_RESULTS = 3
TITLE_CHARS = 60
DESCRIPTION_CHARS = 120


def inline_results(result: QAResult, lang: Lang) -> list[InlineQueryResultArticle]:
    """The answer with its highlight and citation, then the nearest passages; when nothing
    answers, "not found" with the nearest passage first."""
    words = texts_for(lang)
    results: list[InlineQueryResultArticle] = []
    passages = list(result.passages)
    if result.answer is not None and not result.abstained:
        answer = result.answer
        src = answer.source
        # The shared message: the answer and its citation, without the sources list.
        blocks = answer_blocks(QAResult(result.question, False, answer), lang)
        cited = passages.pop(0).chunk_id if passages else "0"  # the answer's own passage
        results.append(
            _article(
                f"answer-{cited}",
                title=answer.highlight or answer.text,
                description=f"{answer.text} —— {citation(src.article, src.file, src.paragraph)}",
                blocks=blocks,
            )
        )
    elif passages:
        nearest = passages.pop(0)
        results.append(
            _article(
                f"none-{nearest.chunk_id}",
                title=words.inline_not_found,
                description=nearest.text,
                blocks=[(Segment(words.abstain),), passage_block(1, nearest)],
            )
        )
    for n, passage in enumerate(passages, start=1):
        if len(results) >= MAX_RESULTS:
            break
        where = citation(passage.article, passage.file, passage.paragraph)
        results.append(
            _article(
                f"p{n}-{passage.chunk_id}",
                title=where,
                description=passage.text,
                blocks=[passage_block(n, passage)],
            )
        )
    return results


def _article(
    result_id: str, *, title: str, description: str, blocks: list[Block]
) -> InlineQueryResultArticle:
    """One result; its message is the first Telegram message the blocks render to."""
    return InlineQueryResultArticle(
        id=result_id[:64],
        title=_cut(title, TITLE_CHARS),
        description=_cut(description, DESCRIPTION_CHARS),
        input_message_content=InputTextMessageContent(
            to_html(blocks)[0], parse_mode=ParseMode.HTML
        ),
    )


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
