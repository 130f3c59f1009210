"""Extractive answers: the sentence that answers a question, the exact span to highlight, and
when to abstain because no retrieved story supports an answer.

Everything here is general linguistics of Chinese news text (measure words, quoted titles,
"title + name" patterns, enumerations with 、); nothing is keyed to particular stories.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from index.embedding import Embedder
from index.models import Chunk, Hit
from index.question import (
    PERCENT_UNITS,
    UNIT_PATTERN,
    QuestionFocus,
    QuestionType,
    analyse_question,
    char_bigrams,
    content_segments,
    has_content,
    matching_form,
    question_grams,
    tag_words,
    tokenize,
)
from index.quoting import SHORT_QUOTE, sentence_bounds

__all__ = [
    "Extraction",
    "QuestionType",
    "abstention_reason",
    "extract_answer",
    "romanised_names",
    "should_abstain",
]


@dataclass(frozen=True)
class Extraction:
    """The answer sentence(s) exactly as in the chunk, the highlight inside it, and its source."""

    text: str
    highlight: str | None
    chunk: Chunk
    confidence: float
    qtype: QuestionType
    support: float = 0.0  # weighted share of the question's content found around the answer
    span_fits: bool = False  # the highlight has the asked type (and unit, if one was asked)
    # For "how many <noun>": a word of the question sits next to the number (6名|医生).
    counts_asked_thing: bool = True
    # The highlight's [start, end) in the chunk's text (None for a headline), so that the
    # answer can be quoted from the whole paragraph.
    span: tuple[int, int] | None = None


_CLAUSE_SPLIT = re.compile(r"[,，:：;；。！？!?“”‘’《》()（）\n]")


# --- typed spans ---------------------------------------------------------------------------

_CN_DIGITS = "零〇一二三四五六七八九十百千两"
_NUMBER_CORE = rf"(?:\d+(?:[.,]\d+)*|[{_CN_DIGITS}]+)"
_NUMBER_PREFIX = r"(?:超过|逾|将近|接近|近|约|不到|不足|第)"
_NUMBER_SPAN = re.compile(
    rf"{_NUMBER_PREFIX}?{_NUMBER_CORE}(?:[余多])?(?:[万亿千百])?(?:[余多])?"
    # a range: 70-80公里, 15至20厘米
    rf"(?:[-~～至到]{_NUMBER_CORE}(?:[万亿千百])?)?"
    rf"(?:%|‰|℃|(?:个)?多?(?:{UNIT_PATTERN}))?"
    r"(?:多|余|以上|以下|左右|上下|之多)?"
)
_NUMBER_UNIT = re.compile(rf"({UNIT_PATTERN}|%|‰|℃)(?:多|余|以上|以下|左右|上下|之多)?$")
_ORDINAL_SPAN = re.compile(rf"第[\d{_CN_DIGITS[:-1]}]+[\u4e00-\u9fff]")
_RATIO_SPAN = re.compile(r"(?:约为?)?\d+(?:\.\d+)?[:：]\d+(?:\.\d+)?")
_NOT_DIGITS = re.compile(r"[^\d.]")
_LONE_ONE = re.compile(r"^一[^一二三四五六七八九十百千万亿两零〇]")
_HAS_DIGIT = re.compile(rf"[\d{_CN_DIGITS}]")
_ARABIC = re.compile(r"\d")
_YEAR_OR_DAY = re.compile(r"^\d{4}年|^\d{1,2}[月日号]|^\d{1,2}月")

_DATE_SPAN = re.compile(
    r"(?:今年|去年|明年|前年|当年|同年|(?:公元前|公元)\d{1,4}年|\d{3,4}年|[\u4e00-\u9fff]{2}元年)"
    r"(?:\d{1,2}月(?:\d{1,2}[日号])?)?(?:[上中下]旬|底|初|末)?"
    r"|\d{1,2}月\d{1,2}[日号](?:[至到-]\d{1,2}[日号])?|\d{1,2}月(?:[上中下]旬|底|初|末)?"
    r"|(?:每[天晚日周月]|[早晚]上|上午|下午|凌晨|中午|傍晚|晚)?"
    rf"[\d{_CN_DIGITS}]{{1,3}}[点时](?:半|\d{{1,2}}分)?"
    r"|星期[一二三四五六日天]|周[一二三四五六日]"
)
_TIME_OF_DAY = re.compile(r"[点时]")
_TEMPORAL_CLAUSE = re.compile(
    r"[\u4e00-\u9fff\d]{1,10}?(?:的时候|时期|期间|之后|以后|之前|以前|之际)"
)
_ASKS_TIME_OF_DAY = re.compile(r"几点|what time")
_ASKS_YEAR = re.compile(r"哪年|哪一年|what year|which year")
_ASKS_DAY = re.compile(r"哪天|哪一天|几号|哪日|what date|which day|what day")
_DAY_MARK = re.compile(r"[日号]")
_ASKS_END = re.compile(r"结束|截止|闭幕|到哪天|持续到|\buntil\b|\bend|\bclose")
_DATE_END_MARK = re.compile(r"(?:到|至|截至|持续到)$")
_DATE_START_MARK = re.compile(r"^(?:起|以来|开始|启动)")

_QUOTE_CONTENT = re.compile(r"“([^“”]{2,40})”|《([^《》]{2,40})》")
# A person's name right after a title, role or relation, ended by a speech verb or a particle.
_TITLE_WORDS = (
    "书记|主任|理事长|局长|县长|市长|区长|乡长|镇长|村长|院长|站长|所长|队长|主席|部长|组长|"
    "委员|经理|董事长|厂长|校长|老师|教师|医生|大夫|护士|专家|农艺师|工程师|记者|通讯员|村民|"
    "居民|牧民|农民|群众|老人|大爷|大妈|阿妈|阿爸|患者|对象|负责人|干部|党员|民警|队员|战士|"
    "官兵|志愿者|代表|学生|社长|会长|馆长|处长|科长|指导员|教导员|政委|司令员|夫人"
)
_SPEECH_VERBS = "说|表示|介绍|指出|强调|告诉|坦言|感慨|笑着|带领|一行"
# Characters that do not occur inside personal names (particles, negation, common verbs).
_NAME_CHAR = r"(?:(?![的了是在对不和与就也都又还把被将为着过很说讲要有从向])[\u4e00-\u9fff·])"
_NAME_AFTER_TITLE = re.compile(
    rf"(?:{_TITLE_WORDS})(?!{_SPEECH_VERBS}|[的是在和与等])({_NAME_CHAR}{{2,7}}?)"
    r"(?=说|表示|介绍|指出|强调|告诉|坦言|感慨|笑着|一行|家|属|等|今年|是|正|在|的|为|带领|[、（(])"
)
_SPEAKER_AFTER_QUOTE = re.compile(
    rf"”({_NAME_CHAR}{{2,7}}?)(?:笑着|激动地|高兴地|感慨地)?(?:说|表示|介绍|坦言|感慨)"
)
_ROLE_BEFORE_VERB = re.compile(
    rf"([\u4e00-\u9fff]{{0,8}}?(?:{_TITLE_WORDS}))(?=说|表示|介绍|指出|强调|鼓励|带头|带领|要求)"
)
_PERSON_FLAGS = frozenset({"nr", "nrfg", "nrt"})
_PLACE_FLAGS = frozenset({"ns"})
_PLACE_SUFFIX = re.compile(r"(?:[县市乡村镇区省州旗盟]|国道|街道|社区)$")
# Suffixes that close a name of a larger unit; 村 often sits inside names (幸福新村社区).
_ENCLOSING_PLACE_SUFFIX = re.compile(r"(?:[县市乡镇区省州旗盟]|街道)$")
_BARE_SUFFIX_WORDS = frozenset({"国道", "省道", "街道", "社区", "县", "市", "乡", "村", "镇", "区"})
_LOCATIVE = re.compile(r"(?:家住|住在|位于|前往|来到|赶赴|赴|到|在|去|于|住|来自|从)")
_PHRASE_STOP_FLAGS = frozenset({"v", "p", "u", "uj", "ul", "uz", "ud", "d", "c", "x", "r", "y"})

_LIST_TAIL_CUT = re.compile(r"等|的|为|是|在|开展|进行|实施|参加|参与|共同|一起|组成|构成")
_EDGE_FUNCTION_CHARS = "的了是在对为将和与及并把被从向于就也都又还"


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    fit: float  # how well the span answers the asked type, 0..~2
    fits: bool = True  # the span has the asked type and unit: enough to answer at all

    def text(self, sentence: str) -> str:
        return sentence[self.start : self.end]


def _covered_mask(sentence: str, grams: Iterable[str]) -> list[bool]:
    """Characters of `sentence` that belong to an occurrence of a question gram."""
    covered = [False] * len(sentence)
    for gram in grams:
        if not gram:
            continue
        start = sentence.find(gram)
        while start >= 0:
            for index in range(start, start + len(gram)):
                covered[index] = True
            start = sentence.find(gram, start + 1)
    return covered


def _clause_bounds(sentence: str) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in _CLAUSE_SPLIT.finditer(sentence):
        if match.start() > start:
            bounds.append((start, match.start()))
        start = match.end()
    if start < len(sentence):
        bounds.append((start, len(sentence)))
    return bounds


_PROXIMITY_CLAUSE = re.compile(r"[,，。;；:：！？!?\n]")
_TOTAL_CUE_IN_QUESTION = re.compile(r"一共|总共|共|累计|总|合计|全部|total|in all")
_TOTAL_CUE_BEFORE = re.compile(r"(?:共|共计|累计|总计|合计|总|达|达到)$")


def _proximity(sentence: str, start: int, end: int, covered: Sequence[bool]) -> float:
    """How much of the question sits in the span's own clause, and how close: 0..1."""
    clause_start = max((m.end() for m in _PROXIMITY_CLAUSE.finditer(sentence, 0, start)), default=0)
    clause_end_match = _PROXIMITY_CLAUSE.search(sentence, end)
    clause_end = clause_end_match.start() if clause_end_match else len(sentence)
    in_clause = sum(covered[clause_start:start]) + sum(covered[end:clause_end])
    left = next((i for i in range(start - 1, clause_start - 1, -1) if covered[i]), None)
    right = next((i for i in range(end, clause_end) if covered[i]), None)
    distance = min(
        start - left if left is not None else 999, right - end + 1 if right is not None else 999
    )
    # The question's noun phrase right before the span (护林员工资|12万元) counts most.
    adjacent = 0
    while start - adjacent - 1 >= clause_start and covered[start - adjacent - 1]:
        adjacent += 1
    # Up to 10 covered characters count: a clause that repeats the shared words and also
    # names who or what is asked about (中小学生…接种|N人次) beats one with the shared words only.
    in_clause_share = min(1.0, in_clause / 10)
    return 0.5 * in_clause_share + 0.3 / (1.0 + distance / 8) + 0.2 * min(1.0, adjacent / 8)


def _number_spans(sentence: str, focus: QuestionFocus, covered: Sequence[bool]) -> list[_Span]:
    spans: list[_Span] = []
    question = focus.text
    wants_total = bool(_TOTAL_CUE_IN_QUESTION.search(question.lower()))
    specific_units = focus.units and focus.units != ("个",)
    for order, match in enumerate(_NUMBER_SPAN.finditer(sentence)):
        text = match.group(0)
        if not _HAS_DIGIT.search(text) or _glued_to_latin(sentence, match.start(), match.end()):
            continue
        unit_match = _NUMBER_UNIT.search(text)
        if not _ARABIC.search(text) and (not unit_match or _LONE_ONE.match(text)):
            continue  # a bare Chinese numeral is part of a word (一起), 一+measure an article
        unit = unit_match.group(1) if unit_match else ""
        latin_unit = _LATIN_UNIT.match(sentence, match.end())
        if latin_unit and not unit:
            unit = _LATIN_UNIT_NAMES.get(latin_unit.group(0), "")
            text += unit  # 45m counts as 45米 for the unit checks below
        fit = 0.7
        if specific_units:
            if unit and any(u in text for u in focus.units):
                fit += 0.8 - 0.05 * next(i for i, u in enumerate(focus.units) if u in text)
            else:
                fit -= 0.5 if unit else 0.3
        elif unit:
            fit += 0.1
        end = latin_unit.end() if latin_unit else match.end()
        if focus.counted_noun and (
            _starts_with_noun(sentence[end:], focus.counted_noun)
            or _ends_with_noun(sentence[: match.start()], focus.counted_noun)
        ):
            fit += 0.4
            if len(focus.counted_noun) <= 4 and sentence.startswith(focus.counted_noun, end):
                end += len(focus.counted_noun)  # 12个方面: the noun belongs to the answer
        digits = _NOT_DIGITS.sub("", text)
        if digits and digits in question:
            fit -= 1.2  # the question's own number (2023年, 65岁以上) is not the answer
        if _YEAR_OR_DAY.search(text) and "年" not in focus.units and "天" not in focus.units:
            fit -= 0.8
        if wants_total and _TOTAL_CUE_BEFORE.search(
            sentence[max(0, match.start() - 3) : match.start()]
        ):
            fit += 0.25
        fit -= 0.01 * min(order, 10)
        fit += 0.5 * _proximity(sentence, match.start(), match.end(), covered)
        spans.append(_Span(match.start(), end, fit, _number_fits(text, unit, focus)))
    if "第几" in question:
        # 第几届/第几区: the ordinal with whatever noun follows it.
        for match in _ORDINAL_SPAN.finditer(sentence):
            fit = 1.4 + 0.5 * _proximity(sentence, match.start(), match.end(), covered)
            spans.append(_Span(match.start(), match.end(), fit))
    if focus.units == PERCENT_UNITS:
        for match in _RATIO_SPAN.finditer(sentence):  # 男女比例约为2:3
            fit = 1.3 + 0.5 * _proximity(sentence, match.start(), match.end(), covered)
            spans.append(_Span(match.start(), match.end(), fit))
    return spans


def _glued_to_latin(sentence: str, start: int, end: int) -> bool:
    """Digits inside a code or name (PM10, GB3095, 5G) are not quantities; a number followed
    by a metric unit (16km², 3kg) is."""
    before = sentence[start - 1 : start]
    after = sentence[end : end + 1]
    if _LATIN_UNIT.match(sentence, end):
        return bool(_LATIN_LETTER.match(before))
    return bool(_LATIN_LETTER.match(before) or _LATIN_LETTER.match(after) or before == "-")


_LATIN_UNIT = re.compile(r"(?:km|cm|mm|kg|mg|ml|ha|m)(?:²|³)?(?![A-Za-z])")
_LATIN_UNIT_NAMES = {
    "m": "米",
    "km": "公里",
    "cm": "厘米",
    "mm": "毫米",
    "kg": "公斤",
    "mg": "毫克",
    "ml": "毫升",
    "ha": "公顷",
    "m²": "平方米",
    "km²": "平方公里",
}


_LATIN_LETTER = re.compile(r"[A-Za-z]")


def _number_fits(text: str, unit: str, focus: QuestionFocus) -> bool:
    """A count in the asked unit; 多少个 accepts any classifier (30名 answers 多少个志愿者)."""
    digits = _NOT_DIGITS.sub("", text)
    if digits and digits in focus.text:
        return False
    if _YEAR_OR_DAY.search(text) and "年" not in focus.units:
        return False
    if focus.units == ("个",):
        return unit not in _NOT_COUNTS
    if not focus.units:
        return True
    return bool(unit) and any(u in text for u in focus.units)


# Units that measure time, shares or money: never the answer to 多少个.
_NOT_COUNTS = frozenset(
    {"年", "月", "天", "日", "小时", "分钟", "个月", "%", "‰", "元", "万元", "亿元"}
)


def _ends_with_noun(before: str, noun: str) -> bool:
    """The counted noun right before the number (处罚决定书9起)."""
    tail = before[-(len(noun) + 2) :]
    grams = char_bigrams(noun)
    return bool(grams) and sum(1 for g in grams if g in tail) / len(grams) >= 0.5


def _starts_with_noun(rest: str, noun: str) -> bool:
    head = rest[: len(noun) + 4]
    grams = char_bigrams(noun)
    return bool(grams) and sum(1 for g in grams if g in head) / len(grams) >= 0.5


def _date_spans(sentence: str, focus: QuestionFocus, covered: Sequence[bool]) -> list[_Span]:
    spans: list[_Span] = []
    lowered = focus.text.lower()
    wants_time = bool(_ASKS_TIME_OF_DAY.search(lowered))
    wants_year = bool(_ASKS_YEAR.search(lowered))
    wants_end = bool(_ASKS_END.search(lowered))
    wants_day = bool(_ASKS_DAY.search(lowered))
    for match in _DATE_SPAN.finditer(sentence):
        text = match.group(0)
        if text in focus.text:
            continue
        fit = 1.0
        is_time = bool(_TIME_OF_DAY.search(text)) and "月" not in text
        if wants_time != is_time:
            fit -= 0.6
        if wants_year and "年" not in text:
            fit -= 0.4
        if wants_day and not _DAY_MARK.search(text):
            fit -= 0.6
        elif not wants_year and _DAY_MARK.search(text):
            fit += 0.2  # an unspecific "when" is best answered by the full date
        before = sentence[max(0, match.start() - 3) : match.start()]
        after = sentence[match.end() : match.end() + 3]
        ends_here = bool(_DATE_END_MARK.search(before))
        if wants_end:
            fit += 0.4 if ends_here else -0.2
        elif ends_here:
            fit -= 0.3
        if _DATE_START_MARK.search(after):
            fit += 0.1
        fit += 0.3 * _proximity(sentence, match.start(), match.end(), covered)
        spans.append(_Span(match.start(), match.end(), fit, wants_time == is_time))
    if not any(span.fits for span in spans) and not wants_time:
        # "When" answered by an event (高二的时候, 四国征伐后): a temporal clause.
        for match in _TEMPORAL_CLAUSE.finditer(sentence):
            fit = 0.5 + 0.3 * _proximity(sentence, match.start(), match.end(), covered)
            spans.append(_Span(match.start(), match.end(), fit))
    return spans


_PERSON_HEAD = re.compile(
    r"(?:人|者|师|员|长|书记|主任|老人|村民|居民|牧民|群众|医生|干部|夫人|代表|患者|对象|"
    r"大爷|大妈|阿妈|家)$"
)
_ASKS_NAME = re.compile(r"叫什么|叫啥|叫做|名字|名称|主题|品牌|called|named|\bname\b")
_ASKS_WHO = re.compile(
    r"谁|\bwho|\b(?:secretary|director|head|chief|leader|chairman|mayor|governor|doctor|"
    r"nurse|expert|agronomist|resident|villager|person|official|officer|captain|president|"
    r"manager|teacher|volunteer|herder|farmer)\b"
)


_BEFORE_NAMING_VERB = re.compile(r"(.{1,12}?)(?:那个)?(?:的)?(?:主题|名字|名称)?(?:叫|是什么名)")
_ASKS_SPEAKER = re.compile(r"说|表示|讲")


@lru_cache(maxsize=256)
def _named_thing(focus: QuestionFocus) -> str:
    """The content words right before 叫什么/名字: what is being named (品牌, 工程, 老人)."""
    match = _BEFORE_NAMING_VERB.search(focus.text)
    if not match:
        return ""
    segments = content_segments(match.group(1))
    return segments[-1] if segments else ""


def _name_spans(sentence: str, focus: QuestionFocus, covered: Sequence[bool]) -> list[_Span]:
    """Quoted titles for 叫什么, person names (after a title, or the speaker of a quote) for 谁."""
    spans: list[_Span] = []
    lowered = focus.text.lower()
    named = _named_thing(focus)
    asks_person = bool(_ASKS_WHO.search(lowered)) or bool(named and _PERSON_HEAD.search(named))
    asks_title = bool(_ASKS_NAME.search(lowered)) and not asks_person
    named_tail = named[-2:]
    for match in _QUOTE_CONTENT.finditer(sentence):
        group = 1 if match.group(1) else 2
        start, end = match.start(group), match.end(group)
        inner = sentence[start:end]
        if _mostly_covered(inner, covered[start:end]) and not asks_title:
            continue
        fit = 1.2 if asks_title else (0.3 if asks_person else 0.5)
        if named_tail and named_tail in sentence[start : end + 1 + len(named) + 2]:
            fit += 0.6  # 品牌/工程/活动 inside or right after the quote
        fit += 0.4 * _proximity(sentence, match.start(), match.end(), covered)
        spans.append(_Span(start, end, fit))
    asks_speaker = bool(_ASKS_SPEAKER.search(focus.text))
    for pattern in (_NAME_AFTER_TITLE, _SPEAKER_AFTER_QUOTE):
        for match in pattern.finditer(sentence):
            start, end = match.start(1), match.end(1)
            if _mostly_covered(sentence[start:end], covered[start:end]):
                continue
            fit = (1.4 if asks_person else 0.8) + 0.3 * _proximity(sentence, start, end, covered)
            if asks_speaker and pattern is _SPEAKER_AFTER_QUOTE:
                fit += 0.2
            spans.append(_Span(start, end, fit))
    if asks_person:
        for match in _ROLE_BEFORE_VERB.finditer(sentence):
            spans.append(_Span(match.start(1), match.end(1), 1.0))
        spans.extend(span for span in _anchored_spans(sentence, focus, covered) if span.fit >= 1.1)
    if asks_person and not spans:
        for start, end in _words_with_flags(sentence, _PERSON_FLAGS):
            if end - start >= 2 and not any(covered[start:end]):
                spans.append(_Span(start, end, 0.7))
    return spans


def _words_with_flags(sentence: str, flags: frozenset[str]) -> list[tuple[int, int]]:
    return [
        (start, start + len(word))
        for word, flag, start in _located_words(sentence)
        if flag in flags
    ]


def _mostly_covered(text: str, covered: Sequence[bool]) -> bool:
    return bool(text) and sum(covered) >= 0.6 * len(text)


def _place_spans(sentence: str, focus: QuestionFocus, covered: Sequence[bool]) -> list[_Span]:
    """Place names (ns words or names with 县/市/乡/村… suffixes) and phrases after 在/到/住."""
    spans: list[_Span] = []
    words = _located_words(sentence)
    run_start: int | None = None
    run_end = 0
    for index, (word, flag, start) in enumerate(words):
        is_place = flag in _PLACE_FLAGS or (len(word) >= 2 and _PLACE_SUFFIX.search(word))
        is_suffix = index > 0 and (word == focus.place_suffix or word in _BARE_SUFFIX_WORDS)
        if is_place or is_suffix:
            if run_start is None:
                # 318 + 国道: a bare suffix word takes the word before it as its name.
                run_start = words[index - 1][2] if is_suffix else start
            run_end = start + len(word)
            continue
        if run_start is not None:
            spans.append(_place_span(sentence, run_start, run_end, focus, covered))
            run_start = None
    if run_start is not None:
        spans.append(_place_span(sentence, run_start, run_end, focus, covered))
    spans.extend(_locative_phrases(sentence, words, focus, covered))
    spans = [span for span in spans if span.end > span.start]
    if focus.wants_list:
        spans.extend(_joined_places(sentence, spans))
    return spans


def _joined_places(sentence: str, spans: Sequence[_Span]) -> list[_Span]:
    """Place names separated only by 、 joined into one enumeration (北京市、四川省)."""
    joined: list[_Span] = []
    ordered = sorted(spans, key=lambda span: span.start)
    index = 0
    while index < len(ordered):
        first = ordered[index]
        last = first
        count = 1
        while index + 1 < len(ordered) and sentence[last.end : ordered[index + 1].start] in (
            "、",
            "和",
            "及",
        ):
            index += 1
            last = ordered[index]
            count += 1
        if count > 1:
            joined.append(_Span(first.start, last.end, max(first.fit, last.fit) + 0.6))
        index += 1
    return joined


def _place_span(
    sentence: str, start: int, end: int, focus: QuestionFocus, covered: Sequence[bool]
) -> _Span:
    text = sentence[start:end]
    fit = 0.6
    if focus.place_suffix:
        # Narrow to the last name carrying the asked suffix (某县某乡白玛村 → 白玛村).
        position = text.rfind(focus.place_suffix)
        if position >= 0:
            suffix_end = start + position + len(focus.place_suffix)
            clause_start = max(
                (m.end() for m in _PROXIMITY_CLAUSE.finditer(sentence, 0, start)), default=0
            )
            name_start = _name_start_before(sentence, clause_start, suffix_end, focus.place_suffix)
            start, end = name_start, suffix_end
            fit += 0.8
        else:
            fit -= 0.3
    if _mostly_covered(sentence[start:end], covered[start:end]):
        fit -= 1.0
    fit += 0.3 * _proximity(sentence, start, end, covered)
    return _Span(start, end, fit)


def _name_start_before(sentence: str, floor: int, suffix_end: int, suffix: str) -> int:
    """Start of the name ending with `suffix` at `suffix_end`: right after the name of the
    enclosing unit (某县某乡|白玛村, 某街道|幸福新村社区), at most 8 characters back."""
    body_end = suffix_end - len(suffix)
    cursor = body_end - 1
    while cursor > floor and not _ENCLOSING_PLACE_SUFFIX.search(sentence[floor:cursor]):
        cursor -= 1
    return max(cursor, floor, suffix_end - 8)


def _located_words(sentence: str) -> list[tuple[str, str, int]]:
    located: list[tuple[str, str, int]] = []
    offset = 0
    for word, flag in tag_words(sentence):
        start = sentence.find(word, offset)
        if start < 0:
            continue
        located.append((word, flag, start))
        offset = start + len(word)
    return located


def _locative_phrases(
    sentence: str,
    words: Sequence[tuple[str, str, int]],
    focus: QuestionFocus,
    covered: Sequence[bool],
) -> list[_Span]:
    """The noun phrase after 在/到/前往/住: where something happens or someone lives."""
    spans: list[_Span] = []
    for index, (word, _flag, _start) in enumerate(words):
        if not _LOCATIVE.fullmatch(word):
            continue
        phrase_start: int | None = None
        phrase_end = 0
        for next_word, next_flag, next_start in words[index + 1 : index + 9]:
            if next_flag in _PHRASE_STOP_FLAGS or (next_flag.startswith("v") and next_flag != "vn"):
                break
            if phrase_start is None:
                phrase_start = next_start
            phrase_end = next_start + len(next_word)
        if phrase_start is None or phrase_end - phrase_start < 2:
            continue
        text = sentence[phrase_start:phrase_end]
        fit = 0.9
        if focus.place_suffix and not text.endswith(focus.place_suffix):
            fit -= 0.4
        if _mostly_covered(text, covered[phrase_start:phrase_end]):
            fit -= 1.0
        fit += 0.3 * _proximity(sentence, phrase_start, phrase_end, covered)
        spans.append(_Span(phrase_start, phrase_end, fit))
    return spans


def _list_spans(sentence: str, focus: QuestionFocus, covered: Sequence[bool]) -> list[_Span]:
    """Enumerations joined by 、 (the items of 哪些/哪几 answers), trimmed to item size."""
    spans: list[_Span] = []
    wanted = _wanted_count(focus.text)
    for start, end in _clause_bounds(sentence):
        clause = sentence[start:end]
        if "、" not in clause:
            continue
        items = clause.split("、")
        if any(not item.strip() for item in items):
            continue
        last = _trim_last_item(items[-1], max((len(item) for item in items[1:-1]), default=8))
        longest = max([len(last), *(len(item) for item in items[1:-1])])
        first = _trim_first_item(items[0], longest)
        span_start = start + len(items[0]) - len(first)
        span_end = start + len(clause) - len(items[-1]) + len(last)
        fit = 0.9 + 0.1 * min(len(items), 5)
        if wanted and len(items) == wanted:
            fit += 0.5
        if _mostly_covered(sentence[span_start:span_end], covered[span_start:span_end]):
            fit -= 1.0
        fit += 0.3 * _proximity(sentence, span_start, span_end, covered)
        spans.append(_Span(span_start, span_end, fit))
    return spans


_WANTED_COUNT = re.compile(r"哪([两二三四五六七八九十\d]+)[个家项条种类]")
_CHINESE_COUNT = {char: value for value, char in enumerate("零一二三四五六七八九十")} | {"两": 2}


def _wanted_count(question: str) -> int:
    match = _WANTED_COUNT.search(question)
    if not match:
        return 0
    value = match.group(1)
    return int(value) if value.isdigit() else _CHINESE_COUNT.get(value, 0)


# Words that introduce an enumeration: the first item starts after the last of them.
_LIST_INTRODUCER = re.compile(
    r"包括|包含|涵盖|涉及|例如|比如|诸如|如|即|有|是|为|联合|邀请|引进|面向|针对|严查|查处|确立|"
    r"确定|落地|开展|设立|推动|实施|建立|培育|种植|引导|覆盖|来自|对|向|给|从|在|由|把|将|和|与"
)


def _trim_first_item(item: str, longest: int) -> str:
    """The first item starts after the word that introduces the list (引进了|红提); failing
    that, its trailing words about as long as the other items."""
    token_starts, position = set(), 0
    for token in tokenize(item):
        token_starts.add(position)
        position += len(token)
    token_starts.add(position)
    introducers = [
        m
        for m in _LIST_INTRODUCER.finditer(item)
        if m.start() in token_starts and m.end() in token_starts  # whole words only
    ]
    if introducers:
        rest = item[introducers[-1].end() :].lstrip("了着过的")
        if rest:
            return rest
    kept = ""
    for word in reversed(tokenize(item)):
        if kept and len(kept) + len(word) > longest + 2:
            break
        kept = word + kept
    return kept


def _trim_last_item(item: str, longest: int) -> str:
    """The last item ends at 等/的 or a list-closing word; failing that, it keeps its leading
    words about as long as the other items."""
    cut = _LIST_TAIL_CUT.search(item)
    if cut and cut.start() > 0:
        return item[: cut.start()]
    kept = ""
    for word in tokenize(item):
        if kept and len(kept) + len(word) > longest + 2:
            break
        kept += word
    return kept


_WH_WORD = re.compile(r"什么|啥|哪[儿里些类种个几家位所条座项次届部本支批只间]|哪|谁|多少|几")
_WH_DETERMINER = re.compile(r"什么|啥|哪[些类种个几家位所条座项次届部本支批只间]")
_QUESTION_TAIL = re.compile(r"[了个是的都要还就也在把给]+$")
_QUESTION_HEAD = re.compile(r"^[的了是都要还就也在把给]+")
_LAST_TWO_CJK = re.compile(r"[\u4e00-\u9fff]{1,2}$")
_FIRST_TWO_CJK = re.compile(r"[\u4e00-\u9fff]{1,2}")
_FIRST_THREE_CJK = re.compile(r"[\u4e00-\u9fff]{1,3}")
_PARTICLE_AND_AFTER = re.compile(r"[的吗呢了]+.*$")


@dataclass(frozen=True)
class _Anchors:
    """Words around the question word, to be found again around the answer in a sentence."""

    before: str  # the verb the question word follows: 参观 in 参观了什么
    after: str  # the word the question word precedes: 修建 in 谁修建的
    head_noun: str  # the noun a determiner question word modifies: 场所 in 检查了哪类场所
    # Earlier question bigrams, nearest first, for when the verb is paraphrased (队长 in
    # 队长以前是干啥).
    before_fallbacks: tuple[str, ...] = ()


@lru_cache(maxsize=256)
def _anchors(focus: QuestionFocus) -> _Anchors:
    match = _WH_WORD.search(focus.text)
    if match is None or focus.english:
        return _Anchors("", "", "")
    before_text = _QUESTION_TAIL.sub("", focus.text[: match.start()])
    before_segments = content_segments(before_text)
    before_run = _LAST_TWO_CJK.search(before_segments[-1] if before_segments else "")
    after_text = _QUESTION_HEAD.sub("", focus.text[match.end() :])
    after_run = _FIRST_TWO_CJK.match(after_text)
    head = ""
    if _WH_DETERMINER.fullmatch(match.group(0)) and after_run:
        head_match = _FIRST_THREE_CJK.match(after_text)
        head = _PARTICLE_AND_AFTER.sub("", head_match.group(0) if head_match else "")
    asks_subject = bool(after_run) and not head
    fallbacks: list[str] = []
    for segment in reversed(content_segments(before_text)):
        for run in reversed(_CJK_CHARS.findall(segment)):
            fallbacks += [run[i - 2 : i] for i in range(len(run), 1, -1)]
        if len(fallbacks) >= _ANCHOR_FALLBACKS + 1:
            break
    if before_run and fallbacks and fallbacks[0] == before_run.group(0):
        fallbacks = fallbacks[1:]
    return _Anchors(
        before_run.group(0) if before_run and not asks_subject else "",
        after_run.group(0) if asks_subject and after_run else "",
        head,
        tuple(fallbacks[:_ANCHOR_FALLBACKS]) if not (asks_subject or head) else (),
    )


_ANCHOR_FALLBACKS = 4


_CJK_CHARS = re.compile(r"[\u4e00-\u9fff]+")


def _anchored_spans(sentence: str, focus: QuestionFocus, covered: Sequence[bool]) -> list[_Span]:
    """Spans found next to the question's own words: after its verb, before its noun."""
    anchors = _anchors(focus)
    spans: list[_Span] = []
    bounds = _clause_bounds(sentence)
    if anchors.head_noun:
        for match in re.finditer(re.escape(anchors.head_noun), sentence):
            clause_start = _clause_start(bounds, match.start())
            run_start = _modifier_start(sentence, clause_start, match.start(), covered)
            modifier = sentence[run_start : match.start()]
            if modifier and not _ARABIC.search(modifier) and "、" not in modifier:
                fit = 1.1 + 0.4 * _proximity(sentence, run_start, match.end(), covered)
                spans.append(_Span(run_start, match.end(), fit))
    before = anchors.before if anchors.before and anchors.before in sentence else ""
    # When the head noun is found (是哪个社区的), the words before the question word are the
    # subject, not a verb whose object is asked.
    fit = 1.0 if spans else 1.3
    if anchors.before and not before:
        # The verb itself is paraphrased: anchor on the nearest earlier question word found.
        before = next((gram for gram in anchors.before_fallbacks if gram in sentence), "")
        fit = 1.1
    if before:
        for match in re.finditer(re.escape(before), sentence):
            clause_end = _clause_end(bounds, match.end())
            run_end = min(clause_end, match.end() + 30)
            run_start, run_end = _strip_function_chars(sentence, match.end(), run_end)
            if run_end - run_start >= 2 and not _mostly_covered(
                sentence[run_start:run_end], covered[run_start:run_end]
            ):
                spans.append(_Span(run_start, run_end, fit))
    if anchors.after:
        for match in re.finditer(re.escape(anchors.after), sentence):
            clause_start = _clause_start(bounds, match.start())
            run_start, run_end = _strip_function_chars(sentence, clause_start, match.start())
            if 2 <= run_end - run_start <= 24:
                spans.append(_Span(run_start, run_end, 1.3))
    return spans


_MODIFIER_STOP_FLAGS = frozenset({"p", "u", "uj", "ul", "uz", "ud", "d", "r", "y", "x"})
_MAX_MODIFIER_CHARS = 12


def _modifier_start(sentence: str, floor: int, head_start: int, covered: Sequence[bool]) -> int:
    """Start of the words modifying a noun at `head_start` (高血压和心脏|病): walk back over
    nouns and conjunctions, stopping at a verb, particle, question word or the clause start."""
    start = head_start
    leading_flag = ""
    for word, flag, word_start in reversed(_located_words(sentence)):
        word_end = word_start + len(word)
        if word_start >= head_start:
            continue
        if word_end > head_start:  # the head noun ends a longer word (心脏病): keep its front
            start = word_start
            continue
        if word_start < floor or any(covered[word_start:word_end]):
            break
        if flag in _MODIFIER_STOP_FLAGS or (flag.startswith("v") and flag != "vn"):
            break
        if head_start - word_start > _MAX_MODIFIER_CHARS:
            break
        start = word_start
        leading_flag = flag
    if start < head_start and leading_flag == "c":  # 或者某市中医院: drop the 或者
        start += next(len(w) for w, _f, s in _located_words(sentence) if s == start)
    return _strip_function_chars(sentence, start, head_start)[0]


def _clause_start(bounds: Sequence[tuple[int, int]], position: int) -> int:
    return next((start for start, end in bounds if start <= position <= end), 0)


def _clause_end(bounds: Sequence[tuple[int, int]], position: int) -> int:
    return next((end for start, end in bounds if start <= position <= end), position)


def _gap_spans(sentence: str, focus: QuestionFocus, covered: Sequence[bool]) -> list[_Span]:
    """The part of a question-related clause that the question does not already say."""
    spans = _anchored_spans(sentence, focus, covered)
    for start, end in _clause_bounds(sentence):
        clause_cover = sum(covered[start:end])
        if clause_cover == 0:
            continue
        index = start
        while index < end:
            if covered[index]:
                index += 1
                continue
            run_start = index
            while index < end and not covered[index]:
                index += 1
            run_start, run_end = _strip_function_chars(sentence, run_start, index)
            if run_end - run_start < 2:
                continue
            fit = 0.4 + min(clause_cover, 8) / 20
            spans.append(_Span(run_start, run_end, fit))
    return spans


def _strip_function_chars(sentence: str, start: int, end: int) -> tuple[int, int]:
    while start < end and sentence[start] in _EDGE_FUNCTION_CHARS:
        start += 1
    while end > start and sentence[end - 1] in _EDGE_FUNCTION_CHARS:
        end -= 1
    return start, end


_YES_NO = re.compile(r"(?:吗|(?<![什怎])么)\??$|是不是|有没有|要不要|能不能|会不会|可不可以")


def _yes_no_spans(sentence: str, focus: QuestionFocus) -> list[_Span]:
    """For a yes/no question, the clause that speaks to its predicate (收费吗 → 不收取费用)."""
    segments = content_segments(focus.text)
    predicate = segments[-1] if segments else ""
    chars = {char for char in predicate if "\u4e00" <= char <= "\u9fff"}
    spans: list[_Span] = []
    for start, end in _clause_bounds(sentence):
        clause = sentence[start:end]
        hits = sum(1 for char in chars if char in clause)
        if chars and hits:
            spans.append(_Span(start, end, 0.6 + 0.6 * hits / len(chars)))
    return spans


def _typed_spans(sentence: str, focus: QuestionFocus, covered: Sequence[bool]) -> list[_Span]:
    """Candidate answer spans of the asked type, each with its fit."""
    if focus.wants_list and focus.qtype is not QuestionType.PLACE:
        lists = _list_spans(sentence, focus, covered)
        if lists:
            anchored = _anchored_spans(sentence, focus, covered)
            # An enumeration inside the words after the question's verb is that answer, cut
            # to its items (联合|县医院、志愿者协会|开展…).
            inside = [
                _Span(item.start, item.end, max(item.fit, span.fit + 0.1))
                for item in lists
                for span in anchored
                if span.start <= item.start and item.end <= span.end
            ]
            return inside + lists + anchored
    if focus.qtype is QuestionType.NUMBER:
        return _number_spans(sentence, focus, covered)
    if focus.qtype is QuestionType.DATE:
        return _date_spans(sentence, focus, covered)
    if focus.qtype is QuestionType.NAME:
        return _name_spans(sentence, focus, covered) or [
            _Span(s.start, s.end, s.fit - 0.4) for s in _gap_spans(sentence, focus, covered)
        ]
    if focus.qtype is QuestionType.PLACE:
        return (
            _place_spans(sentence, focus, covered)
            or _list_spans(sentence, focus, covered)
            or [
                _Span(s.start, s.end, s.fit - 0.5)
                for s in _anchored_spans(sentence, focus, covered)
            ]
        )
    if _YES_NO.search(focus.text):
        return _yes_no_spans(sentence, focus)
    quoted = [
        span
        for span in _name_spans(sentence, focus, covered)
        if sentence[span.start - 1 : span.start] in "“《"
    ]
    return quoted + _gap_spans(sentence, focus, covered)


# --- romanised names ----------------------------------------------------------------------

_PINYIN_WORD = re.compile(
    r"(?:(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|ai|ei|ao|ou|an|en|er|ia|ie|in|iu|ua|"
    r"uo|ui|un|ue|ve|a|o|e|i|u|v))+"
)
_CAPITALISED_WORD = re.compile(r"\b[A-Z][a-z]{3,}\b")
_MAX_NAME_SYLLABLES = 6


def romanised_names(question: str) -> list[str]:
    """Capitalised words of an English question that spell pinyin (Hangzhou, Xining), lower-cased;
    Tibetan romanisations (Lhasa, Nagqu) are not pinyin and are left out."""
    names = []
    for word in _CAPITALISED_WORD.findall(question):
        lowered = word.lower()
        if _PINYIN_WORD.fullmatch(lowered) and lowered not in _ENGLISH_COMMON_PINYIN_LOOKALIKES:
            names.append(lowered)
    return list(dict.fromkeys(names))


# English words that happen to spell pinyin syllables.
_ENGLISH_COMMON_PINYIN_LOOKALIKES = frozenset(
    "china chinese hang long line bang gang sing song ping pong mine time once"
    " done gone none lane zone bone".split()
)


@lru_cache(maxsize=4096)
def _pinyin_syllables(text: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    return tuple(syllable.lower() for syllable in lazy_pinyin(text))


def _romanised_found(name: str, text: str) -> bool:
    """`name` spelled by consecutive syllables of the text's pinyin (xining → 西宁)."""
    syllables = _pinyin_syllables(text)
    for start in range(len(syllables)):
        if not name.startswith(syllables[start]):
            continue
        joined = ""
        for syllable in syllables[start : start + _MAX_NAME_SYLLABLES]:
            joined += syllable
            if len(joined) >= len(name):
                break
        if joined == name:
            return True
    return False


def _english_coverage(
    names: Sequence[str],
    name_weights: dict[str, float],
    translated: dict[str, float],
    text: str,
) -> float:
    """Translated words found in `text` (the lexicon maps romanised names too); without a
    lexicon, romanised names matched against the text's pinyin."""
    if translated:
        return _coverage(text, translated)
    return _romanised_coverage(names, text, name_weights)


def _name_weights(names: Sequence[str], texts: Sequence[str]) -> dict[str, float]:
    """IDF of each romanised name over the candidate sentences, as for Chinese grams."""
    total = len(texts)
    return {
        name: 1.0 + math.log((total + 1) / (sum(1 for t in texts if _romanised_found(name, t)) + 1))
        for name in names
    }


def _romanised_coverage(
    names: Sequence[str], text: str, weights: dict[str, float] | None = None
) -> float:
    if not names:
        return 0.0
    total = sum(weights.get(name, 1.0) for name in names) if weights else len(names)
    found = sum(
        (weights.get(name, 1.0) if weights else 1.0)
        for name in names
        if _romanised_found(name, text)
    )
    return found / total


# --- scoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    sentence: str  # simplified for matching; same length as `original`, so spans index both
    original: str  # exactly as in the chunk
    hit: Hit
    rank: int
    index: int  # position of the sentence within its chunk
    bounds: tuple[tuple[int, int], ...]  # every sentence of the chunk's text, to add a neighbour


def _article_key(chunk: Chunk) -> tuple[str, int]:
    return chunk.file, chunk.article_index


def _gram_weights(grams: set[str], texts: Sequence[str]) -> dict[str, float]:
    """IDF over the candidate sentences: grams found everywhere (党员, 工作) count less."""
    total = len(texts)
    lowered = [text.lower() for text in texts]
    weights: dict[str, float] = {}
    for gram in grams:
        frequency = sum(1 for text in lowered if gram in text)
        weight = 1.0 + math.log((total + 1) / (frequency + 1))
        # Numbers and latin words (2017, H7N9) pin a fact down more than any two characters.
        weights[gram] = weight * _ASCII_TERM_BOOST if _ASCII_GRAM.match(gram) else weight
    return weights


_ASCII_GRAM = re.compile(r"^[a-z0-9.%]+$")
_ASCII_TERM_BOOST = 2.0


_TOPIC_DISCOUNT = 0.4
_SETTING_DISCOUNT = 0.15
# A headline is a last resort: body sentences read better as answers.
_HEADLINE_PENALTY = 0.3


def _topic_discounted(
    weights: dict[str, float], headline: str, setting: frozenset[str] = frozenset()
) -> dict[str, float]:
    """Grams the headline already names are the article's topic, and grams of a clause that
    only sets the scene (次仁摔伤了腿 in 次仁摔伤了腿 项目给他装了个啥): they do not tell one
    sentence of the article from another, so they count less at sentence level."""
    if not headline and not setting:
        return weights
    discounted = {}
    for gram, weight in weights.items():
        if gram in setting:
            weight *= _SETTING_DISCOUNT
        elif gram in headline:
            weight *= _TOPIC_DISCOUNT
        discounted[gram] = weight
    return discounted


_QUESTION_CLAUSE_SPLIT = re.compile(r"\s+")


def _setting_grams(focus: QuestionFocus, grams: set[str]) -> frozenset[str]:
    """Grams found only in the space-separated clauses that lack the question word: chat
    questions set the scene first (次仁摔伤了腿 项目给他装了个啥). Comma clauses are left alone;
    they often carry a constraint (在1991年，…) rather than a scene."""
    clauses = [c for c in _QUESTION_CLAUSE_SPLIT.split(focus.text) if c]
    if len(clauses) < 2 or focus.english:
        return frozenset()
    asking = [c for c in clauses if _WH_WORD.search(c)]
    if not asking:
        return frozenset()
    asked_segments = [s for c in asking for s in content_segments(c)]
    asked = question_grams(asked_segments) | _content_chars(asked_segments)
    every = grams | _content_chars(content_segments(focus.text))
    return frozenset(gram for gram in every if gram not in asked)


def _content_chars(segments: Sequence[str]) -> set[str]:
    return {char for segment in segments for char in segment if "\u4e00" <= char <= "\u9fff"}


def _coverage(text: str, weights: dict[str, float]) -> float:
    total = sum(weights.values())
    if total == 0:
        return 0.0
    lowered = text.lower()
    return sum(weight for gram, weight in weights.items() if gram in lowered) / total


def _dense_similarities(
    embedder: Embedder | None, question: str, sentences: Sequence[str]
) -> list[float] | None:
    """Cosine between question and each sentence, in one embedder call (query prompts both)."""
    if embedder is None or not sentences:
        return None
    vectors = embedder.embed_queries([question, *sentences])
    similarities = np.asarray(vectors[1:] @ vectors[0], dtype=np.float64)
    return [float(value) for value in similarities]


_CANDIDATE_HITS = 8
_DENSE_SENTENCES = 6


def extract_answer(
    question: str,
    hits: Sequence[Hit],
    embedder: Embedder | None = None,
    max_chars: int = 300,
    translations: Sequence[str] = (),
) -> Extraction | None:
    """Pick the sentence among the top hits that best answers `question`, and its highlight.

    `translations` are Chinese words standing for an English question's words (the
    retriever's cross-lingual lexicon); they score sentences as a Chinese question's words do.
    """
    focus = analyse_question(question)
    candidates = _candidates(hits[:_CANDIDATE_HITS])
    if not candidates or not has_content(focus.text):
        return None
    segments = content_segments(focus.text)
    grams = question_grams(segments)
    sentence_texts = [candidate.sentence for candidate in candidates]
    weights = _gram_weights(grams, sentence_texts)
    # Single characters rescue paraphrases (收费 / 收取…费用) at a quarter of a bigram's weight.
    for char, weight in _gram_weights(_content_chars(segments) - grams, sentence_texts).items():
        weights[char] = 0.25 * weight
    contexts = _article_contexts(hits[:_CANDIDATE_HITS])
    top_score = max((hit.score for hit in hits[:_CANDIDATE_HITS]), default=0.0) or 1.0

    if focus.english:
        # Romanised names (Hangzhou, Xining) are the only words an English question shares
        # with a Chinese story; they are matched against the pinyin of the text.
        names = romanised_names(focus.text)
        name_weights = _name_weights(names, sentence_texts)
        translated = _gram_weights({t for t in translations if t}, sentence_texts)
        lexical = [
            _english_coverage(names, name_weights, translated, text) for text in sentence_texts
        ]
        context = [
            _english_coverage(names, name_weights, translated, contexts[_article_key(c.hit.chunk)])
            for c in candidates
        ]
    else:
        setting = _setting_grams(focus, grams)
        lexical = [
            _coverage(c.sentence, _topic_discounted(weights, c.hit.chunk.headline, setting))
            for c in candidates
        ]
        context = [
            _coverage(contexts[_article_key(c.hit.chunk)] + c.sentence, weights) for c in candidates
        ]
    dense = _dense_for(focus, embedder, candidates, lexical, context, translated=bool(translations))
    cover_grams = [gram for gram in weights if len(gram) > 1 or gram in grams]

    best: tuple[float, _Candidate, _Span | None, float] | None = None
    for position, candidate in enumerate(candidates):
        covered = _covered_mask(candidate.sentence.lower(), cover_grams)
        spans = _typed_spans(candidate.sentence, focus, covered)
        span = max(spans, key=lambda s: s.fit) if spans else None
        span_fit = max(0.0, span.fit) if span else 0.0
        previous = lexical[position - 1] if candidate.index > 0 else 0.0
        score_penalty = _HEADLINE_PENALTY if candidate.index < 0 else 0.0
        if not _counts_asked_thing(focus, candidate.sentence, span, translations):
            score_penalty += _UNCOUNTED_PENALTY
        score = (
            1.0 * lexical[position]
            + 0.1 * previous
            + 0.6 * context[position]
            + 0.45 * span_fit
            + 0.08 / (1 + candidate.rank)
            + 0.12 * candidate.hit.score / top_score
            - score_penalty
        )
        if dense is not None:
            score += (0.8 if focus.english else 0.3) * dense[position]
        if best is None or score > best[0]:
            best = (score, candidate, span, context[position])
    assert best is not None
    score, candidate, span, support = best
    text, highlight = _answer_text(candidate, span, max_chars)
    in_chunk = None
    if span is not None and highlight is not None and candidate.index >= 0:
        sentence_start = candidate.bounds[candidate.index][0]
        in_chunk = (sentence_start + span.start, sentence_start + span.end)
    return Extraction(
        text=text,
        highlight=highlight,
        chunk=candidate.hit.chunk,
        confidence=round(min(1.0, score / 2.0), 4),
        qtype=focus.qtype,
        support=support,
        span_fits=span is not None and span.fits and span.fit > 0,
        counts_asked_thing=_counts_asked_thing(focus, candidate.sentence, span, translations),
        span=in_chunk,
    )


# An English "how many X" answered by a number with no word for X beside it is likely wrong.
_UNCOUNTED_PENALTY = 0.6
_EN_HOW_MANY = re.compile(r"\bhow many\b")
_COUNT_WINDOW = 6


def _counts_asked_thing(
    focus: QuestionFocus, sentence: str, span: _Span | None, translations: Sequence[str]
) -> bool:
    """An English "how many X" is answered by a number next to a word standing for X; the
    words of the lexicon stand in for X, as no word alignment is known."""
    if not (focus.english and translations and span and _EN_HOW_MANY.search(focus.text.lower())):
        return True
    before = _PROXIMITY_CLAUSE.split(sentence[max(0, span.start - _COUNT_WINDOW) : span.start])
    after = _PROXIMITY_CLAUSE.split(sentence[span.end : span.end + _COUNT_WINDOW])
    window = before[-1] + after[0]  # within the number's own clause
    return any(len(word) >= 2 and word in window for word in translations)


def _candidates(hits: Sequence[Hit]) -> list[_Candidate]:
    """Every sentence of the hits, plus each article's headline once: kicker headlines such
    as 某县某乡 carry the place and subject that the body leaves out."""
    candidates: list[_Candidate] = []
    headlines_seen: set[tuple[str, int]] = set()
    for rank, hit in enumerate(hits):
        key = _article_key(hit.chunk)
        if key not in headlines_seen and hit.chunk.headline.strip():
            headlines_seen.add(key)
            headline = hit.chunk.headline.strip()
            candidates.append(_Candidate(matching_form(headline), headline, hit, rank, -1, ()))
        bounds = tuple(sentence_bounds(hit.chunk.text))
        for index, (start, end) in enumerate(bounds):
            sentence = hit.chunk.text[start:end]
            candidates.append(
                _Candidate(matching_form(sentence), sentence, hit, rank, index, bounds)
            )
    return candidates


def _article_contexts(hits: Sequence[Hit]) -> dict[tuple[str, int], str]:
    """Headline plus every retrieved chunk of the same article: where the subject is named."""
    contexts: dict[tuple[str, int], str] = {}
    for hit in hits:
        key = _article_key(hit.chunk)
        if key not in contexts:
            contexts[key] = matching_form(hit.chunk.headline) + "\n"
        contexts[key] += matching_form(hit.chunk.text) + "\n"
    return contexts


def _dense_for(
    focus: QuestionFocus,
    embedder: Embedder | None,
    candidates: Sequence[_Candidate],
    lexical: Sequence[float],
    context: Sequence[float],
    translated: bool,
) -> list[float] | None:
    """Dense similarity for English questions without a lexicon: one embedder call over the
    few most promising sentences. Chinese questions do not need it (measured on the dev set)."""
    if embedder is None or translated or not focus.english:
        return None
    order = sorted(
        range(len(candidates)),
        key=lambda i: (-context[i] - lexical[i], candidates[i].rank),
    )[:_DENSE_SENTENCES]
    similarities = _dense_similarities(
        embedder, focus.text, [candidates[i].sentence for i in order]
    )
    if similarities is None:
        return None
    # e5 cosines of related sentences sit in a narrow band; spread them over 0..1.
    dense = [0.0] * len(candidates)
    floor = min(similarities)
    spread = max(similarities) - floor + 0.02
    for i, value in zip(order, similarities, strict=True):
        dense[i] = (value - floor) / spread
    return dense


def _answer_text(
    candidate: _Candidate, span: _Span | None, max_chars: int
) -> tuple[str, str | None]:
    """The sentence (with its predecessor when it is short, and what the chunk has between
    them), cut to `max_chars` around the span."""
    sentence = candidate.original
    highlight = span.text(sentence) if span else None
    text = sentence
    offset = 0
    if len(sentence) < SHORT_QUOTE and candidate.index > 0:
        start = candidate.bounds[candidate.index - 1][0]
        end = candidate.bounds[candidate.index][1]
        if end - start <= max_chars:
            text = candidate.hit.chunk.text[start:end]
            offset = len(text) - len(sentence)
    if len(text) > max_chars:
        start = offset + (span.start if span else 0)
        window_start = max(0, min(start - max_chars // 3, len(text) - max_chars))
        text = text[window_start : window_start + max_chars]
        if highlight and highlight not in text:
            highlight = None
    if highlight is not None and not highlight.strip():
        highlight = None
    return text, highlight


# --- abstention ----------------------------------------------------------------------------

_ENTITY_SUFFIX = re.compile(r"[县市乡村镇区省州]$")
_LATIN = re.compile(r"[A-Za-z]")
_SPACES = re.compile(r"\s+")
_MIN_SUPPORT = 0.3


@lru_cache(maxsize=256)
def _key_terms(focus: QuestionFocus) -> tuple[str, ...]:
    """Named places and latin terms of the question: if the answer's article does not name
    them, it is about something else."""
    if focus.english:
        return ()
    terms: list[str] = []
    for segment in content_segments(focus.text):
        previous = ""
        for word, flag in tag_words(segment):
            if word in _PLACE_SUFFIX_WORDS and len(previous) >= 2:
                terms.append(previous + word)  # 幸福 + 社区: a name split by the tagger
            elif len(word) >= 2:
                named_place = len(word) >= 3 and _ENTITY_SUFFIX.search(word)
                if flag == "ns" or named_place or _LATIN.search(word):
                    terms.append(word)
            previous = word
    return tuple(dict.fromkeys(terms))


_PLACE_SUFFIX_WORDS = frozenset({"县", "市", "乡", "镇", "村", "区", "社区", "街道"})


def _term_found(term: str, text: str) -> bool:
    """A term counts as found when it, its first two characters, or half its bigrams occur."""
    lowered = _SPACES.sub("", text.lower())
    if _SPACES.sub("", term.lower()) in lowered:
        return True
    if _LATIN.search(term) or _ARABIC.search(term):
        return False
    if len(term) >= 3 and term[:2] in text:
        return True
    grams = char_bigrams(term)
    return bool(grams) and sum(1 for g in grams if g in text) / len(grams) >= 0.5


def should_abstain(question: str, extraction: Extraction | None, hits: Sequence[Hit]) -> bool:
    """Abstain unless the retrieved stories name the question's subject and the best sentence
    holds a span of the asked type (in the asked unit, for counts)."""
    return abstention_reason(question, extraction, hits) is not None


def abstention_reason(
    question: str, extraction: Extraction | None, hits: Sequence[Hit]
) -> str | None:
    """Why no answer should be given (for logs and tuning), or None when the answer stands."""
    if extraction is None or not hits:
        return "nothing retrieved"
    focus = analyse_question(question)
    article = matching_form(
        "\n".join(
            f"{hit.chunk.headline}\n{hit.chunk.text}"
            for hit in hits
            if _article_key(hit.chunk) == _article_key(extraction.chunk)
        )
    )
    missing = [term for term in _key_terms(focus) if not _term_found(term, article)]
    if missing:
        return f"the answer's story does not name {missing[0]}"
    answer_text = matching_form(extraction.text)
    if focus.counted_noun and not _term_found(focus.counted_noun, answer_text):
        return f"the answer sentence does not count {focus.counted_noun}"
    if not extraction.counts_asked_thing:
        return "the number does not count what was asked"
    if focus.qtype in (QuestionType.NUMBER, QuestionType.DATE) and not extraction.span_fits:
        return f"no {focus.qtype.value} in the asked unit"
    if extraction.highlight is None and focus.qtype is not QuestionType.OTHER:
        return f"no {focus.qtype.value} span"
    if focus.english:
        names = romanised_names(focus.text)
        texts = [extraction.chunk.headline] + [
            hit.chunk.text
            for hit in hits
            if _article_key(hit.chunk) == _article_key(extraction.chunk)
        ]
        if names and not any(_romanised_found(n, t) for n in names for t in texts):
            return "the story names none of the question's names"
        return "weak match" if extraction.confidence < 0.2 else None
    return "weak match" if extraction.support < _MIN_SUPPORT else None
