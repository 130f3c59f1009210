"""Inline mode (`@bot question` in any chat): an answer as up to three results to pick and
share. Pure: a QAResult in, InlineQueryResultArticles out."""

from __future__ import annotations

from telegram import InlineQueryResultArticle, InputTextMessageContent, LinkPreviewOptions
from telegram.constants import ParseMode

from bot.render import answer_head, passage_html, reader_citation
from bot.texts import Lang, texts_for
from index.models import QAResult

MAX_RESULTS = 3
TITLE_CHARS = 60
DESCRIPTION_CHARS = 120


def inline_results(result: QAResult, lang: Lang) -> list[InlineQueryResultArticle]:
    """The answer with its highlight and citation, then the nearest passages other than the
    quoted one; when nothing answers, "not found" with the nearest passage first."""
    words = texts_for(lang)
    results: list[InlineQueryResultArticle] = []
    passages = list(result.passages)
    if result.answer is not None and not result.abstained:
        answer = result.answer
        src = answer.source
        quoted = [p for p in passages if (p.file, p.paragraph) == (src.file, src.paragraph)]
        passages = [p for p in passages if p not in quoted]
        where = reader_citation(src.article, src.story, src.article_paragraph, lang)
        # The shared message: the answer and its citation, without the sources.
        results.append(
            _article(
                f"answer-{quoted[0].chunk_id if quoted else '0'}",
                title=answer.highlight or answer.text,
                description=f"{answer.text} —— {where}",
                message=answer_head(QAResult(result.question, False, answer), lang),
            )
        )
    elif passages:
        nearest = passages.pop(0)
        results.append(
            _article(
                f"none-{nearest.chunk_id}",
                title=words.inline_not_found,
                description=nearest.text,
                message=f"{answer_head(QAResult(result.question, True, None), lang)}\n"
                + passage_html(nearest, lang),
            )
        )
    for n, passage in enumerate(passages, start=1):
        if len(results) >= MAX_RESULTS:
            break
        results.append(
            _article(
                f"p{n}-{passage.chunk_id}",
                title=reader_citation(
                    passage.article, passage.story, passage.article_paragraph, lang
                ),
                description=passage.text,
                message=passage_html(passage, lang),
            )
        )
    return results


def _article(
    result_id: str, *, title: str, description: str, message: str
) -> InlineQueryResultArticle:
    """One result; `message` is the HTML it shares (short: a quote or one passage)."""
    return InlineQueryResultArticle(
        id=result_id[:64],
        title=_cut(title, TITLE_CHARS),
        description=_cut(description, DESCRIPTION_CHARS),
        input_message_content=InputTextMessageContent(
            message,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
    )


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
