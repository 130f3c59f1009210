"""Question normalisation and typing: what kind of span answers a question, and in which unit.

Pure functions over the question text; jieba and OpenCC are loaded once, lazily, because
loading them costs about a second and `newsqa --help` should not pay for it.
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# --- lazy heavy helpers ------------------------------------------------------------------

_JIEBA_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _opencc_t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _jieba_modules() -> tuple[Any, Any]:
    """jieba and jieba.posseg, initialised once (the dictionary load takes about a second)."""
    import logging

    import jieba
    import jieba.posseg

    with _JIEBA_LOCK:
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    return jieba, jieba.posseg


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[str, ...]:
    """jieba tokens of `text` (cached: the same sentence is often scored by several questions)."""
    jieba, _ = _jieba_modules()
    return tuple(token for token in jieba.lcut(text) if token.strip())


@lru_cache(maxsize=4096)
def tag_words(text: str) -> tuple[tuple[str, str], ...]:
    """(word, part-of-speech flag) pairs from jieba.posseg."""
    _, posseg = _jieba_modules()
    return tuple((pair.word, pair.flag) for pair in posseg.lcut(text) if pair.word.strip())


# --- normalisation -----------------------------------------------------------------------

_HAS_CJK = re.compile(r"[\u3400-\u9fff]")
_FULLWIDTH_TO_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_WHITESPACE_RUN = re.compile(r"\s+")


def to_halfwidth(text: str) -> str:
    """Full-width ASCII (digits, latin, punctuation) and the ideographic space to half-width."""
    return text.translate(_FULLWIDTH_TO_HALFWIDTH)


@lru_cache(maxsize=8192)
def simplified_same_length(text: str) -> str:
    """`text` in simplified characters when the conversion keeps every offset, else as is:
    stories in traditional script then match normalised questions, and spans found in the
    simplified form index the original text."""
    if not _HAS_CJK.search(text):
        return text
    converted: str = _opencc_t2s().convert(text)
    return converted if len(converted) == len(text) else text


# Every space of any width (ideographic, no-break, tab, …) as a plain one; U+3000 is the
# highest code point `str.isspace` accepts. Line breaks stay: sentences end at them.
_PLAIN_SPACES = {c: 0x20 for c in range(0x3001) if chr(c).isspace() and chr(c) != "\n"}


def matching_form(text: str) -> str:
    """A story's text as answers are matched against questions: simplified characters and plain
    spaces. Same length as `text`, so a span found in it cuts the original, which is what an
    answer quotes (the story's own characters)."""
    return simplified_same_length(text.translate(_PLAIN_SPACES))


def to_simplified(text: str) -> str:
    """Traditional characters to simplified (OpenCC t2s); lengths may change."""
    if not _HAS_CJK.search(text):
        return text
    converted: str = _opencc_t2s().convert(text)
    return converted


def normalize_question(text: str) -> str:
    """Simplified Chinese, half-width digits and latin, single spaces: the form stories use."""
    return _WHITESPACE_RUN.sub(" ", to_halfwidth(to_simplified(text))).strip()


# --- typing ------------------------------------------------------------------------------


class QuestionType(enum.Enum):
    """The kind of span that answers a question."""

    NUMBER = "number"
    NAME = "name"
    PLACE = "place"
    DATE = "date"
    OTHER = "other"


_LATIN_WORD = re.compile(r"[A-Za-z]+")
_LATIN_RUN = re.compile(r"[A-Za-z]{2,}")  # a word, not a lone letter (`A股`, `X光`)

_ZH_DATE = re.compile(
    r"几点|哪天|哪一天|哪日|哪年|哪一年|几月|哪个月|几号|什么时候|啥时候|什么时间|何时|"
    r"什么日子|几时|哪段时间|多会儿"
)
_ZH_LIST_PREFIX = re.compile(r"哪几|哪些|哪[一二三四五六七八九十两\d]+")
_ZH_NUMBER = re.compile(r"多少|几|多长|多久|多大|多高|多远|多重|多深|百分之")
_ZH_NAME = re.compile(r"谁|叫什么|叫啥|叫做什么|什么名字|名字|名称|哪位|哪个人")
_ZH_PLACE = re.compile(
    r"哪里|哪儿|什么地方|啥地方|何地|何处|哪些地方|哪个地方|"
    r"哪[个座条所]?(?:社区|街道|地区|城市|省份|国道|[县市乡村镇区省州路街])|"
    r"(?:住|去|在|到|从|来自)哪|哪$"
)
_EN_DATE = re.compile(
    r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b"
)
_EN_NUMBER = re.compile(
    r"\bhow (?:many|much|old|long|far|big|large|high)\b|\bwhat (?:%|percent|percentage|"
    r"proportion|share|ratio)\b|\b(?:rate|percentage|proportion|ratio|worth|cost)\b|%"
)
_EN_NAME = re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bname\b|\bcalled\b|\bnamed\b")
_EN_PLACE = re.compile(
    r"\bwhere\b|\bwhich (?:county|city|village|town|township|province|district|place|road)\b"
)


def has_latin_words(question: str) -> bool:
    """Holds a word in latin letters: English, or Chinese mixed with English (`Sanskrit 的研究`)."""
    return bool(_LATIN_RUN.search(question))


def is_english(question: str) -> bool:
    """Mostly latin letters and no Chinese characters."""
    return not _HAS_CJK.search(question) and bool(_LATIN_WORD.search(question))


def classify_question(question: str) -> QuestionType:
    """The type of answer asked for, from the question word (zh) or wh-phrase (en)."""
    text = normalize_question(question)
    if is_english(text):
        lowered = text.lower()
        for pattern, qtype in (
            (_EN_DATE, QuestionType.DATE),
            (_EN_NUMBER, QuestionType.NUMBER),
            (_EN_NAME, QuestionType.NAME),
            (_EN_PLACE, QuestionType.PLACE),
        ):
            if pattern.search(lowered):
                return qtype
        return QuestionType.OTHER
    stripped = text.rstrip("?？!！。 ")
    if _ZH_DATE.search(stripped):
        return QuestionType.DATE
    if _ZH_NAME.search(stripped):
        return QuestionType.NAME
    if _ZH_PLACE.search(stripped):
        return QuestionType.PLACE
    if _ZH_LIST_PREFIX.search(stripped):
        return QuestionType.OTHER
    if _ZH_NUMBER.search(stripped):
        return QuestionType.NUMBER
    return QuestionType.OTHER


# --- what the question asks for ----------------------------------------------------------

PEOPLE_UNITS = ("人次", "人", "名", "位")
MONEY_UNITS = ("亿元", "万元", "千元", "元", "美元", "欧元", "英镑", "日元", "港元", "港币")

# Measure words after a number: multi-character units (longest first) and classifiers.
MULTI_CHAR_UNITS = (
    "微克/立方米",
    "毫克/立方米",
    "平方公里",
    "平方米",
    "毫克/升",
    "人次",
    "场次",
    "家次",
    "户次",
    "架次",
    "车次",
    "批次",
    "小时",
    "分钟",
    "个月",
    "公里",
    "千米",
    "厘米",
    "毫米",
    "公斤",
    "千克",
    "公顷",
    "万元",
    "亿元",
    "千元",
    "美元",
    "欧元",
    "英镑",
    "日元",
    "港元",
    "港币",
)
CLASSIFIER_CHARS = (
    "个人名位场次元亩岁户起处件张只头项家条所座批届天年月期台辆栋间棵株吨斤米篇份本部种类"
    "支组轮遍回倍股层艘架枚颗首集版套块片根匹口门盏句段节季局代任级"
)
UNIT_PATTERN = "|".join(re.escape(unit) for unit in MULTI_CHAR_UNITS) + f"|[{CLASSIFIER_CHARS}]"
PERCENT_UNITS = ("%",)
DURATION_UNITS = ("小时", "分钟", "天", "个月", "周", "年")

# Measure words that mean the same count; the first is the one usually asked for.
_UNIT_FAMILIES: dict[str, tuple[str, ...]] = {
    "人": PEOPLE_UNITS,
    "名": PEOPLE_UNITS,
    "位": PEOPLE_UNITS,
    "人次": ("人次", "人"),
    "场": ("场次", "场"),
    "次": ("次", "人次", "场次", "回"),
    "元": MONEY_UNITS,
    "钱": MONEY_UNITS,
    "亩": ("万亩", "亩"),
    "岁": ("岁",),
}
_ASKED_COUNT = re.compile(r"(?:多少|几)")
# Chinese classifiers (measure words) that may follow 多少/几; longer ones first.
_CLASSIFIERS = re.compile(UNIT_PATTERN + "|钱")
_MONEY_NOUN = re.compile(r"钱|资金|金额|经费|费用|收入|投资|营业额|救助金|奖金|补贴|工资|罚款")
_PERCENT_NOUN = re.compile(r"比例|占比|比率|[^效]率|百分")
_DURATION_NOUN = re.compile(r"多长时间|多久|多少时间")
_AGE_NOUN = re.compile(r"多大岁数|多少岁|几岁|年龄|年纪")

_EN_PEOPLE_NOUN = re.compile(
    r"\bhow many (?:\w+ ){0,3}?(?:people|persons|experts|doctors|staff|members|residents|"
    r"volunteers|officers|students|villagers|workers|teachers|cadres|officials|patients|"
    r"participants|firefighters|soldiers|children|elderly|households|families)\b"
)
_EN_TIMES_NOUN = re.compile(r"\bhow many (?:\w+ ){0,2}?(?:times|sessions|visits|rounds)\b")
_EN_MONEY = re.compile(
    r"\bhow much\b.*\b(?:money|worth|cost|spend|spent|invest|invested|pay|paid|chip|fund|"
    r"funds|yuan|income|revenue|earn|raise|raised)\b|\b(?:worth|cost|yuan|funding)\b"
)
_EN_AGE = re.compile(r"\bhow old\b|\bage\b")
_EN_PERCENT = re.compile(r"%|\bpercent|\brate\b|\bproportion\b|\bratio\b|\bshare\b")
_EN_DURATION = re.compile(r"\bhow long\b")
_EN_HOUSEHOLDS = re.compile(r"\bhouseholds?\b|\bfamilies\b")
_EN_AREA = re.compile(r"\bmu\b|\bacres?\b|\bhectares?\b")


@dataclass(frozen=True)
class QuestionFocus:
    """What a question asks for: the answer type, acceptable measure words and list shape."""

    text: str  # the normalised question
    qtype: QuestionType
    english: bool
    units: tuple[str, ...]  # acceptable measure words, most specific first; empty = any
    counted_noun: str  # the noun right after the measure word (多少头牦牛 → 牦牛), or ""
    wants_list: bool  # 哪些 / 哪几 / 哪三个 / 什么品种 / which ones
    place_suffix: str  # 哪个县 → 县, or ""


def _chinese_units(text: str) -> tuple[tuple[str, ...], str]:
    """Measure words the answer should carry, and the counted noun after the measure word."""
    if _AGE_NOUN.search(text):
        return ("岁",), ""
    if _DURATION_NOUN.search(text):
        return DURATION_UNITS, ""
    for match in _ASKED_COUNT.finditer(text):
        rest = text[match.end() :]
        classifier = _CLASSIFIERS.match(rest)
        if classifier is None:
            continue
        unit = classifier.group(0)
        counted = _counted_noun(rest[classifier.end() :])
        if unit == "个" and counted.startswith("人"):
            return PEOPLE_UNITS, counted
        return _UNIT_FAMILIES.get(unit, (unit,)), counted
    if _PERCENT_NOUN.search(text):
        return PERCENT_UNITS, ""
    for noun, units in _MEASURED_NOUNS:
        if noun.search(text):
            return units, ""
    if _MONEY_NOUN.search(text):
        return MONEY_UNITS, ""
    if _PEOPLE_NOUN.search(text):
        return PEOPLE_UNITS, ""
    return (), ""


# Quantities named by a noun, not a classifier (海拔是多少): the units their values carry.
_MEASURED_NOUNS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"浓度"), ("微克/立方米", "毫克/立方米", "毫克/升", "μg/m³", "mg/m³")),
    (re.compile(r"面积|占地"), ("平方公里", "平方米", "公顷", "万亩", "亩")),
    (re.compile(r"海拔|高度|身高|多高|多深|深度"), ("米",)),
    (re.compile(r"距离|里程|长度|全长|多远|多长(?!时间)"), ("公里", "千米", "米")),
    (re.compile(r"温度|气温"), ("℃",)),
    (re.compile(r"重量|产量|体重|多重"), ("吨", "公斤", "千克", "斤")),
)
_PEOPLE_NOUN = re.compile(r"人|群众|党员|干部|人员|人口|专家|医生|患者|村民|居民|学生|志愿者")
_COUNTED_STOP = re.compile(r"[的了是有在呢吗啊,，?？。\s]|参加|参与|参赛|把|被|跟|和")


def _counted_noun(rest: str) -> str:
    """The nouns right after `多少+measure` (多少头牦牛 → 牦牛, 几个乡镇的 → 乡镇); empty when a
    verb follows (多少钱收购了 → "")."""
    stop = _COUNTED_STOP.search(rest)
    head = rest[: stop.start()] if stop else rest
    nouns = ""
    for word, flag in tag_words(head):
        if not (flag.startswith("n") or flag in _NOUN_LIKE_FLAGS):
            break
        nouns += word
    return "".join(_CJK_RUN.findall(nouns))[:6]


_NOUN_LIKE_FLAGS = frozenset({"vn", "j", "l", "eng", "an"})


def _english_units(lowered: str) -> tuple[str, ...]:
    if _EN_AGE.search(lowered):
        return ("岁",)
    if _EN_PERCENT.search(lowered):
        return PERCENT_UNITS
    if _EN_MONEY.search(lowered):
        return MONEY_UNITS
    if _EN_DURATION.search(lowered):
        return DURATION_UNITS
    if _EN_AREA.search(lowered):
        return ("万亩", "亩", "公顷")
    if _EN_HOUSEHOLDS.search(lowered):
        return ("户",)
    if _EN_PEOPLE_NOUN.search(lowered):
        return PEOPLE_UNITS
    if _EN_TIMES_NOUN.search(lowered):
        return ("次", "场次", "场", "人次")
    return ()


_ZH_LIST = re.compile(
    r"哪几|哪些|哪[一二三四五六七八九十两\d]+[个家项条种]|什么品种|都是啥|都是什么|有哪"
)
_EN_LIST = re.compile(r"\bwhich (?:ones|\w+s)\b|\bwhat (?:are|were) the\b|\blist\b")
_PLACE_SUFFIX = re.compile(r"哪[个座条所]?(社区|街道|国道|[县市乡村镇区省州路街])")


def analyse_question(question: str) -> QuestionFocus:
    """Normalise and type a question and read off the unit and shape of the expected answer."""
    text = normalize_question(question)
    qtype = classify_question(text)
    english = is_english(text)
    units: tuple[str, ...] = ()
    counted = ""
    if english:
        lowered = text.lower()
        if qtype is QuestionType.NUMBER:
            units = _english_units(lowered)
        wants_list = bool(_EN_LIST.search(lowered)) and qtype is not QuestionType.NUMBER
        place_suffix = ""
    else:
        if qtype is QuestionType.NUMBER:
            units, counted = _chinese_units(text)
        wants_list = bool(_ZH_LIST.search(text))
        suffix = _PLACE_SUFFIX.search(text)
        place_suffix = suffix.group(1) if suffix and qtype is QuestionType.PLACE else ""
    return QuestionFocus(
        text=text,
        qtype=qtype,
        english=english,
        units=units,
        counted_noun=counted,
        wants_list=wants_list,
        place_suffix=place_suffix,
    )


# --- content of the question ---------------------------------------------------------------

# Tokens that carry the question's form, not its content: they must not count as overlap.
QUESTION_WORDS = frozenset(
    "请问 多少钱 多少 多长时间 多长 多久 多大 什么时候 啥时候 什么时间 什么名字 什么 啥 哪里 哪儿 "
    "哪些 哪几 哪个 哪类 哪种 哪天 哪年 哪条 哪 谁家 谁 几点 几个 几次 几 叫做 叫 名字 是不是 "
    "有没有 要不要 吗 呢 吧 啊 那个 这个 那次 这次 一共 总共 共 都 是 的 了 有 在 把 给 跟 和 "
    "与 被 搞 做 弄 里 能 要 还 就 也 到 去 从 是从 她 他 它 他们 她们 我们 大家 现在 具体 主要 "
    "一下 一个 个".split()
)
# Question words that jieba glues to a neighbour (哪些单位, 几所); stripped inside tokens.
_GLUED_QUESTION_WORD = re.compile(r"多少|哪些|哪几|哪个|哪|什么|几")
_PUNCTUATION_TOKEN = re.compile(r"^[\W_]+$")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_ASCII_TERM = re.compile(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]|[A-Za-z]|\d+(?:\.\d+)?%?")
_ENGLISH_PROPER_OR_NUMBER = re.compile(r"[A-Z]|\d")
_ENGLISH_FORM_WORDS = frozenset(
    "how what when where who whom whose which why is are was were did do does the a an in of "
    "i".split()
)
_ENGLISH_WORD = re.compile(r"\b[a-z]{3,20}\b")
_ENGLISH_STOP_WORDS = _ENGLISH_FORM_WORDS | frozenset(
    "many much and for with from that this there their they them have has had been can "
    "could would should will about into than then any all its you your our".split()
)


def has_content(text: str) -> bool:
    """The question names something to look for (not just 谁, 多少 or "How?")."""
    if is_english(text):
        words = _ENGLISH_WORD.findall(text.lower())
        return any(word not in _ENGLISH_STOP_WORDS for word in words)
    return bool(content_segments(text))


def content_segments(text: str) -> list[str]:
    """The question as runs of content tokens, split where question words and punctuation were."""
    if is_english(text):
        return [
            term
            for term in _ASCII_TERM.findall(text)
            if _ENGLISH_PROPER_OR_NUMBER.search(term) and term.lower() not in _ENGLISH_FORM_WORDS
        ]
    segments: list[str] = []
    current = ""
    # A space separates clauses in chat questions (摔伤了腿 项目给他…): never join across it.
    tokens = [token for part in text.split() for token in (*tokenize(part), " ")]
    for token in tokens:
        if token in QUESTION_WORDS or _PUNCTUATION_TOKEN.match(token) or token == " ":
            kept = ""
        else:
            kept = _GLUED_QUESTION_WORD.sub(" ", token)
        parts = kept.split(" ")
        current += parts[0]
        for part in parts[1:]:
            if current:
                segments.append(current)
            current = part
        if not kept and current:
            segments.append(current)
            current = ""
    if current:
        segments.append(current)
    return segments


def char_bigrams(text: str) -> set[str]:
    """Chinese character bigrams of `text` (single characters for one-character runs)."""
    grams: set[str] = set()
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            grams.add(run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return grams


def question_grams(segments: Sequence[str]) -> set[str]:
    """Bigrams and ascii terms of the content segments; bigrams never cross a removed word."""
    grams: set[str] = set()
    for segment in segments:
        grams |= char_bigrams(segment)
        grams.update(term.lower() for term in _ASCII_TERM.findall(segment))
    return grams
