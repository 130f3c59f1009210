"""Question normalisation, typing and the unit/shape of the expected answer."""

from __future__ import annotations

import pytest

from index.question import (
    MONEY_UNITS,
    PEOPLE_UNITS,
    QuestionType,
    analyse_question,
    classify_question,
    content_segments,
    has_content,
    normalize_question,
)


def test_normalize_converts_traditional_and_fullwidth() -> None:
    assert normalize_question("  縣醫院今年  接診多少人？ ") == "县医院今年 接诊多少人?"
    assert normalize_question("ＰＭ２．５是多少") == "PM2.5是多少"


def test_normalize_leaves_english_alone() -> None:
    assert normalize_question("How  many\tdoctors?") == "How many doctors?"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("某县义诊办了多少场", QuestionType.NUMBER),
        ("合作社今年养了几头牦牛", QuestionType.NUMBER),
        ("活动哪天开始的", QuestionType.DATE),
        ("广播每天几点播出", QuestionType.DATE),
        ("新校区哪年建成", QuestionType.DATE),
        ("大桥是什么时候通车的", QuestionType.DATE),
        ("镇长叫什么名字", QuestionType.NAME),
        ("是谁带头修的路", QuestionType.NAME),
        ("这个乡是哪个县的", QuestionType.PLACE),
        ("老人家住哪", QuestionType.PLACE),
        ("老师是从哪里调来的", QuestionType.PLACE),
        ("游客参观了什么", QuestionType.OTHER),
        ("果园种的都是啥品种", QuestionType.OTHER),
        ("How many experts came?", QuestionType.NUMBER),
        ("what % of residents are insured", QuestionType.NUMBER),
        ("How old is the herder?", QuestionType.NUMBER),
        ("Who leads the clinic?", QuestionType.NAME),
        ("Where was the forum held?", QuestionType.PLACE),
        ("When did the fair open?", QuestionType.DATE),
        ("What did the visitors see?", QuestionType.OTHER),
    ],
)
def test_classify_question(question: str, expected: QuestionType) -> None:
    assert classify_question(question) is expected


def test_classify_traditional_question() -> None:
    assert classify_question("醫院今年接診了幾次") is QuestionType.NUMBER


@pytest.mark.parametrize(
    ("question", "units"),
    [
        ("义诊办了多少场", ("场次", "场")),
        ("体检做了多少人", PEOPLE_UNITS),
        ("这次奖金总共多少钱", MONEY_UNITS),
        ("退耕还林搞了多少亩", ("万亩", "亩")),
        ("牦牛比例多少", ("%",)),
        ("服务站有几个", ("个",)),
        ("一共几个人", PEOPLE_UNITS),
        ("慰问了多少群众", PEOPLE_UNITS),
        ("How much was the new bridge worth?", MONEY_UNITS),
        ("How many doctors were sent?", PEOPLE_UNITS),
        ("草场面积有多少", ("平方公里", "平方米", "公顷", "万亩", "亩")),
        ("SO2平均浓度是多少", ("微克/立方米", "毫克/立方米", "毫克/升", "μg/m³", "mg/m³")),
        ("服务电话多少", ()),
    ],
)
def test_asked_units(question: str, units: tuple[str, ...]) -> None:
    assert analyse_question(question).units == units


def test_counted_noun_follows_the_measure_word() -> None:
    focus = analyse_question("牧场养了多少头牦牛")
    assert focus.units == ("头",)
    assert focus.counted_noun == "牦牛"


def test_list_and_place_suffix() -> None:
    assert analyse_question("检查组重点查了哪些隐患").wants_list
    assert analyse_question("这套工作法具体是哪三个").wants_list
    assert not analyse_question("书记叫什么").wants_list
    assert analyse_question("这个乡是哪个县的").place_suffix == "县"
    assert analyse_question("服务站挨着哪条国道").place_suffix == "国道"


@pytest.mark.parametrize(
    ("question", "expected"),
    [("某县会诊多少场", True), ("谁", False), ("How?", False), ("a" * 500, False), ("🙂", False)],
)
def test_has_content(question: str, expected: bool) -> None:
    assert has_content(question) is expected


def test_content_segments_drop_question_words_but_keep_words() -> None:
    segments = content_segments("某市的技能培训就业班要收费吗")
    joined = "".join(segments)
    assert "就业" in joined and "收费" in joined
    assert "吗" not in joined and "要" not in segments
