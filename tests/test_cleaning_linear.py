"""Cleaning takes steps in proportion to a page's lines, whatever the page's shape.

Tables, lists and OCR'd pages are thousands of short lines; a step that rescans the lines
before each line makes such a page take hours. The steps are counted, not timed: every Python
and C function call made while a page is cut (a rescan of earlier lines shows up as calls
that grow with the square of the page), and the block reads of the headline pass.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any, overload

import pytest

from index.cleaning import (
    Block,
    compose_headline,
    decision_tail,
    ends_sentence,
    join_cut_texts,
    split_articles,
    texts_end_sentence,
)
from index.models import Page

CHARS = "聂荣县远程会诊服务医疗党建村民"


def short(rng: random.Random, low: int = 1, high: int = 6) -> str:
    return "".join(rng.choices(CHARS, k=rng.randint(low, high)))


# Page shapes made of short lines: (lines, separator between them).
Shape = Callable[[random.Random, int], tuple[list[str], str]]
SHAPES: dict[str, Shape] = {
    # the table: headline-looking lines, one block each
    "table": lambda rng, n: ([short(rng) for _ in range(n)], "\n"),
    "table with blank lines": lambda rng, n: ([short(rng) for _ in range(n)], "\n\n"),
    "marked list": lambda rng, n: ([f"# {short(rng)}" for _ in range(n)], "\n"),
    "subtitles": lambda rng, n: ([f"——{short(rng)}" for _ in range(n)], "\n"),
    # one paragraph cut into n lines, and one cut before n lines of closing marks
    "comma lines": lambda rng, n: ([f"{short(rng)}，" for _ in range(n)], "\n"),
    "closing marks": lambda rng, n: (["甲乙丙，", *("））））" for _ in range(n))], "\n"),
    "quotes and spaces": lambda rng, n: (["甲乙丙，", *("” ）" for _ in range(n))], "\n"),
    "sentences": lambda rng, n: ([f"{short(rng)}。" for _ in range(n)], "\n"),
    "bylines": lambda rng, n: ([f"本报记者 {short(rng, 2, 3)}" for _ in range(n)], "\n"),
    # long lines starting alike: one cut of the containment automaton stands for all of them
    "lines starting alike": lambda rng, n: (
        [f"{'甲乙丙' * 44}{short(rng, 4, 12)}。" for _ in range(n)],
        "\n",
    ),
    "mixed layout": lambda rng, n: (
        [
            rng.choice(
                (
                    "# 护航百姓健康",
                    "## ——卫生健康工作综述",
                    "本报记者 甲",
                    "▲图为义诊现场。",
                    "本报记者 丙 摄",
                    "第3版",
                    short(rng),
                    f"{short(rng, 10, 30)}，",
                    f"{short(rng, 10, 30)}。",
                )
            )
            for _ in range(n)
        ],
        rng.choice(("\n", "\n\n")),
    ),
}


def steps_to_clean(shape: Shape, lines: int) -> int:
    """Function calls (Python and C) made while cutting one page of this shape into articles."""
    texts, separator = shape(random.Random(3), lines)
    page = Page(file="t.txt", text=separator.join(texts) + "\n", encoding="utf-8", sha256="")
    calls = 0

    def count(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        split_articles(page)
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_cleaning_steps_grow_in_proportion_to_the_lines(name: str) -> None:
    small = steps_to_clean(SHAPES[name], 1_000)
    large = steps_to_clean(SHAPES[name], 4_000)
    # 4x the lines: 4x the steps give or take the page's fixed costs; a rescan of earlier
    # lines per line would make it 16x.
    assert large <= 4.5 * small, (small, large)


class CountingBlocks(Sequence[Block]):
    """A headline group that counts how many of its blocks are read, one by one or sliced."""

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.reads = 0

    def __len__(self) -> int:
        return len(self.blocks)

    @overload
    def __getitem__(self, index: int) -> Block: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Block]: ...
    def __getitem__(self, index: int | slice) -> Block | Sequence[Block]:
        if isinstance(index, slice):
            part = self.blocks[index]
            self.reads += len(part)
            return part
        self.reads += 1
        return self.blocks[index]

    def __iter__(self) -> Iterator[Block]:
        for block in self.blocks:
            self.reads += 1
            yield block


@pytest.mark.parametrize("level", [0, 1, 3])
def test_compose_headline_reads_each_line_of_a_long_group_a_few_times(level: int) -> None:
    group = CountingBlocks([Block(n, f"第{n}行", level) for n in range(1, 3001)])
    compose_headline(group)
    assert group.reads <= 4 * len(group)


def test_compose_headline_finds_subtitles_as_before() -> None:
    plain, marked = Block(1, "甲"), Block(2, "乙", 1)
    dash, under = Block(3, "——丙"), Block(4, "丁")
    assert compose_headline([plain, marked, under, dash]) == ("甲 乙", (under, dash))
    assert compose_headline([plain, dash, marked]) == ("甲", (dash, marked))
    assert compose_headline([dash, plain]) == ("——丙 甲", ())
    assert compose_headline([marked, Block(5, "戊", 2), under]) == ("乙 戊", (under,))


# ---------------------------------------------------------------- the decision tail

MARKS = ("。", "，", "”", "）", ")", "’", "(完)", "（记者 甲）", " ", "\u3000")
TAIL_PIECES = ("甲", "城", "a", "B", *MARKS)


def random_texts(rng: random.Random) -> list[str]:
    """Texts ending, often, in long runs of the marks `ends_sentence` reads past."""
    texts = []
    for _ in range(rng.randrange(1, 8)):
        text = "".join(rng.choice(TAIL_PIECES) for _ in range(rng.randrange(0, 6)))
        texts.append(text + rng.choice(TAIL_PIECES) * rng.choice((0, 1, 13, 14, 15, 16, 90)))
    return texts


def test_decision_tail_decides_as_the_whole_joined_text() -> None:
    rng = random.Random(11)
    for _ in range(4000):
        texts = random_texts(rng)
        assert texts_end_sentence(texts) == ends_sentence(join_cut_texts(texts)), texts


def test_decision_tail_stays_short_however_long_the_paragraph() -> None:
    tail = ""
    for text in ["甲乙丙，", *["））））"] * 10_000]:
        tail = decision_tail(tail, text)
        assert len(tail) <= 2 * 64 + len(text)
    assert not ends_sentence(tail)
    for text in ["丁。", *["”）"] * 10_000]:
        tail = decision_tail(tail, text)
        assert len(tail) <= 2 * 64 + len(text)
    assert ends_sentence(tail)
