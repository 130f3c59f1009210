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
        ("某县远程会诊多少场", QuestionType.NUMBER),
        ("合作社今年养了几头牦牛", QuestionType.NUMBER),
        ("活动哪天开始的", QuestionType.DATE),
        ("视频每天几点推送", QuestionType.DATE),
        ("标准化哪年全面实现", QuestionType.DATE),
        ("项目是从什么时候开始做的", QuestionType.DATE),
        ("县委书记叫什么名字", QuestionType.NAME),
        ("是谁带头修的路", QuestionType.NAME),
        ("这个乡是哪个县的", QuestionType.PLACE),
        ("老人家住哪", QuestionType.PLACE),
        ("专家是从哪里请来的", QuestionType.PLACE),
        ("活动体验了什么", QuestionType.OTHER),
        ("葡萄园种的都是啥品种", QuestionType.OTHER),
        ("How many experts came?", QuestionType.NUMBER),
        ("what % of residents are insured", QuestionType.NUMBER),
        ("How old is the herder?", QuestionType.NUMBER),
        ("Who leads the clinic?", QuestionType.NAME),
        ("Where was the forum held?", QuestionType.PLACE),
        ("When did the fair open?", QuestionType.DATE),
        ("What did the ambassador's wife try?", QuestionType.OTHER),
    ],
)
def test_classify_question(question: str, expected: QuestionType) -> None:
    assert classify_question(question) is expected


def test_classify_traditional_question() -> None:
    assert classify_question("醫院今年接診了幾次") is QuestionType.NUMBER


@pytest.mark.parametrize(
    ("question", "units"),
    [
        ("会诊多少场", ("场次", "场")),
        ("筛查做了多少人", PEOPLE_UNITS),
        ("这次分红总共多少钱", MONEY_UNITS),
        ("修复搞了多少亩", ("万亩", "亩")),
        ("老人比例多少", ("%",)),
        ("专属网格有几个", ("个",)),
        ("一共几个人", PEOPLE_UNITS),
        ("走访了多少群众", PEOPLE_UNITS),
        ("How much were the medicines worth?", MONEY_UNITS),
        ("How many doctors were sent?", PEOPLE_UNITS),
        ("草场面积有多少", ("平方公里", "平方米", "公顷", "万亩", "亩")),
        ("PM2.5年均浓度是多少", ("微克/立方米", "毫克/立方米", "毫克/升", "μg/m³", "mg/m³")),
        ("热线电话多少", ()),
    ],
)
def test_asked_units(question: str, units: tuple[str, ...]) -> None:
    assert analyse_question(question).units == units


def test_counted_noun_follows_the_measure_word() -> None:
    focus = analyse_question("合作社养了多少只羊")
    assert focus.units == ("只",)
    assert focus.counted_noun == "羊"


def test_list_and_place_suffix() -> None:
    assert analyse_question("路面巡查主要查哪些交通违法").wants_list
    assert analyse_question("防疫工作法具体是哪七个").wants_list
    assert not analyse_question("书记叫什么").wants_list
    assert analyse_question("这个乡是哪个县的").place_suffix == "县"
    assert analyse_question("林卡挨着哪条国道").place_suffix == "国道"


@pytest.mark.parametrize(
    ("question", "expected"),
    [("某县会诊多少场", True), ("谁", False), ("How?", False), ("a" * 500, False), ("🙂", False)],
)
def test_has_content(question: str, expected: bool) -> None:
    assert has_content(question) is expected


def test_content_segments_drop_question_words_but_keep_words() -> None:
    segments = content_segments("拉萨的毕业生就业护航行动要收费吗")
    joined = "".join(segments)
    assert "就业" in joined and "收费" in joined
    assert "吗" not in joined and "要" not in segments
