"""Large synthetic story pages made from real ones, to measure cleaning at sizes no story has.

Each output page keeps the layout of the real pages (headlines, bylines, captions, credits and
page furniture stay as printed) while body paragraphs are rebuilt from clauses drawn from the
whole corpus, with their figures changed, so paragraphs read like news yet do not repeat. A few
paragraphs are printed twice or left as a fragment of an earlier one, as real layouts do, so
dedupe has its usual work.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from index.cleaning import BLANK_LINE, CLOSING_MARKS, SENTENCE_END, split_sentences
from index.models import Page

# Blocks at least this long are body text to rebuild; shorter ones are layout, kept as printed.
MIN_BODY_CHARS = 40
# Share of body paragraphs printed again, and left as the second half of an earlier one.
REPEAT_SHARE = 0.02
FRAGMENT_SHARE = 0.02
# Earlier paragraphs a repeat or fragment is drawn from (repeats sit close on a page).
RECENT_PARAGRAPHS = 50
# Fewest clauses a rebuilt sentence has, so sentences seldom come out twice.
MIN_CLAUSES = 2
CLAUSE = re.compile(r"[^,，;；]+[,，;；]?")
DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class ClausePool:
    """Clauses of the corpus: those a sentence goes on after, and those that end one."""

    inner: tuple[str, ...]
    final: tuple[str, ...]


def synthetic_page(sources: Sequence[Page], target_bytes: int, seed: int = 0) -> Page:
    """A page of at least `target_bytes` of UTF-8, built from the layout and text of `sources`."""
    layouts = [block_texts(page.text) for page in sources]
    pool = clause_pool(b for blocks in layouts for b in blocks if is_body(b))
    rng = random.Random(seed)
    blocks: list[str] = []
    size = 0
    page_number = 0
    while size < target_bytes:
        for block in layouts[page_number % len(layouts)]:
            text = rebuilt_block(block, pool, blocks[-RECENT_PARAGRAPHS:], rng)
            blocks.append(text)
            size += len(text.encode("utf-8")) + 2
        page_number += 1
    text = "\n\n".join(blocks) + "\n"
    return Page(file=f"synthetic-{target_bytes}.txt", text=text, encoding="utf-8", sha256="")


def block_texts(text: str) -> list[str]:
    """The page's blank-line separated blocks, as printed."""
    return [block.strip() for block in BLANK_LINE.split(text) if block.strip()]


def is_body(block: str) -> bool:
    """Long one-line blocks are paragraphs; headlines, bylines and credits are short."""
    return len(block) >= MIN_BODY_CHARS and "\n" not in block


def clause_pool(paragraphs: Iterable[str]) -> ClausePool:
    """Every clause of the paragraphs, split into inner and sentence-ending ones."""
    clauses = [
        clause
        for paragraph in paragraphs
        for sentence in split_sentences(paragraph)
        for clause in CLAUSE.findall(sentence)
    ]
    final = tuple(c for c in clauses if c.rstrip(CLOSING_MARKS)[-1:] in SENTENCE_END)
    inner = tuple(c for c in clauses if c[-1:] in ",，;；")
    if not final or not inner:
        raise ValueError("the source pages hold too little body text to draw sentences from")
    return ClausePool(inner, final)


def rebuilt_block(block: str, pool: ClausePool, recent: Sequence[str], rng: random.Random) -> str:
    """A body paragraph with as many sentences, drawn afresh; layout blocks as printed."""
    if not is_body(block):
        return block
    earlier = [b for b in recent if is_body(b)]
    roll = rng.random()
    if earlier and roll < REPEAT_SHARE:
        return rng.choice(earlier)
    if earlier and roll < REPEAT_SHARE + FRAGMENT_SHARE:
        source = rng.choice(earlier)
        return source[len(source) // 2 :]
    return "".join(
        new_sentence(len(CLAUSE.findall(sentence)), pool, rng)
        for sentence in split_sentences(block)
    )


def new_sentence(clauses: int, pool: ClausePool, rng: random.Random) -> str:
    """Inner clauses and a closing one from anywhere in the corpus, with other figures."""
    parts = [rng.choice(pool.inner) for _ in range(max(clauses, MIN_CLAUSES) - 1)]
    parts.append(rng.choice(pool.final))
    return vary_figures("".join(parts), rng)


def vary_figures(text: str, rng: random.Random) -> str:
    """The same words with other figures (no more digits), as the next such report has."""
    return DIGITS.sub(lambda m: str(rng.randrange(10 ** len(m.group()))), text)
