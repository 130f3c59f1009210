"""Sentence choice, highlight spans and abstention on small crafted passages."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from index.answer import (
    Extraction,
    abstention_reason,
    extract_answer,
    romanised_names,
    should_abstain,
    split_sentences,
)
from index.embedding import Vectors
from index.models import Chunk, Hit
from index.question import QuestionType


def make_hits(*texts: str, headline: str = "", file: str = "a.txt") -> list[Hit]:
    """One chunk per text, best first, all from one article unless texts differ in file."""
    return [
        Hit(
            chunk=Chunk(
                id=f"c{i}",
                file=file,
                article_index=0,
                headline=headline,
                paragraph=i + 1,
                position=i,
                text=text,
            ),
            score=1.0 / (i + 1),
            dense_score=0.5,
            lexical_score=5.0,
        )
        for i, text in enumerate(texts)
    ]


def answer(question: str, *texts: str, headline: str = "") -> Extraction:
    extraction = extract_answer(question, make_hits(*texts, headline=headline))
    assert extraction is not None
    return extraction


# --- sentences ------------------------------------------------------------------------------


def test_split_sentences_on_chinese_end_marks() -> None:
    assert split_sentences("甲村修了路。乙村建了桥!丙村呢?丁村;") == [
        "甲村修了路。",
        "乙村建了桥!",
        "丙村呢?",
        "丁村;",
    ]


def test_quotation_stays_with_its_speaker() -> None:
    text = "“日子越过越好了。”次仁说,“明年还要扩大规模。”村里很热闹。"
    sentences = split_sentences(text)
    assert sentences[0].startswith("“日子越过越好了。”次仁说")
    assert sentences[-1] == "村里很热闹。"


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("某县远程会诊多少场", "截至目前,某县已累计完成60余场次远程服务。", "60余场次"),
        ("药费现在能报销多少", "通过叠加政策,实现综合报销比例80%以上。", "80%以上"),
        ("新村老人比例多少", "新村60岁以上老人占比15%左右,其中多数有慢病。", "15%左右"),
        ("林卡试营业收入有多少", "试营业一个月,营业额达到2.3万多元。", "2.3万多元"),
        ("集体经济总收入预计多少", "全年集体经济总收入预计超过2100万元。", "超过2100万元"),
        ("官兵爬了多长时间", "经过6个多小时的攀爬,巡逻分队到达山口。", "6个多小时"),
        ("筛查做了多少人", "全年累计完成筛查4.5万人。", "4.5万人"),
    ],
)
def test_number_keeps_qualifiers_and_units(question: str, sentence: str, expected: str) -> None:
    extraction = answer(question, sentence)
    assert extraction.qtype is QuestionType.NUMBER
    assert extraction.highlight == expected


def test_number_prefers_the_asked_measure_word() -> None:
    extraction = answer(
        "某县远程会诊多少场",
        "全县12个联村党委开展远程会诊。已累计完成40余场次远程会诊服务。",
    )
    assert extraction.highlight == "40余场次"


def test_number_skips_the_questions_own_year_and_prefers_the_total() -> None:
    extraction = answer(
        "合作社2023年分红总共多少钱",
        "2023年合作社分红共计31.5万元,其中成员分红20.1万元。",
    )
    assert extraction.highlight == "31.5万元"


def test_number_takes_the_counted_noun_when_it_follows() -> None:
    extraction = answer("卫健委查出几个方面的问题", "共梳理查找12个方面问题,制定了整改措施。")
    assert extraction.highlight is not None
    assert extraction.highlight.startswith("12个")


def test_traditional_question_finds_simplified_text() -> None:
    extraction = answer("草原生態修復搞了多少畝", "全市草原生态修复治理面积88.6万亩。")
    assert extraction.highlight == "88.6万亩"


def test_traditional_story_text_is_matched_and_quoted_as_written() -> None:
    extraction = answer("凉茶铺又叫什么", "涼茶舖又稱「涼茶店」,是售賣涼茶的店舖。")
    assert extraction.text.startswith("涼茶舖")
    assert extraction.highlight is not None and "涼茶店" in extraction.highlight


def test_number_in_the_clause_about_the_question() -> None:
    extraction = answer(
        "草原生态修复搞了多少亩",
        "全市完成营造林面积20.5万亩,草原生态修复治理面积96.1万亩。",
    )
    assert extraction.highlight == "96.1万亩"


def test_counted_noun_before_the_number_picks_the_right_count() -> None:
    extraction = answer(
        "某市下达了多少起处罚决定书",
        "行政立案31起,下达责令改正决定书52起,下达处罚决定书17起。",
    )
    assert extraction.highlight == "17起"


def test_compound_measure_words_stay_whole() -> None:
    extraction = answer("某市检查了多少家次企业", "累计检查企业650家次,立案12起。")
    assert extraction.highlight == "650家次"


def test_how_many_never_answered_by_a_duration() -> None:
    hits = make_hits("面向应届高校毕业生及近3年内的高校毕业生提供服务。")
    question = "某市有多少个高校毕业生"
    assert should_abstain(question, extract_answer(question, hits), hits)


def test_metric_unit_after_a_number() -> None:
    extraction = answer("这种树有多高", "树高可达45m,树干直径达1米。")
    assert extraction.highlight is not None
    assert extraction.highlight.startswith("45m")


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("野驴每小时可跑多少公里", "印度野驴最高时速可达60-70公里。", "60-70公里"),
        ("这张专辑是第几张专辑", "这张专辑是乐队的第十二张录音室专辑。", "第十二张"),
        ("学校男女生比例是多少", "目前学校男女生比例约为1:6。", "约为1:6"),
        ("公司斥资多少钱收购了品牌", "公司斥资42亿美元收购了这个品牌。", "42亿美元"),
    ],
)
def test_ranges_ordinals_ratios_currencies(question: str, sentence: str, expected: str) -> None:
    assert answer(question, sentence).highlight == expected


def test_an_article_is_not_a_count() -> None:
    extraction = answer("药费现在能报销多少", "达到一级标准后,综合报销比例达到80%以上。")
    assert extraction.highlight == "80%以上"


# --- dates ----------------------------------------------------------------------------------


def test_date_start_and_end() -> None:
    texts = (
        "11月20日,某县举办冬季物资交流会。",
        "据悉,某县冬季物资交流会将持续到11月25日。",
    )
    assert answer("某县冬季物资交流会哪天开始的", *texts).highlight == "11月20日"
    assert answer("某县冬季物资交流会开到哪天结束", *texts).highlight == "11月25日"


def test_era_year() -> None:
    extraction = answer("这座城是何时建立的", "这座城是罗马人在公元前25年建立的。")
    assert extraction.highlight == "公元前25年"


def test_when_answered_by_an_event() -> None:
    hits = make_hits("他在高二的时候拍了第一支音乐录影带。")
    question = "他什么时候拍了第一支音乐录影带"
    extraction = extract_answer(question, hits)
    assert extraction is not None
    assert extraction.highlight is not None
    assert extraction.highlight.endswith("高二的时候")
    assert not should_abstain(question, extraction, hits)


def test_time_of_day() -> None:
    extraction = answer("党课视频每天几点推送", "党课视频于每晚九点推送至各微信群。")
    assert extraction.highlight == "每晚九点"


# --- names and places -----------------------------------------------------------------------


def test_quoted_title_for_what_is_it_called() -> None:
    extraction = answer(
        "社区那个志愿服务活动叫啥",
        "近日,某社区开展“绿水青山我守护”志愿服务活动,清理垃圾。",
    )
    assert extraction.highlight == "绿水青山我守护"


def test_person_after_title() -> None:
    extraction = answer("某县委书记叫什么名字", "某县委书记次旦多吉表示,要办好民生实事。")
    assert extraction.highlight == "次旦多吉"


def test_speaker_of_a_quotation() -> None:
    extraction = answer(
        "说网格让服务有了温度的是谁",
        "“网格让服务有了温度。”格桑卓玛说,大家都很满意。",
    )
    assert extraction.highlight == "格桑卓玛"


def test_place_with_the_asked_suffix() -> None:
    extraction = answer("哪个村把护林编进歌舞里演", "某县某乡白玛村把护林防火编进歌舞表演。")
    assert extraction.highlight is not None
    assert extraction.highlight.endswith("白玛村")
    assert len(extraction.highlight) <= 8


def test_place_after_locative_verb() -> None:
    extraction = answer(
        "消防大队是去哪接受警示教育的",
        "近日,消防大队前往市廉政教育基地开展警示教育。",
    )
    assert extraction.highlight == "市廉政教育基地"


def test_place_name_starts_after_the_enclosing_unit() -> None:
    extraction = answer(
        "医生是哪个社区的",
        "清晨,某市某区扎西街道扎西新村社区的医生背着药箱来到居民家中。",
    )
    assert extraction.highlight == "扎西新村社区"


def test_noun_modifier_stops_at_the_verb() -> None:
    extraction = answer(
        "某县老人得了什么病",
        "某县老人因饮食习惯患有高血压和慢性胃病,常年吃药。",
    )
    assert extraction.highlight == "高血压和慢性胃病"


def test_list_starts_after_the_introducing_verb() -> None:
    extraction = answer(
        "工商联跟哪些单位一起开展的活动",
        "近日,某区工商联联合某区住建局、爱心企业开展送温暖主题活动。",
    )
    assert extraction.highlight == "某区住建局、爱心企业"


def test_list_answer_is_the_enumeration() -> None:
    extraction = answer(
        "葡萄园种的都是啥品种",
        "葡萄园占地80亩,主要引进了红提、青提、玫瑰香等葡萄品种。",
    )
    assert extraction.highlight is not None
    assert "红提、青提、玫瑰香" in extraction.highlight
    assert "等" not in extraction.highlight


def test_other_question_takes_what_follows_the_verb() -> None:
    extraction = answer("大使夫人在论坛体验了什么", "图①:某国大使夫人体验打酥油茶。")
    assert extraction.highlight == "打酥油茶"


# --- English ----------------------------------------------------------------------------------


class KeywordEmbedder:
    """A tiny deterministic embedder: one dimension per keyword, for tests only."""

    keywords = ("专家", "医院", "岁", "经费")

    @property
    def id(self) -> str:
        return "test/keywords"

    @property
    def dimension(self) -> int:
        return len(self.keywords)

    def _embed(self, texts: Sequence[str]) -> Vectors:
        english = {"experts": "专家", "hospital": "医院", "old": "岁"}
        rows = []
        for text in texts:
            mapped = text + "".join(zh for en, zh in english.items() if en in text.lower())
            rows.append([1.0 if k in mapped else 0.01 for k in self.keywords])
        matrix = np.asarray(rows, dtype=np.float32)
        normalised: Vectors = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        return normalised

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)


def test_english_question_uses_dense_similarity_and_unit() -> None:
    hits = make_hits("会议经费共计12万元。某医院派出6名专家赴县医院帮扶。")
    extraction = extract_answer("How many experts did the hospital send?", hits, KeywordEmbedder())
    assert extraction is not None
    assert extraction.highlight == "6名"
    assert not should_abstain("How many experts did the hospital send?", extraction, hits)


def test_english_question_scored_by_lexicon_translations() -> None:
    hits = make_hits(
        "社区60岁以上老人占比15%左右。次仁今年58岁,患有高血压、糖尿病。",
        headline="某社区慢病管理",
    )
    question = "How old is Ciren, the resident with high blood pressure and diabetes?"
    extraction = extract_answer(question, hits, translations=["次仁", "高血压", "糖尿病", "岁"])
    assert extraction is not None
    assert extraction.highlight == "58岁"


def test_english_who_question_about_a_title_finds_the_person() -> None:
    hits = make_hits("某县县委书记次旦多吉表示,要办好“暖心工程”。")
    question = "What is the name of the party secretary of the county?"
    extraction = extract_answer(question, hits, translations=["县委书记", "书记"])
    assert extraction is not None
    assert extraction.highlight == "次旦多吉"


def test_english_how_many_needs_the_counted_thing_next_to_the_number() -> None:
    hits = make_hits("巴宜区成立培训班,为20余名下岗妇女提供就业培训。", headline="巴宜区就业")
    question = "How many medical staff has the Bayi hospital trained?"
    translations = ["医护", "人员", "巴宜", "医院", "培训"]
    extraction = extract_answer(question, hits, translations=translations)
    assert extraction is not None and extraction.highlight == "20余名"
    assert abstention_reason(question, extraction, hits) == (
        "the number does not count what was asked"
    )
    staffed = make_hits("巴宜区医院培训中心已为30余名医护人员提供培训。", headline="巴宜区")
    extraction = extract_answer(question, staffed, translations=translations)
    assert not should_abstain(question, extraction, staffed)


def test_english_how_many_prefers_the_number_next_to_the_counted_thing() -> None:
    hits = make_hits(
        "全县12个联村党委实现远程会诊全覆盖。截至目前,已累计完成60余场次远程服务。",
        headline="某县 党建引领医疗",
    )
    question = "How many remote consultations has the county completed?"
    extraction = extract_answer(question, hits, translations=["远程", "会诊", "县"])
    assert extraction is not None and extraction.highlight == "60余场次"
    assert not should_abstain(question, extraction, hits)


def test_romanised_names_match_pinyin_of_the_story() -> None:
    assert romanised_names("How much did each person chip in at Qiaolagang in Kaqiong?") == [
        "qiaolagang",
        "kaqiong",
    ]
    assert romanised_names("What was Lhundrub county's budget?") == []  # not pinyin
    hits = make_hits("甲村第一书记集资3000元。卡琼村村民各集资5000元。")
    extraction = extract_answer("How much did each villager of Kaqiong chip in?", hits)
    assert extraction is not None
    assert extraction.highlight == "5000元"


def test_scene_setting_clause_counts_less_than_the_asking_clause() -> None:
    extraction = answer(
        "某村次仁摔伤了腿 项目给他装了个啥",
        "此外,某村服务对象次仁为多重残疾,近期摔伤腿后行动困难。"
        "项目团队对接爱心企业,为老人上门安装扶手架。",
    )
    assert extraction.highlight is not None and "扶手架" in extraction.highlight


# --- headlines, topics, anchors ---------------------------------------------------------------


def test_kicker_headline_answers_where_the_body_does_not() -> None:
    extraction = answer(
        "洛桑乡是哪个县的",
        "洛桑乡党委利用网络平台开展微型党课。",
        headline="错那县洛桑乡 利用微型党课平台开展宣讲",
    )
    assert extraction.highlight == "错那县"


def test_paraphrased_verb_anchors_on_an_earlier_question_word() -> None:
    extraction = answer(
        "某乡临时党支部书记以前是干啥的",
        "某乡临时党支部立足实际开展工作。该临时党支部发挥党支部书记作为退伍老兵的特质。",
        headline="某乡临时党支部 推进驻村工作",
    )
    assert extraction.highlight is not None
    assert "退伍老兵" in extraction.highlight


def test_codes_are_not_quantities_and_measured_nouns_need_their_unit() -> None:
    hits = make_hits("全市PM2.5、PM10等污染物浓度均达到一级标准,优良率99.7%。")
    question = "某市PM2.5年均浓度是多少"
    extraction = extract_answer(question, hits)
    assert extraction is None or extraction.highlight != "10"
    assert should_abstain(question, extraction, hits)


# --- abstention -------------------------------------------------------------------------------


def test_answerable_question_is_not_abstained() -> None:
    hits = make_hits("截至目前,某县已累计完成60余场次远程会诊服务。", headline="某县远程医疗")
    question = "某县远程会诊多少场"
    assert not should_abstain(question, extract_answer(question, hits), hits)


def test_abstain_when_the_counted_thing_is_missing() -> None:
    hits = make_hits("合作社今年分红共计30万元,入股群众120户。", headline="某村合作社分红")
    question = "某村合作社养了多少只羊"
    assert should_abstain(question, extract_answer(question, hits), hits)


def test_abstain_when_the_named_place_is_missing() -> None:
    hits = make_hits("某县驻村工作队为群众办实事300余件。", headline="某县驻村工作")
    question = "南山县驻村工作队帮群众办了多少件实事"
    assert should_abstain(question, extract_answer(question, hits), hits)


def test_spaced_latin_title_is_found() -> None:
    hits = make_hits("《SOUL EATER》是日本漫画家大久保笃的漫画作品。")
    question = "《SOUL EATER》是谁的漫画作品"
    assert abstention_reason(question, extract_answer(question, hits), hits) is None


def test_abstention_reason_names_the_missing_place() -> None:
    hits = make_hits("某县驻村工作队为群众办实事300余件。", headline="某县驻村工作")
    question = "南山县驻村工作队帮群众办了多少件实事"
    reason = abstention_reason(question, extract_answer(question, hits), hits)
    assert reason is not None and "南山" in reason


def test_abstain_when_the_answers_story_is_about_another_place() -> None:
    hits = [
        *make_hits("某县远程会诊系统覆盖全县。", headline="某县 党建引领医疗", file="a.txt"),
        *make_hits(
            "在党员医生帮助下,次仁患有的高血压得到控制。", headline="城关区 慢病管理", file="b.txt"
        ),
    ]
    question = "南山县远程会诊系统是谁捐赠的"
    assert should_abstain(question, extract_answer(question, hits), hits)


def test_place_name_split_by_the_tagger_is_still_a_key_term() -> None:
    hits = make_hits("两位社区书记依次登台,讲治理举措。", headline="某街道 先锋讲坛")
    question = "吉崩岗社区志愿服务活动有多少人参加"
    reason = abstention_reason(question, extract_answer(question, hits), hits)
    assert reason is not None and "吉崩岗" in reason


def test_abstain_without_hits() -> None:
    assert should_abstain("某县远程会诊多少场", extract_answer("某县远程会诊多少场", []), [])


def test_question_without_content_gets_no_extraction() -> None:
    hits = make_hits("某县已累计完成60余场次远程会诊服务。")
    for question in ("谁", "多少", "How?"):
        assert extract_answer(question, hits) is None
        assert should_abstain(question, None, hits)


def test_odd_input_never_raises() -> None:
    hits = make_hits("某县已累计完成60余场次远程会诊服务。")
    for question in ("🙂🙂", "???", "", "某" * 5000):
        extraction = extract_answer(question, hits)
        should_abstain(question, extraction, hits)
