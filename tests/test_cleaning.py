"""Cleaning: each step on small crafted examples of the quirks in the stories, then the corpus."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.cleaning import (
    Block,
    BlockKind,
    Draft,
    Piece,
    Role,
    classify_block,
    compose_headline,
    dedupe_pieces,
    drop_repeated_sentences,
    ends_sentence,
    join_headline_lines,
    repair_breaks,
    split_articles,
    split_blocks,
    split_dateline,
    split_sections,
    split_sentences,
    strip_heading_mark,
)
from index.loading import load_pages
from index.models import Article, Page

STORIES = Path(__file__).parents[1].parent / "shared" / "stories"


def page(*blocks: str) -> Page:
    return Page(file="p.txt", text="\n\n".join(blocks) + "\n", encoding="utf-8", sha256="0")


def kind(text: str, level: int = 0) -> BlockKind:
    return classify_block(Block(1, text, level))


def body(number: int, text: str) -> Piece:
    return Piece(number, text, Role.BODY)


# ---------------------------------------------------------------- blocks


def test_blocks_are_numbered_among_non_blank_groups() -> None:
    blocks = split_blocks("\n\n# 标题\n\n \n第一段。\n\n\n\n第二段。\n")
    assert [(b.number, b.text, b.level) for b in blocks] == [
        (1, "标题", 1),
        (2, "第一段。", 0),
        (3, "第二段。", 0),
    ]


def test_file_without_blank_lines_has_one_block_per_line() -> None:
    assert [b.text for b in split_blocks("标题\n第一段。\n第二段。")] == [
        "标题",
        "第一段。",
        "第二段。",
    ]


def test_wrapped_lines_in_a_block_join_without_spaces_in_chinese() -> None:
    block = split_blocks("标题\n\n依托2\n8个联村党委\nand the\nrest。")[1]
    assert block.text == "依托28个联村党委and the rest。"


def test_heading_marks_are_stripped_and_counted() -> None:
    assert strip_heading_mark("## 亚东县堆纳乡：") == (2, "亚东县堆纳乡：")
    assert strip_heading_mark("###提升服务水平") == (3, "提升服务水平")
    assert strip_heading_mark("第一段。") == (0, "第一段。")


# ---------------------------------------------------------------- block kinds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("本报记者 杨子彦", BlockKind.BYLINE),
        ("本报通讯员 田慨 崔运红", BlockKind.BYLINE),
        ("记者 王菲", BlockKind.BYLINE),
        ("本报通讯员 田慨 崔运红 摄", BlockKind.CREDIT),
        ("本报记者 王超 本报通讯员 马生明 摄影报道", BlockKind.CREDIT),
        ("图为驻藏某部巡逻分队在巡逻途中。", BlockKind.CAPTION),
        ("▲图为护路队员排查栅栏。", BlockKind.CAPTION),
        ("图①:大使夫人体验打牛角。", BlockKind.CAPTION),
        ("责任编辑：卓玛", BlockKind.FURNITURE),
        ("■导读", BlockKind.FURNITURE),
        ("图片新闻", BlockKind.FURNITURE),
        ("第3版", BlockKind.FURNITURE),
        ("12", BlockKind.FURNITURE),
        ("托起人民群众“稳稳的幸福”", BlockKind.HEADLINE),
        ("——2023年卫生健康工作综述", BlockKind.HEADLINE),
        ("那曲市聂荣县:", BlockKind.HEADLINE),
        ("织好教育公平网,以务实作风夯实民生之基", BlockKind.HEADLINE),
        ("活动共有30名党员参加。", BlockKind.BODY),
        ("加强母婴保健工作。市人民医院", BlockKind.BODY),  # sentence inside: a cut paragraph
        ("“这一模式在服务提效方面呈现", BlockKind.BODY),  # open quote: a cut paragraph
        ("经过反复琢磨后,", BlockKind.BODY),  # ends mid-clause
    ],
)
def test_classify_block(text: str, expected: BlockKind) -> None:
    assert kind(text) is expected


def test_marked_lines_are_headlines_even_when_long() -> None:
    assert kind("举行" * 20, level=2) is BlockKind.HEADLINE


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        ("活动结束。", True),
        ("他说:“很好。”", True),
        ("宣讲正在进行……", True),
        ("图为合影。(资料图片)", True),
        ("依托28", False),
        ("宣讲方式,", False),
        ("成为“红色防线”", False),
    ],
)
def test_ends_sentence(text: str, ends: bool) -> None:
    assert ends_sentence(text) is ends


def test_split_dateline_keeps_it_apart_from_the_text() -> None:
    assert split_dateline("本报日喀则电(记者 旦增嘎瓦)日前,普村举行分红仪式。") == (
        "本报日喀则电(记者 旦增嘎瓦)",
        "日前,普村举行分红仪式。",
    )
    assert split_dateline("本报拉萨讯（记者 卢文静 通讯员 齐永昌）近日,活动启动。")[1] == (
        "近日,活动启动。"
    )
    assert split_dateline("本报记者近日获悉,活动启动。") == ("", "本报记者近日获悉,活动启动。")


# ---------------------------------------------------------------- headlines


def test_kicker_with_colon_joins_without_space() -> None:
    assert join_headline_lines(["亚东县堆纳乡：", "走访察民情 躬身解民忧"]) == (
        "亚东县堆纳乡：走访察民情 躬身解民忧"
    )


def test_parallel_headline_lines_join_with_a_space() -> None:
    assert join_headline_lines(["排查安全隐患", "提升防护效能"]) == "排查安全隐患 提升防护效能"


def test_unmarked_kicker_above_marked_headline() -> None:
    group = [Block(1, "岗巴县昌龙乡普村"), Block(2, "举行分红仪式", 2)]
    assert compose_headline(group) == ("岗巴县昌龙乡普村 举行分红仪式", ())


def test_slogan_above_two_marked_lines_is_dropped() -> None:
    group = [Block(1, "学思想 强党性"), Block(2, "仁布县公安局", 2), Block(3, "多措并举", 2)]
    assert compose_headline(group)[0] == "仁布县公安局 多措并举"


def test_column_label_above_kicker_and_headline_is_dropped() -> None:
    group = [Block(1, "时讯快递"), Block(2, "达孜区工商联"), Block(3, "开展送温暖活动")]
    assert compose_headline(group)[0] == "达孜区工商联 开展送温暖活动"


def test_dash_line_and_line_under_marked_headline_are_subtitles() -> None:
    dash = [Block(1, "托起稳稳的幸福"), Block(2, "——巴宜区民生工作综述")]
    assert compose_headline(dash) == ("托起稳稳的幸福", (dash[1],))
    marked = [Block(1, "筑牢绿色屏障", 2), Block(2, "示范区创建工作走笔")]
    assert compose_headline(marked) == ("筑牢绿色屏障", (marked[1],))


# ---------------------------------------------------------------- sections


def headlines(*blocks: str) -> list[str]:
    return [a.headline for a in split_articles(page(*blocks))]


def test_headline_followed_by_byline_or_dateline_starts_an_article() -> None:
    assert headlines(
        "第一篇标题",
        "本报记者 甲乙",
        "第一篇正文。",
        "第二篇标题",
        "本报拉萨讯(记者 丙丁)第二篇正文。",
    ) == ["第一篇标题", "第二篇标题"]


def test_subheads_inside_a_feature_stay_in_the_article() -> None:
    (article,) = split_articles(
        page("长篇标题", "本报记者 甲乙", "导语一段。", "看病不再翻山越岭", "小节正文。")
    )
    assert [p.text for p in article.paragraphs] == ["导语一段。", "看病不再翻山越岭", "小节正文。"]


def test_label_between_byline_and_lead_is_dropped() -> None:
    (article,) = split_articles(
        page("长篇标题", "本报记者 甲乙", "聚焦 巴宜", "导语。", "小节", "正文。")
    )
    assert [p.text for p in article.paragraphs] == ["导语。", "小节", "正文。"]


def test_level_three_marks_are_subheads_and_level_two_are_articles() -> None:
    assert headlines(
        "# 综述标题", "本报记者 甲乙", "正文。", "### 小节", "正文二。", "## 另一篇", "正文三。"
    ) == ["综述标题", "另一篇"]


def test_photo_story_headline_starts_an_article_and_keeps_its_caption() -> None:
    articles = split_articles(
        page(
            "长篇标题",
            "本报记者 甲乙",
            "正文。",
            "显担当",
            "作表率",
            "党员先锋队带头行动。",
            "图为党员留影。",
            "本报记者 孙文娟 摄",
        )
    )
    assert [a.headline for a in articles] == ["长篇标题", "显担当 作表率"]
    assert [p.text for p in articles[1].paragraphs] == ["党员先锋队带头行动。", "图为党员留影。"]


def test_dateline_without_headline_starts_an_unheaded_article() -> None:
    articles = split_articles(
        page("标题", "本报记者 甲", "正文。", "本报拉萨讯(记者 乙)另一条消息。")
    )
    assert [(a.headline, a.byline) for a in articles] == [
        ("标题", "本报记者 甲"),
        ("", "本报拉萨讯(记者 乙)"),
    ]


def test_first_group_opens_the_page_even_without_byline() -> None:
    sections = split_sections(split_blocks("民生焦点\n\n正文。\n"))
    assert [[b.text for b in s.heading] for s in sections] == [["民生焦点"]]


def test_bylines_credits_and_furniture_never_reach_the_body() -> None:
    (article,) = split_articles(
        page("标题", "本报记者 甲乙", "正文。", "图为合影。", "本报记者 甲乙 摄", "责任编辑：丙")
    )
    assert article.byline == "本报记者 甲乙"
    assert [p.text for p in article.paragraphs] == ["正文。", "图为合影。"]


# ---------------------------------------------------------------- break repair


def test_adjacent_cut_paragraph_is_joined_and_keeps_the_first_number() -> None:
    repaired = repair_breaks(
        [body(3, "依托28"), body(4, "个联村党委整合力量。"), body(5, "下一段。")]
    )
    assert repaired == [body(3, "依托28个联村党委整合力量。"), body(5, "下一段。")]


def test_comma_ending_paragraph_is_joined() -> None:
    repaired = repair_breaks(
        [body(1, "用带有“酥油香”的宣讲方式,"), body(2, "让党的声音入脑入心。")]
    )
    assert [p.text for p in repaired] == ["用带有“酥油香”的宣讲方式,让党的声音入脑入心。"]


def test_caption_at_the_break_moves_after_the_joined_paragraph() -> None:
    caption = Piece(2, "图为合影。", Role.CAPTION)
    repaired = repair_breaks([body(1, "市人民医院"), caption, body(3, "成功创建救治中心。")])
    assert repaired == [body(1, "市人民医院成功创建救治中心。"), caption]


def test_subheads_are_never_joined() -> None:
    pieces = [Piece(1, "看病不再翻山越岭", Role.SUBHEAD), body(2, "正文。")]
    assert repair_breaks(pieces) == pieces


def test_cut_line_that_looks_like_a_headline_joins_in_short_news() -> None:
    (article,) = split_articles(
        page("标题", "本报拉萨讯(记者 甲)开头。", "各工作队聚焦乡村治理,通过", "走访摸清问题。")
    )
    assert [p.text for p in article.paragraphs] == [
        "开头。",
        "各工作队聚焦乡村治理,通过走访摸清问题。",
    ]


def test_second_line_under_a_subhead_is_a_cut_paragraph() -> None:
    (article,) = split_articles(
        page("标题", "本报记者 甲", "开头。", "全力解决就医难", "项目始终紧盯购", "药难等问题。")
    )
    assert [p.text for p in article.paragraphs] == [
        "开头。",
        "全力解决就医难",
        "项目始终紧盯购药难等问题。",
    ]


# ---------------------------------------------------------------- dedupe


def test_exact_and_near_exact_repeats_keep_the_first() -> None:
    drafts = [
        Draft("甲", "", (body(1, "活动共有30名党员参加。"), body(2, "另一段内容在这里。"))),
        Draft("乙", "", (body(5, "活动共有 30 名党员参加,"),)),
    ]
    deduped = dedupe_pieces(drafts)
    assert [p.number for d in deduped for p in d.pieces] == [1, 2]


def test_fragment_contained_in_a_later_paragraph_is_dropped() -> None:
    drafts = [
        Draft("甲", "", (body(1, "医师到相关县医疗卫生机构开展基层行活动。"),)),
        Draft("乙", "", (body(9, "选派15名医师到相关县医疗卫生机构开展基层行活动。"),)),
    ]
    assert [p.number for d in dedupe_pieces(drafts) for p in d.pieces] == [9]


def test_short_subheads_survive_containment() -> None:
    drafts = [
        Draft(
            "甲",
            "",
            (Piece(1, "健康理念扎根高原地区", Role.SUBHEAD), body(2, "让健康理念扎根高原地区。")),
        )
    ]
    assert len(dedupe_pieces(drafts)[0].pieces) == 2


def test_long_sentence_repeated_later_on_the_page_is_cut_out() -> None:
    repeated = "截至目前,工作队共收集群众反映强烈诉求12件。"
    drafts = [
        Draft("甲", "", (body(1, "开头一句。" + repeated),)),
        Draft("乙", "", (body(7, "新的开头。" + repeated + "新的结尾。"), body(8, repeated))),
    ]
    cleaned = drop_repeated_sentences(drafts)
    assert [p.text for d in cleaned for p in d.pieces] == [
        "开头一句。" + repeated,
        "新的开头。新的结尾。",
    ]


def test_split_sentences_gives_the_text_back() -> None:
    text = "甲说:“好。”乙来了！！没有句号"
    assert split_sentences(text) == ["甲说:“好。”", "乙来了！！", "没有句号"]
    assert "".join(split_sentences(text)) == text


def test_headlines_printed_over_each_others_stories_are_swapped() -> None:
    articles = split_articles(
        page(
            "# 护航百姓健康",
            "## ——卫生健康工作综述",
            "本报记者 甲",
            "生态文明建设示范区名单公布,绿色屏障更加牢固,生态红利持续释放。",
            "## 筑牢绿色屏障 释放生态红利",
            "生态文明建设示范区创建工作走笔",
            "本报记者 甲",
            "卫生健康工作扎实推进,百姓健康得到护航,卫生服务更加均等。",
        )
    )
    assert [(a.headline, a.paragraphs[0].text) for a in articles] == [
        ("筑牢绿色屏障 释放生态红利", "生态文明建设示范区创建工作走笔"),
        ("护航百姓健康", "——卫生健康工作综述"),
    ]


def test_headlines_that_fit_their_own_stories_stay() -> None:
    assert headlines(
        "康马县举办交流会",
        "本报记者 甲",
        "康马县举办交流会,展位二百个。",
        "仁布县开展巡查",
        "本报记者 乙",
        "仁布县开展巡查,查处超载。",
    ) == ["康马县举办交流会", "仁布县开展巡查"]


def test_one_paragraph_photo_story_followed_by_credit_is_its_own_article() -> None:
    articles = split_articles(
        page(
            "标题",
            "本报拉萨讯(记者 甲)正文。",
            "近日,项目部开展义诊活动。图为体检现场。",
            "本报记者 乙 摄",
        )
    )
    assert [(a.headline, [p.text for p in a.paragraphs]) for a in articles] == [
        ("标题", ["正文。"]),
        ("", ["近日,项目部开展义诊活动。图为体检现场。"]),
    ]


def test_article_indices_are_consecutive_and_paragraphs_cite_blocks() -> None:
    articles = split_articles(
        page("标题一", "本报记者 甲", "正文一。", "标题二", "本报记者 乙", "正文二。")
    )
    assert [(a.index, a.paragraphs[0].number) for a in articles] == [(0, 3), (1, 6)]
    assert all(isinstance(a, Article) and a.file == "p.txt" for a in articles)


# ---------------------------------------------------------------- the real stories


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[Article]]:
    if not STORIES.is_dir():
        pytest.skip(f"stories not found at {STORIES}")
    return {p.file: split_articles(p) for p in load_pages(STORIES).pages}


def test_corpus_general_properties(corpus: dict[str, list[Article]]) -> None:
    assert len(corpus) >= 5
    for file, articles in corpus.items():
        assert len(articles) >= 2, file
        keys = [re.sub(r"\W", "", p.text) for a in articles for p in a.paragraphs]
        assert len(keys) == len(set(keys)), file
        numbers = [p.number for a in articles for p in a.paragraphs]
        assert len(numbers) == len(set(numbers)), file
        for article in articles:
            assert not any(p.text.startswith("本报记者") for p in article.paragraphs)
            assert not any(line.startswith("本报记者") for line in article.text.split("\n"))
            assert not any(p.text.startswith("#") for p in article.paragraphs)
    texts = [a.text for articles in corpus.values() for a in articles]
    assert any("依托28个联村党委" in text for text in texts)
