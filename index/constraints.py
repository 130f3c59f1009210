"""What a question asks about (a place, a year, an ordinal such as 第十二批), checked against the
evidence of an answer.

A cited answer about a neighbouring county, another year or another batch is the worst answer
a news bot can give: it reads as true. A span answers the question only if its evidence does
not contradict what was asked. Evidence is read from the narrowest scope that speaks to the
constraint: the quoted sentence, then its paragraph, then the article (headline and text).
Places come from China's administrative divisions (the `cpca` package's adcodes table, with
short forms: 康马 = 康马县) so a county inside the asked city counts as the asked place.
"""

from __future__ import annotations

import csv
import importlib.metadata
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from index.models import Difference
from index.question import is_english, tag_words, to_simplified, tokenize

_SUFFIXES = ("自治区", "自治州", "自治县", "特别行政区", "地区", "省", "市", "县", "区", "盟", "旗")
# Chinese numerals of ordinals (第十二批).
_DIGITS = "零一二三四五六七八九"
_ORDINAL = re.compile(r"第([一二三四五六七八九十百两\d]{1,4})(批|届|期|轮|次|季)")
_EN_ORDINAL = re.compile(
    r"\b(\d{1,3})(?:st|nd|rd|th)\s+(batch|group|session|term|round|phase)\b", re.IGNORECASE
)
_EN_MEASURES = {"batch": "批", "group": "批", "session": "届", "term": "届", "round": "轮"}
_EN_MEASURES["phase"] = "期"
# A capitalised name, and the English word for its division when one follows (Biru County).
_EN_NAME = re.compile(
    r"\b([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)"
    r"(?:\s+(?:County|City|Prefecture|District|Region|Township|Town|Province))?\b"
)
_EN_DIVISION = re.compile(r"\s+(?:County|City|Prefecture|District|Region|Township|Town|Province)$")
# A year asked about; not a decade (1970s, 1970年代) nor part of a longer number.
_YEAR = re.compile(r"(?<![\d.,$])((?:19|20)\d\d)(?![\d]|s\b|'s\b|年代)")
_YEAR_IN_TEXT = re.compile(r"(?<!\d)((?:19|20)\d\d)(?:[-—–~至到]((?:19|20)\d\d))?(?=年)")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")


@dataclass(frozen=True)
class Place:
    name: str  # as the table writes it: 聂荣县
    short: str  # without its suffix, when that is still a name: 聂荣 ("" otherwise)
    codes: tuple[str, ...]  # adcode prefixes of every division with this name: 5424, 540230

    def forms(self) -> tuple[str, ...]:
        return (self.name, self.short) if self.short else (self.name,)

    def within(self, other: Place) -> bool:
        """Whether this place lies inside `other` (or is it)."""
        return any(code.startswith(prefix) for code in self.codes for prefix in other.codes)


@dataclass(frozen=True)
class Asked:
    """One constraint of a question: what the answer must be about."""

    kind: str  # place, locality (a village or township), year, ordinal
    text: str  # as a reader would name it: 比如县, 卡琼村, 2022年, 第十二批
    place: Place | None = None
    year: int = 0
    ordinal: tuple[int, str] = (0, "")  # (12, 批)


def _adcode_prefix(code: str) -> str:
    """540230000000 → 540230 (county); 542400000000 → 5424 (city); 540000000000 → 54."""
    code = code[:6]
    for size in (2, 4):
        if code[size:] == "0" * (6 - size):
            return code[:size]
    return code


def _short_form(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return ""


# A short form jieba counts this often is a word first: 比如 ("for example", 5,621 in its
# dictionary), 新建 ("newly built"); 聂荣 counts 6, 康马 7, 那曲 91. A full name this common that
# jieba does not tag as a place is generic (城区, "urban district").
_WORD_FREQUENCY = 100


@lru_cache(maxsize=1)
def _common_words() -> tuple[frozenset[str], frozenset[str]]:
    """Words jieba counts often: all of them, and those it does not tag as place names."""
    import jieba
    import jieba.posseg

    jieba.initialize()
    tags = jieba.posseg.dt.word_tag_tab
    common = frozenset(w for w, n in jieba.dt.FREQ.items() if n >= _WORD_FREQUENCY)
    return common, frozenset(w for w in common if not str(tags.get(w, "")).startswith("ns"))


@lru_cache(maxsize=1)
def places() -> dict[str, Place]:
    """Full names of China's divisions (聂荣县, 那曲市) → their place, from cpca's table."""
    path = importlib.metadata.distribution("cpca").locate_file("cpca/resources/adcodes.csv")
    codes: dict[str, list[str]] = {}
    with open(str(path), encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["name"]
            # Placeholder rows (县, 市辖区, 省直辖县级行政区划) are not names.
            if len(name) < 2 or name.startswith(("市辖", "省直辖", "自治区直辖")):
                continue
            codes.setdefault(name, []).append(_adcode_prefix(row["adcode"]))
    # The table predates prefectures becoming cities (那曲地区 → 那曲市): the city keeps the
    # prefecture's codes.
    for name, prefixes in list(codes.items()):
        if name.endswith("地区"):
            codes.setdefault(name[:-2] + "市", prefixes)
    common, not_places = _common_words()
    table: dict[str, Place] = {}
    for name, prefixes in codes.items():
        if name in not_places:
            continue
        short = _short_form(name)
        if short in codes or short in common:
            short = ""
        table[name] = Place(name, short, tuple(prefixes))
    return table


@lru_cache(maxsize=1)
def _short_forms() -> dict[str, Place]:
    """Short forms a question may use for a place (康马 = 康马县), when they are not words."""
    table: dict[str, Place] = {}
    for place in places().values():
        if place.short:
            table.setdefault(place.short, place)
    return table


@lru_cache(maxsize=1)
def _place_pattern() -> re.Pattern[str]:
    forms = sorted(places(), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, forms)))


@lru_cache(maxsize=1)
def _pinyin_places() -> dict[str, Place]:
    """Spellings an English question uses for a place: 比如县 → biru, nierong (pinyin, no tones)."""
    from pypinyin import lazy_pinyin

    table: dict[str, Place] = {}
    for place in places().values():
        core = _short_form(place.name) or place.name
        table.setdefault("".join(lazy_pinyin(core)).lower(), place)
    return table


def places_in(text: str) -> list[Place]:
    """Full place names in the text, in order (the longest at each position)."""
    table = places()
    return [table[m.group(0)] for m in _place_pattern().finditer(text)]


def _asked_places(question: str) -> list[Place]:
    """Full names, and short forms that stand as words of the question (康马, not the 康保 of
    健康保障)."""
    found = places_in(question)
    short = _short_forms()
    found += [short[word] for word in tokenize(question) if word in short]
    return list(dict.fromkeys(found))


_LOCALITY = re.compile(r"(?:村|乡|镇|社区|街道)")


def localities_in(text: str) -> list[str]:
    """Villages, townships and communities (卡琼村, 苏林乡, 德庆镇, 吉崩岗社区): names the
    divisions table does not hold. A name is a word jieba tags as a noun or name (or one it
    does not know) before its suffix, two to four characters, not a common word (驻村, 乡村,
    新农村, 有几个村)."""
    starts: dict[int, str] = {}  # where a jieba word starts -> its part of speech
    ends: dict[int, int] = {}
    position = 0
    for word, flag in tag_words(text):
        at = text.find(word, position)
        if at >= 0:
            starts[at] = flag
            ends[at] = at + len(word)
            position = at + len(word)
    common, _ = _common_words()
    known = _known_words()
    found = []
    for match in _LOCALITY.finditer(text):
        for length in (2, 3, 4):
            start = match.start() - length
            if start < 0 or start not in starts:
                continue
            name = text[start : match.end()]
            core = name[:length]
            whole = ends.get(start) == match.end()
            # 新/农村: a word across the name's core and suffix is not a name's suffix.
            if match.start() not in starts and not whole:
                continue
            nouns = all(
                flag[:1] in _NAME_TAGS for at, flag in starts.items() if start <= at < match.start()
            )
            if (
                nouns
                and _CJK_RUN.fullmatch(core)
                and not _NOT_IN_A_NAME.search(core)
                and name not in known
                and core not in common
            ):
                found.append(name)
                break
    return list(dict.fromkeys(found))


# Parts of speech a village name's words carry (nouns, names, words jieba does not know).
_NAME_TAGS = frozenset("nx")
# For saying which village the evidence is about (display only, so looser than localities_in).
_NAMED_LOCALITY = re.compile(r"[\u4e00-\u9fff]{2,3}?(?:村|乡|镇|社区)")


_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# Division suffixes and determiners (聂荣县各乡镇, 全乡, 该村) do not stand inside a village name.
_NOT_IN_A_NAME = re.compile(r"[省市县区州各每全该本这那其此]")


@lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    """Every word in jieba's dictionary: a village name there is a common word (新农村)."""
    import jieba

    jieba.initialize()
    return frozenset(w for w, n in jieba.dt.FREQ.items() if n > 0)


def _locality_forms(name: str) -> list[str]:
    """加查苏林乡 → 加查苏林乡, 查苏林乡, 苏林乡: the tails a text may name it by."""
    suffix = _LOCALITY.search(name)
    end = suffix.start() if suffix else len(name)
    return [name[i:] for i in range(0, max(1, end - 1))]


def chinese_number(text: str) -> int | None:
    """第十二 → 12 (the numeral of an ordinal; Arabic digits pass through); None otherwise."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for char in text.replace("两", "二"):
        if char in _DIGITS:
            current = _DIGITS.index(char)
        elif char in "十百":
            total += (current or 1) * (10 if char == "十" else 100)
            current = 0
        else:
            return None
    return total + current


def _ordinals(text: str) -> list[tuple[int, str, str]]:
    """(value, measure word, as written): (13, 批, 第十三批)."""
    found = []
    for match in _ORDINAL.finditer(text):
        value = chinese_number(match.group(1))
        if value:
            found.append((value, match.group(2), match.group(0)))
    return found


def _years(text: str) -> list[tuple[int, int]]:
    """Years (and year ranges such as 2021—2025年) the text dates something by."""
    found = []
    for match in _YEAR_IN_TEXT.finditer(text):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        found.append((first, last))
    return found


def asked_constraints(question: str) -> tuple[Asked, ...]:
    """The places, years and ordinals a question asks about."""
    text = to_simplified(question)
    asked: list[Asked] = []
    if is_english(text):
        spellings = _pinyin_places()
        for match in _EN_NAME.finditer(text):
            words = _EN_DIVISION.sub("", match.group(1))
            place = spellings.get(words.replace(" ", "").lower())
            if place is not None:
                asked.append(Asked("place", match.group(0), place=place))
        for match in _EN_ORDINAL.finditer(text):
            measure = _EN_MEASURES[match.group(2).lower()]
            asked.append(Asked("ordinal", match.group(0), ordinal=(int(match.group(1)), measure)))
    else:
        for place in _asked_places(text):
            asked.append(Asked("place", place.name, place=place))
        for name in localities_in(text):
            asked.append(Asked("locality", name))
        for match in _ORDINAL.finditer(text):
            number = chinese_number(match.group(1))
            if number:
                asked.append(Asked("ordinal", match.group(0), ordinal=(number, match.group(2))))
    for match in _YEAR.finditer(text):
        year = int(match.group(1))
        asked.append(Asked("year", f"{year}年", year=year))
    return tuple(dict.fromkeys(asked))


def _sentence_of(text: str, quote: str) -> str:
    """The sentence(s) of `text` that hold the quote (the quote itself when it is not found)."""
    at = text.find(quote)
    if at < 0:
        return quote
    sentences = _SENTENCE_END.split(text)
    out, position = [], 0
    for sentence in sentences:
        end = position + len(sentence)
        if end > at and position < at + len(quote):
            out.append(sentence)
        position = end
    return "".join(out) or quote


def _locality_difference(asked: Asked, scopes: Sequence[str]) -> Difference | None:
    """A village or township the article never names: the evidence is about another place
    (the nearest one it names), or about the article as a whole."""
    forms = _locality_forms(asked.text)
    if any(form in scope for scope in scopes for form in forms):
        return None
    for scope in scopes:
        others = [p.name for p in places_in(scope)] + [
            n
            for n in _NAMED_LOCALITY.findall(scope)
            if n[-1] == asked.text[-1] and not _NOT_IN_A_NAME.search(n[:-1])
        ]
        if others:
            return Difference(asked.text, Counter(others).most_common(1)[0][0])
    return Difference(asked.text, scopes[-1].split("\n", 1)[0].strip())


def _level(place: Place) -> int:
    """2 province, 4 city (prefecture), 6 county: the length of its adcode prefix."""
    return len(place.codes[0])


def _place_difference(asked: Asked, scopes: Sequence[str]) -> Difference | None:
    """The sentence and paragraph contradict the question when they are about another place
    of the asked one's standing (another county for a county); the article, when it never
    names the asked place nor a place inside it."""
    assert asked.place is not None
    wanted = asked.place
    for depth, scope in enumerate(scopes):
        named = places_in(scope)
        if any(p.within(wanted) for p in named):
            return None
        if any(form in scope for form in wanted.forms()):
            return None
        last = depth == len(scopes) - 1
        peers = [p for p in named if _level(p) == _level(wanted)]
        if last and not peers:
            peers = [p for p in named if not wanted.within(p)] or named
        if peers:
            return Difference(asked.text, Counter(p.name for p in peers).most_common(1)[0][0])
    return None


_RELATIVE_YEARS = {"今年": 0, "本年": 0, "当年": 0, "去年": -1, "上年": -1, "前年": -2}
_RELATIVE_YEAR = re.compile("|".join(_RELATIVE_YEARS))


def page_year(page: str) -> int | None:
    """The year a page is dated by: the one it names most (None when it names none)."""
    years = Counter(first for first, last in _years(page) if first == last)
    return years.most_common(1)[0][0] if years else None


def _year_difference(asked: Asked, scopes: Sequence[str], year: int | None) -> Difference | None:
    """`year` is the page's own (今年 in its text means that one). The asked year written
    anywhere in the sentence or paragraph (2012-13学年, 2012—2013) answers for it."""
    written = re.compile(rf"(?<!\d){asked.year}(?!\d)")
    if any(written.search(scope) for scope in scopes[:2]):
        return None
    for scope in scopes:
        years = _years(scope)
        if not years and year is not None:
            years = [
                (year + _RELATIVE_YEARS[m], year + _RELATIVE_YEARS[m])
                for m in _RELATIVE_YEAR.findall(scope)
            ]
        if not years:
            continue
        if any(first <= asked.year <= last for first, last in years):
            return None
        first, last = years[0]
        return Difference(asked.text, f"{first}年" if first == last else f"{first}—{last}年")
    return None


def _ordinal_difference(asked: Asked, scopes: Sequence[str]) -> Difference | None:
    value, measure = asked.ordinal
    for scope in scopes:
        same = [(v, written) for v, m, written in _ordinals(scope) if m == measure]
        if not same:
            continue
        if any(v == value for v, _ in same):
            return None
        return Difference(asked.text, same[0][1])
    return None


def differences(
    asked: Sequence[Asked],
    quote: str,
    paragraph: str | None,
    article: str | None,
    page: str | None = None,
    highlight: str | None = None,
) -> tuple[Difference, ...]:
    """The constraints the evidence contradicts: each is checked at the narrowest scope that
    names something of its kind (sentence, paragraph, article). `page`, the whole story file,
    dates what the text calls 今年 or 去年. Places in the `highlight` are the answer (where
    from? 上海市、山东省), not what the evidence is about."""
    paragraph = paragraph or quote
    scopes = [_sentence_of(paragraph, quote), paragraph]
    if article:
        scopes.append(article)
    place_scopes = [s.replace(highlight, "\n") for s in scopes] if highlight else scopes
    found = []
    for constraint in asked:
        if constraint.kind == "place":
            difference = _place_difference(constraint, place_scopes)
        elif constraint.kind == "locality":
            difference = _locality_difference(constraint, place_scopes)
        elif constraint.kind == "year":
            difference = _year_difference(constraint, scopes, page_year(page) if page else None)
        else:
            difference = _ordinal_difference(constraint, scopes)
        if difference is not None:
            found.append(difference)
    return tuple(found)
