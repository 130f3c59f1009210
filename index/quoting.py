"""How an answer is quoted: whole sentences around the highlighted span, as written in the
story's paragraph (never cut where the chunker cut it).

Two sentence notions: the rule extractor weighs clauses ended by ；, a quote shows whole
sentences (ended by 。！？), as a reader would cite them.
"""

from __future__ import annotations

import re

# Clause ends, for choosing an answer sentence (a ；-clause often carries its own fact).
CLAUSE_END = re.compile(r"[。！？；!?;]+[”’」』）)]*|\n+")
# Full stops, for quoting: a ； joins two halves of one sentence.
FULL_STOP = re.compile(r"[。！？!?]+[”’」』）)]*|\n+")
_QUOTED = re.compile(r"“[^“”]{1,160}”")
# A closing quote followed by its speaker: “……。”次仁说 stays one sentence.
_SPEAKER_FOLLOWS = re.compile(r"^[\u4e00-\u9fff·]{1,10}?(?:说|表示|介绍|坦言|感慨|告诉|强调|指出)")

# A quote shorter than this rarely stands alone: it takes in the next sentence of its paragraph
# (answers follow the sentence that names the question's subject), else the one before it.
# Next-then-previous against previous-only, quoting the reader's answers on the held-out
# DRCD/ChineseSquad articles: answer text holds gold 0.785 vs 0.780 (CMRC trial 0.851 vs 0.844;
# benchmarks/quoting_policies.py).
SHORT_QUOTE = 40


def sentence_bounds(text: str, ends: re.Pattern[str] = CLAUSE_END) -> list[tuple[int, int]]:
    """[start, end) of each sentence of `text`, surrounding spaces excluded; an end mark inside
    a short “quotation” does not end the sentence, so the speaker after the quote stays with
    what was said."""
    protected = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    bounds: list[tuple[int, int]] = []
    start = 0

    def add(a: int, b: int) -> None:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            bounds.append((a, b))

    for match in ends.finditer(text):
        if any(left < match.start() and match.end() < right for left, right in protected):
            continue
        if match.group(0).endswith("”") and _SPEAKER_FOLLOWS.match(text[match.end() :]):
            continue
        add(start, match.end())
        start = match.end()
    add(start, len(text))
    return bounds


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_bounds(text)]


def quote_span(
    text: str,
    start: int,
    end: int,
    max_chars: int = 300,
    *,
    ends: re.Pattern[str] = FULL_STOP,
    short: int = SHORT_QUOTE,
    neighbours: tuple[str, ...] = ("next", "previous"),
) -> tuple[str, str]:
    """The answer as quoted from `text`: the whole sentence(s) holding the span [start, end),
    joined with a neighbour of the same line (`neighbours`, in order of preference) while
    shorter than `short`, cut to `max_chars` around the span; and the highlight, exactly as
    written. (The options let `benchmarks/quoting_policies.py` measure other quotings.)"""
    highlight = text[start:end]
    bounds = sentence_bounds(text, ends) or [(0, len(text))]
    first = next((i for i, (_, b) in enumerate(bounds) if b > start), len(bounds) - 1)
    last = next((i for i, (_, b) in enumerate(bounds) if b >= end), len(bounds) - 1)

    def joins(left: int, right: int) -> bool:
        """Sentences left..right make one quote: one line, within `max_chars`."""
        line = "\n" not in text[bounds[left][1] : bounds[right][0]]
        return line and bounds[right][1] - bounds[left][0] <= max_chars

    while bounds[last][1] - bounds[first][0] < short:
        for side in neighbours:
            if side == "next" and last + 1 < len(bounds) and joins(first, last + 1):
                last += 1
                break
            if side == "previous" and first > 0 and joins(first - 1, last):
                first -= 1
                break
        else:
            break
    a, b = min(bounds[first][0], start), max(bounds[last][1], end)
    if b - a > max_chars:
        a = max(a, min(start - (max_chars - (end - start)) // 3, b - max_chars))
        a = min(a, start)
        b = min(b, max(end, a + max_chars))
    return text[a:b], highlight


def in_paragraph(paragraph: str | None, passage: str, start: int, end: int) -> tuple[str, int, int]:
    """What to quote the span [start, end) of `passage` (a chunk cut from `paragraph`) from:
    the paragraph and the span's offsets in it; the passage itself when the paragraph is
    unknown or does not hold it (an index built from other text)."""
    at = -1 if paragraph is None else paragraph.find(passage)
    if paragraph is None or at < 0:
        return passage, start, end
    return paragraph, at + start, at + end
