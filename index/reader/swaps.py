"""Constraint-swapped twins: a question whose place, person, organisation, year or ordinal is
replaced by another of the same kind that its paragraph does not mention.

The paragraph stays, so the twin is unanswerable from it: the question now asks about a
neighbouring county, another year or another batch. These twins are free supervision for
"not this" (reader training) and a free test of it (a twin of a held-out question must be
refused while its original is answered). SQuAD 2.0's unanswerable questions are the same idea,
written by hand.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from index.constraints import chinese_number, places_in
from index.question import to_simplified

_YEAR = re.compile(r"(?<![\d.])(1[5-9]\d\d|20\d\d)(?=年)")
_CHINESE_DIGITS = "零一二三四五六七八九"
_ORDINAL = re.compile(
    r"第([一二三四五六七八九十百\d]{1,4})(批|届|次|期|轮|季|代|任|章|个|名|年|世纪|阶段)"
)
_PLACE_SUFFIX = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:自治区|自治州|省|市|县|镇|乡|村|区|州)$")
_ENTITY_TAGS = {"ns": "place", "nr": "person", "nrt": "person", "nt": "organisation"}
# Words jieba tags as names that are question words or generic nouns in questions.
_NOT_NAMES = frozenset({"什么", "哪里", "哪个", "多少", "谁", "哪", "中国", "国家", "地区", "城市"})


@dataclass(frozen=True)
class Mention:
    kind: str  # place, person, organisation, year, ordinal
    text: str
    start: int  # character offset in the question


def _chinese_numeral(value: int) -> str:
    """12 → 十二, 20 → 二十, 105 → 一百零五 (values below 1000)."""
    hundreds, rest = divmod(value, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _CHINESE_DIGITS[hundreds] + "百"
        if rest and tens == 0:
            out += "零"
    if tens:
        out += ("" if tens == 1 and not hundreds else _CHINESE_DIGITS[tens]) + "十"
    if ones or not out:
        out += _CHINESE_DIGITS[ones]
    return out


@lru_cache(maxsize=65536)
def mentions(question: str) -> tuple[Mention, ...]:
    """The swappable constraints of a Chinese question: names by jieba's part of speech (and
    place suffixes), years before 年, ordinals (第十二批)."""
    import jieba.posseg

    found: list[Mention] = []
    for match in _YEAR.finditer(question):
        found.append(Mention("year", match.group(1), match.start(1)))
    for match in _ORDINAL.finditer(question):
        if chinese_number(match.group(1)) is not None:
            found.append(Mention("ordinal", match.group(0), match.start()))
    # Names of China's divisions first (聂荣县), then what jieba tags as a name elsewhere.
    taken: list[tuple[int, int]] = []
    for place in dict.fromkeys(places_in(question)):
        at = question.find(place.name)
        found.append(Mention("place", place.name, at))
        taken.append((at, at + len(place.name)))
    position = 0
    for pair in jieba.posseg.cut(question):
        word, flag = pair.word, pair.flag
        kind = _ENTITY_TAGS.get(flag)
        if len(word) >= 3 and _PLACE_SUFFIX.match(word):
            kind = "place"
        overlaps = any(a < position + len(word) and position < b for a, b in taken)
        if kind and len(word) >= 2 and word not in _NOT_NAMES and not overlaps:
            found.append(Mention(kind, word, position))
        position += len(word)
    return tuple(sorted(found, key=lambda m: m.start))


def _other_year(year: str, context: str, rng: random.Random) -> str | None:
    options = [str(int(year) + d) for d in (-3, -2, -1, 1, 2, 3)]
    options = [y for y in options if y not in context]
    return rng.choice(options) if options else None


def _other_ordinal(ordinal: str, context: str, rng: random.Random) -> str | None:
    match = _ORDINAL.fullmatch(ordinal)
    if match is None:
        return None
    number, measure = match.group(1), match.group(2)
    value = chinese_number(number)
    if value is None:
        return None
    arabic = number.isdigit()
    options = []
    for delta in (-2, -1, 1, 2):
        other = value + delta
        if other < 1:
            continue
        text = f"第{other if arabic else _chinese_numeral(other)}{measure}"
        if text not in context and f"第{other}{measure}" not in context:
            options.append(text)
    return rng.choice(options) if options else None


@dataclass(frozen=True)
class Twin:
    question: str
    asked: str  # what the twin asks about instead
    found: str  # what the original asked about (the paragraph's)
    kind: str


class Swapper:
    """Replacements drawn from the same group (article) where it has one of the kind, else
    from the whole collection; a replacement never occurs in the paragraph."""

    def __init__(self, questions: Iterable[tuple[str, str]], places: Iterable[str] = ()) -> None:
        """`places`: more place names to draw from (those the stories name)."""
        self.by_group: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.by_kind: dict[str, list[str]] = defaultdict(list)
        self.by_kind["place"].extend(dict.fromkeys(places))
        for question, group in questions:
            for mention in mentions(to_simplified(question)):
                if mention.kind in {"year", "ordinal"}:
                    continue
                if mention.text not in self.by_group[group, mention.kind]:
                    self.by_group[group, mention.kind].append(mention.text)
                    self.by_kind[mention.kind].append(mention.text)

    def _name(self, mention: Mention, group: str, context: str, rng: random.Random) -> str | None:
        def usable(name: str) -> bool:
            return name != mention.text and name not in context and mention.text not in name

        near = [n for n in self.by_group.get((group, mention.kind), []) if usable(n)]
        if near:
            return rng.choice(near)
        pool = self.by_kind.get(mention.kind, [])
        # A county for a county, a city for a city, where the pool has one.
        alike = [n for n in pool if n[-1:] == mention.text[-1:] and usable(n)]
        if alike:
            return rng.choice(alike)
        for _ in range(20):
            if not pool:
                break
            name = rng.choice(pool)
            if usable(name):
                return name
        return None

    def twin(self, question: str, context: str, group: str, rng: random.Random) -> Twin | None:
        """One constraint of the question that the paragraph states, swapped; None when the
        question has none."""
        stated = [m for m in mentions(question) if m.text in context]
        rng.shuffle(stated)
        for mention in stated:
            if mention.kind == "year":
                other = _other_year(mention.text, context, rng)
            elif mention.kind == "ordinal":
                other = _other_ordinal(mention.text, context, rng)
            else:
                other = self._name(mention, group, context, rng)
            if other:
                end = mention.start + len(mention.text)
                swapped = question[: mention.start] + other + question[end:]
                return Twin(swapped, other, mention.text, mention.kind)
        return None


def twins(rows: Sequence[tuple[str, str, str]], share: float, seed: int) -> list[tuple[int, Twin]]:
    """Twins for a share of (question, context, group) rows: (row index, twin)."""
    swapper = Swapper((question, group) for question, _, group in rows)
    rng = random.Random(seed)
    out = []
    for index, (question, context, group) in enumerate(rows):
        if rng.random() >= share:
            continue
        twin = swapper.twin(question, context, group, rng)
        if twin is not None:
            out.append((index, twin))
    return out
