"""The English reading of an answer's bold: figures with their unit glossed, dates, names in
pinyin; None whenever there is nothing useful to say, and never Chinese outside the
parenthesised original."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from index.gloss import english_number, gloss, gloss_line, unit_english, zh_number
from index.models import AnswerSpan, Source
from index.models import QAResult as Result
from index.question import QuestionType

FIGURES = {
    "90余场次": "90+ (场次, sessions)",
    "2300余场次": "2,300+ (场次, sessions)",
    "14.49万元": "144,900 (元, yuan)",
    "48.99万元": "489,900 (元, yuan)",
    "1.7万多元": "17,000+ (元, yuan)",
    "216余万元": "over 2.16 million (元, yuan)",
    "超过3400万元": "over 34 million (元, yuan)",
    "3.44亿元": "344 million (元, yuan)",
    "1907万元": "19.07 million (元, yuan)",
    "5000元": "5,000 (元, yuan)",
    "124.5万亩": "1.245 million (亩, mu = 1/15 ha)",
    "3.3万人": "33,000 (人, people)",
    "1706人": "1,706 (人, people)",
    "52346人次": "52,346 (人次, person-times)",
    "80余名": "80+ (名, people)",
    "8名": "8 (名, people)",
    "1名": "1 (名, person)",
    "370余起": "370+ (起, cases)",
    "62岁": "62 (岁, years old)",
    "10个": "10 (个, generic counter)",
    "十余个": "10+ (个, generic counter)",
    "二十多户": "20+ (户, households)",
    "两万三千人": "23,000 (人, people)",
    "近5年": "nearly 5 (年, years)",
    "约3个月": "about 3 (个月, months)",
    "累计87名": "87 (名, people)",
    "5千米": "5 (千米, kilometres)",
    "75%以上": "75% or more",
    "13%左右": "about 13%",
    "百分之三十": "30%",
    "三点五": "3.5",
}
DATES = {
    "12月10日": "10 December",
    "3月5日": "5 March",
    "三月五日": "5 March",
    "2026年3月5日": "5 March 2026",
    "今年3月": "March this year",
    "去年12月": "December last year",
    "2019年底": "end of 2019",
    "3月初": "early March",
    "5月中旬": "mid-May",
    "二〇一九年": "2019",
    "21号": "the 21st (of the month)",
    "星期三": "Wednesday",
    "每晚八点": "20:00 every evening",
    "上午9点半": "9:30 in the morning",
}
NAMES = {
    "扎西顿珠": "Zhaxi Dunzhu",
    "拉巴卓玛": "Laba Zhuoma",
    "卓嘎": "Zhuoga",
    "陈燕": "Chen Yan",
    "嘉黎县": "Jiali County",
    "墨脱县": "Motuo County",
    "拉萨市城关区": "Chengguan District, Lasa City",
    "上海市、山东省": "Shanghai City, Shandong Province",
    "西藏自治区": "Xizang Autonomous Region",
}
NOTHING = [
    "",
    "   ",
    "12349",  # Arabic figures read as they are
    "75%",
    "2023年",  # the bold already says 2023
    "PM2.5",
    "合作社理事长",  # a title, not a name
    "鲁朗国际旅游小镇",  # ordinary words inside: not spelled out as a name
    "坐便椅",
    "打牛角",
    "不收取任何费用",
    "九小场所",  # a count of what no table or dictionary names
    "党建+医疗",
    "2026年应届高校毕业生及近5年内的高校毕业生",
    "13月5日",
    "一天一监测、一天一回访、一天一疏导、一部村级热线、一张居家隔离须知",
]

ALL_CASES = [*FIGURES.items(), *DATES.items(), *NAMES.items()]


@pytest.mark.parametrize(("text", "said"), FIGURES.items())
def test_figures_say_the_number_and_gloss_the_unit(text: str, said: str) -> None:
    assert gloss(text) == said


@pytest.mark.parametrize(("text", "said"), DATES.items())
def test_dates_and_times_read_in_english(text: str, said: str) -> None:
    assert gloss(text) == said


@pytest.mark.parametrize(("text", "said"), NAMES.items())
def test_names_are_spelled_in_pinyin_with_capitalised_words(text: str, said: str) -> None:
    assert gloss(text) == said


@pytest.mark.parametrize("text", NOTHING)
def test_nothing_useful_to_say_is_none(text: str) -> None:
    assert gloss(text) is None
    assert gloss(text, QuestionType.OTHER) is None


def test_names_only_for_who_and_where_questions() -> None:
    assert gloss("扎西顿珠", QuestionType.NAME) == "Zhaxi Dunzhu"
    assert gloss("扎西顿珠", QuestionType.OTHER) is None
    assert gloss("扎西顿珠", QuestionType.NUMBER) is None
    assert gloss("麦地卡乡", QuestionType.PLACE) == "Maidika Township"
    assert gloss("旦巴措", QuestionType.NAME) == "Danba Cuo"  # jieba alone would not say
    assert gloss("旦巴措") is None
    assert gloss("王建国", QuestionType.NAME) == "Wang Jianguo"  # a Han surname: a name
    assert gloss("高原", QuestionType.NAME) is None  # a word that starts like a surname
    assert gloss("合作社理事长", QuestionType.NAME) is None
    # Figures and dates are read whatever the question asked.
    assert gloss("90余场次", QuestionType.NAME) == "90+ (场次, sessions)"


@pytest.mark.parametrize(("text", "said"), ALL_CASES)
def test_no_chinese_outside_the_parenthesised_original(text: str, said: str) -> None:
    found = gloss(text, QuestionType.NAME)
    assert found is not None
    outside = re.sub(r"\(([^,)]*)(, [^)]*)?\)", lambda m: m.group(2) or "", found)
    assert not re.search(r"[\u3000-\u9fff\uff00-\uffef]", outside), found
    for original in re.findall(r"\(([^,)]*),", found):
        assert original in text  # what is in Chinese is the story's own characters


def test_chinese_numerals() -> None:
    assert zh_number("十五") == 15
    assert zh_number("一百零五") == 105
    assert zh_number("三千五") == 3500
    assert zh_number("两万五") == 25000
    assert zh_number("一亿五千万") == 150_000_000
    assert zh_number("二〇一九") == 2019
    assert zh_number("三点五") == Decimal("3.5")
    assert zh_number("万") is None and zh_number("一二三四") == 1234 and zh_number("两两") is None


def test_english_numbers() -> None:
    assert english_number(Decimal(144900)) == "144,900"
    assert english_number(Decimal("2160000")) == "2.16 million"
    assert english_number(Decimal(1_200_000_000)) == "1.2 billion"
    assert english_number(Decimal("0.5")) == "0.5"
    assert english_number(Decimal("1234.5")) == "1,234.5"


def test_units_from_the_table_then_cc_cedict() -> None:
    assert unit_english("场次") == "sessions" and unit_english("场次", plural=False) == "session"
    assert unit_english("个村") == "village"  # the counted noun, from CC-CEDICT
    assert unit_english("坐便椅") is None


def _result(question: str, highlight: str | None, abstained: bool = False) -> Result:
    source = Source("001_a156c6055a039714.txt", "聂荣县", 5)
    answer = AnswerSpan(f"已累计完成{highlight}远程服务。", highlight, source)
    return Result(question, abstained, None if abstained else answer)


def test_only_english_questions_get_a_gloss_line() -> None:
    english = _result("How many remote consultations did Nierong County hold?", "90余场次")
    assert gloss_line(english) == "≈ 90+ (场次, sessions)"
    assert gloss_line(_result("聂荣县远程会诊多少场", "90余场次")) is None
    assert gloss_line(_result("Nierong 远程会诊多少场", "90余场次")) is None  # mixed: not English
    assert gloss_line(_result("How many?", "90余场次", abstained=True)) is None
    assert gloss_line(_result("How many?", None)) is None
    # The question's type decides whether a name is spelled: a "what" question gets nothing.
    assert gloss_line(_result("What position does Chen Yan hold?", "合作社理事长")) is None
    assert gloss_line(_result("Who runs the clinic?", "扎西顿珠")) == "≈ Zhaxi Dunzhu"
