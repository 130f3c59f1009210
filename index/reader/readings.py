"""What the reader makes of a question (its spans, best first, and whether it answers): the
types the reader returns and the agreement with the rules reads, without loading torch."""

from __future__ import annotations

from dataclasses import dataclass

from index.models import Hit


@dataclass(frozen=True)
class ReadSpan:
    """The reader's answer: a character span of `hit.chunk.text` and how sure it is."""

    hit: Hit
    start: int
    end: int
    score: float  # start + end logit of the span
    margin: float  # span score minus its window's no-answer score
    rank: int = 0  # the passage's place in retrieval order

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


@dataclass(frozen=True)
class Reading:
    """What the reader made of one question."""

    ranked: tuple[ReadSpan, ...]  # candidate spans, best first
    answers: bool  # False: the reader abstains
    margin: float  # the best span's margin over its window's no-answer score

    @property
    def answer(self) -> ReadSpan | None:
        return self.ranked[0] if self.answers and self.ranked else None
