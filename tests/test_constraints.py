"""What a question asks about (place, year, ordinal), checked against an answer's evidence."""

from __future__ import annotations

import pytest

from index.constraints import asked_constraints, differences, localities_in, page_year, places_in
from index.models import Difference

NIERONG = "截至目前,聂荣县已累计完成90余场次远程服务。"
ARTICLE = "那曲市聂荣县:党建搭台强根基\n聂荣县打破行政建制与医疗体系壁垒。\n" + NIERONG


def asked(question: str) -> list[tuple[str, str]]:
    return [(a.kind, a.text) for a in asked_constraints(question)]


def test_counties_years_and_ordinals_are_read_from_chinese_questions() -> None:
    assert asked("比如县远程会诊做了多少场") == [("place", "比如县")]
    assert asked("2022年营造林多少万亩") == [("year", "2022年")]
    assert asked("第十二批驻村工作队走访了多少群众") == [("ordinal", "第十二批")]


def test_a_short_form_counts_only_as_a_word_of_the_question() -> None:
    assert asked("康马有多少个村") == [("place", "康马县")]
    # 康保 (康保县) inside 健康保障 is not a place; 比如 ("for example") is a word, not 比如县.
    assert asked("健康保障覆盖多少人") == []
    assert asked("比如说聂荣县有几个村") == [("place", "聂荣县")]


def test_traditional_questions_are_read_in_simplified_form() -> None:
    assert asked("聶榮縣遠程會診多少場") == [("place", "聂荣县")]


def test_english_questions_name_places_in_pinyin_and_ordinals_in_words() -> None:
    found = asked("What did Biru County's 12th batch do in 2023?")
    assert found == [("place", "Biru County"), ("ordinal", "12th batch"), ("year", "2023年")]
    assert asked_constraints("How many visits in Biru County?")[0].place is not None


def test_no_constraint_no_difference() -> None:
    assert asked("远程会诊开展了多少场次") == []
    assert differences((), NIERONG, NIERONG, ARTICLE) == ()


def test_the_asked_county_in_the_evidence_is_no_difference() -> None:
    assert differences(asked_constraints("聂荣县远程会诊多少场"), NIERONG, NIERONG, ARTICLE) == ()


def test_another_county_in_the_evidence_is_a_difference() -> None:
    found = differences(asked_constraints("比如县远程会诊多少场"), NIERONG, NIERONG, ARTICLE)
    assert found == (Difference("比如县", "聂荣县"),)


def test_a_place_inside_the_asked_one_answers_for_it() -> None:
    # The article names 聂荣县, which lies in 那曲市 and in 西藏自治区.
    for question in ("那曲市远程会诊多少场", "西藏自治区远程会诊多少场"):
        assert differences(asked_constraints(question), NIERONG, NIERONG, ARTICLE) == ()


def test_an_article_that_names_no_place_does_not_contradict() -> None:
    plain = "截至目前,已累计完成90余场次远程服务。"
    assert differences(asked_constraints("比如县远程会诊多少场"), plain, plain, plain) == ()


def test_the_sentence_decides_before_the_article() -> None:
    # An article about two counties: the quoted sentence is about 康马县.
    article = "聂荣县和康马县的医疗服务\n康马县已完成远程会诊20场。聂荣县完成90余场次。"
    quote = "康马县已完成远程会诊20场。"
    found = differences(asked_constraints("聂荣县远程会诊多少场"), quote, article, article)
    assert found == (Difference("聂荣县", "康马县"),)


@pytest.mark.parametrize(
    ("question", "quote", "expected"),
    [
        ("2023年参保率是多少", "2024年,参保率96.7%。", (Difference("2023年", "2024年"),)),
        ("2024年参保率是多少", "2024年,参保率96.7%。", ()),
        ("2023年投资多少", "2021—2025年计划投资30亿元。", ()),
        ("2023年投资多少", "计划投资30亿元。", ()),
    ],
)
def test_years_and_year_ranges(question: str, quote: str, expected: tuple[Difference]) -> None:
    assert differences(asked_constraints(question), quote, quote, quote) == expected


def test_this_year_means_the_year_the_page_names_most() -> None:
    quote = "今年以来,全市完成营造林面积35.09万亩。"
    page = "2023年日喀则市工作综述\n2023年产业竞赛\n2020年以来\n" + quote
    assert page_year(page) == 2023
    found = differences(asked_constraints("2022年营造林多少万亩"), quote, quote, quote, page)
    assert found == (Difference("2022年", "2023年"),)
    assert differences(asked_constraints("2023年营造林多少万亩"), quote, quote, quote, page) == ()


def test_ordinals_of_the_same_measure_word() -> None:
    quote = "巴宜区第十三批驻村工作队已走访7700余名群众。"
    question = asked_constraints("第十二批驻村工作队走访了多少群众")
    assert differences(question, quote, quote, quote) == (Difference("第十二批", "第十三批"),)
    same = asked_constraints("第13批驻村工作队走访了多少群众")
    assert differences(same, quote, quote, quote) == ()
    # Another measure word says nothing about batches.
    other = "第三届博览会吸引游客5万人次。"
    assert differences(question, other, other, other) == ()


def test_place_names_are_whole_names_not_common_words() -> None:
    names = [p.name for p in places_in("城区空气质量优良,新建了道路;聂荣县和那曲市")]
    assert names == ["聂荣县", "那曲市"]


def test_a_place_of_another_standing_in_the_sentence_does_not_decide() -> None:
    # The sentence names a province (an aid partner); the article is about the asked city.
    article = "日喀则市卫生健康工作综述\n在吉林省援藏医生帮助下,全市为老人接种流感疫苗52346人次。"
    quote = "在吉林省援藏医生帮助下,全市为老人接种流感疫苗52346人次。"
    assert (
        differences(asked_constraints("日喀则老人打流感疫苗多少人次"), quote, quote, article) == ()
    )


def test_places_the_answer_names_are_not_the_evidence_s_subject() -> None:
    quote = "专家从比如县请来。"
    article = "聂荣县医疗服务\n" + quote
    question = asked_constraints("聂荣县的专家是从哪个县请来的")
    assert differences(question, quote, quote, article, highlight="比如县") == ()
    assert differences(question, quote, quote, article) == (Difference("聂荣县", "比如县"),)


def test_villages_and_townships_are_names_where_jieba_starts_a_word() -> None:
    assert localities_in("日卡村两癌筛查做了多少人") == ["日卡村"]
    assert localities_in("德庆镇那个残疾人叫什么") == ["德庆镇"]
    assert localities_in("吉崩岗社区志愿服务活动叫啥") == ["吉崩岗社区"]
    for common in (
        "驻村工作队走访多少群众",
        "乡村振兴",
        "新农村建设",
        "全乡有多少人",
        "聂荣县各乡镇",
    ):
        assert localities_in(common) == [], common


def test_a_village_the_article_never_names_is_a_difference() -> None:
    article = "慈觉林村养羊合作社分红\n慈觉林村合作社分红48.99万元。"
    quote = "慈觉林村合作社分红48.99万元。"
    asked_village = asked_constraints("日卡村合作社分红多少")
    assert differences(asked_village, quote, quote, article) == (Difference("日卡村", "慈觉林村"),)
    # A township named by its tail (苏林乡 for 加查苏林乡) is the same place.
    township = asked_constraints("加查苏林乡临时党支部书记以前是干啥的")
    named = "加查县苏林乡临时党支部书记曾是退役军人。"
    assert differences(township, named, named, named) == ()


def test_a_decade_is_no_year_and_a_year_written_without_nian_still_counts() -> None:
    assert asked("What was the trend from the 1970s onwards?") == []
    assert asked("1970年代的趋势") == []
    quote = "2012-13学年的学费为38,000美元,2007年起实行新政策。"
    tuition = asked_constraints("What is tuition for 2012 - 13 year at Harvard?")
    assert differences(tuition, quote, quote, quote) == ()
