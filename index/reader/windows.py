"""Question + passage → fixed-size model inputs, and span logits → character spans.

Layout follows XLM-R pairs: `<s> question </s></s> passage </s>`. Long passages are cut into
overlapping windows; the label of a window that does not hold the whole answer is the `<s>`
position (no answer), as in SQuAD 2.0 training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.reader.tokenizer import Encoding, UnigramTokenizer

MAX_LENGTH = 256
MAX_QUESTION_TOKENS = 48
OVERLAP = 64
MAX_ANSWER_TOKENS = 30


@dataclass(frozen=True)
class Window:
    input_ids: list[int]
    passage_start: int  # index of the first passage token in input_ids
    offsets: list[tuple[int, int]]  # character spans of the passage tokens in the passage text
    start: int = 0  # label: token index of the answer start, 0 = no answer
    end: int = 0


def question_ids(tokenizer: UnigramTokenizer, question: str) -> list[int]:
    return tokenizer.encode(question).ids[:MAX_QUESTION_TOKENS]


def make_windows(
    tokenizer: UnigramTokenizer,
    question: Sequence[int],
    passage: Encoding,
    answer: tuple[int, int] | None = None,
    max_length: int = MAX_LENGTH,
    overlap: int = OVERLAP,
) -> list[Window]:
    """`answer` is a [start, end) character span of the passage, for training labels."""
    head = [tokenizer.bos, *question, tokenizer.eos, tokenizer.eos]
    budget = max(16, max_length - len(head) - 1)
    step = max(1, budget - overlap)
    windows: list[Window] = []
    total = len(passage.ids)
    first = 0
    while True:
        last = min(total, first + budget)
        offsets = passage.offsets[first:last]
        start = end = 0
        if answer is not None:
            tokens = [
                i for i, (a, b) in enumerate(offsets) if b > a and a < answer[1] and b > answer[0]
            ]
            if (
                tokens
                and offsets[tokens[0]][0] <= answer[0]
                and offsets[tokens[-1]][1] >= answer[1]
            ):
                start, end = len(head) + tokens[0], len(head) + tokens[-1]
        windows.append(
            Window(
                [*head, *passage.ids[first:last], tokenizer.eos],
                len(head),
                list(offsets),
                start,
                end,
            )
        )
        if last >= total:
            return windows
        first += step


@dataclass(frozen=True)
class SpanScore:
    start_char: int
    end_char: int
    score: float  # start + end logit
    null_score: float  # the window's no-answer score (<s> start + end)


def span_candidates(
    window: Window,
    start_logits: Sequence[float],
    end_logits: Sequence[float],
    top: int = 20,
    max_tokens: int = MAX_ANSWER_TOKENS,
    min_char: int = 0,
    limit: int = 20,
) -> list[SpanScore]:
    """The `limit` highest-scoring valid spans inside the passage part of one window, best
    first, starting at or after character `min_char` of the passage."""
    base = window.passage_start
    last = base + len(window.offsets)
    first = base
    while first < last and window.offsets[first - base][0] < min_char:
        first += 1
    starts = sorted(range(first, last), key=lambda i: -start_logits[i])[:top]
    ends = sorted(range(first, last), key=lambda i: -end_logits[i])[:top]
    null = float(start_logits[0] + end_logits[0])
    spans: list[SpanScore] = []
    for s in starts:
        for e in ends:
            if e < s or e - s + 1 > max_tokens:
                continue
            a = window.offsets[s - base][0]
            b = window.offsets[e - base][1]
            if b > a:
                spans.append(SpanScore(a, b, float(start_logits[s] + end_logits[e]), null))
    spans.sort(key=lambda span: -span.score)
    return spans[:limit]


def best_span(
    window: Window,
    start_logits: Sequence[float],
    end_logits: Sequence[float],
    top: int = 20,
    max_tokens: int = MAX_ANSWER_TOKENS,
    min_char: int = 0,
) -> SpanScore | None:
    """The highest-scoring valid span (see `span_candidates`)."""
    spans = span_candidates(window, start_logits, end_logits, top, max_tokens, min_char, 1)
    return spans[0] if spans else None
