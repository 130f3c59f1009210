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


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("某县义诊办了多少场", "今年以来,某县已累计开展60余场次巡回义诊。", "60余场次"),
        ("门诊费用能报销多少", "新政实施后,门诊费用报销比例提高到80%以上。", "80%以上"),
        ("牧场里牦牛的比例多少", "牧场牲畜中牦牛占比15%左右,其余为绵羊。", "15%左右"),
        ("民宿开业头一个月收入有多少", "开业头一个月,民宿收入达到2.3万多元。", "2.3万多元"),
        ("合作社今年营业额预计多少", "合作社今年营业额预计超过2100万元。", "超过2100万元"),
        ("队员们走了多长时间", "经过6个多小时的跋涉,队员们抵达营地。", "6个多小时"),
        ("体检做了多少人", "今年共为牧民群众体检4.5万人。", "4.5万人"),
    ],
)
def test_number_keeps_qualifiers_and_units(question: str, sentence: str, expected: str) -> None:
    extraction = answer(question, sentence)
    assert extraction.qtype is QuestionType.NUMBER
    assert extraction.highlight == expected


def test_number_prefers_the_asked_measure_word() -> None:
    extraction = answer(
        "某县义诊办了多少场",
        "全县12个乡镇参与义诊。已累计开展40余场次巡回义诊。",
    )
    assert extraction.highlight == "40余场次"


def test_number_skips_the_questions_own_year_and_prefers_the_total() -> None:
    extraction = answer(
        "合作社2023年奖金总共发了多少钱",
        "2023年合作社发放奖金共计31.5万元,其中骨干奖金20.1万元。",
    )
    assert extraction.highlight == "31.5万元"


def test_number_takes_the_counted_noun_when_it_follows() -> None:
    extraction = answer("督查组发现了几个方面的短板", "督查组共发现12个方面短板,已逐一整改。")
    assert extraction.highlight is not None
    assert extraction.highlight.startswith("12个")


def test_traditional_question_finds_simplified_text() -> None:
    extraction = answer("濕地保護修復了多少畝", "全县湿地保护修复面积88.6万亩。")
    assert extraction.highlight == "88.6万亩"


def test_traditional_story_text_is_matched_and_quoted_as_written() -> None:
    extraction = answer("茶餐厅又叫什么", "茶餐廳又稱冰室,是售賣飲品的店舖。")
    assert extraction.text.startswith("茶餐廳")
    assert extraction.highlight is not None and "冰室" in extraction.highlight


def test_number_in_the_clause_about_the_question() -> None:
    extraction = answer(
        "湿地保护修复了多少亩",
        "全县完成退耕还林20.5万亩,湿地保护修复面积96.1万亩。",
    )
    assert extraction.highlight == "96.1万亩"


def test_number_in_the_clause_holding_more_of_the_question() -> None:
    """Both clauses repeat the asked activity; the one that also names the asked group wins."""
    extraction = answer(
        "小学生视力健康筛查了多少人次",
        "完成老年人视力健康筛查3100人次,小学生近视和视力健康筛查2200人次。",
    )
    assert extraction.highlight == "2200人次"


def test_counted_noun_before_the_number_picks_the_right_count() -> None:
    extraction = answer(
        "某局查处了多少起超载案件",
        "全年查处酒驾案件31起,查处超载案件17起,查处无证驾驶案件52起。",
    )
    assert extraction.highlight == "17起"


def test_compound_measure_words_stay_whole() -> None:
    extraction = answer("某市检查了多少家次企业", "累计检查企业650家次,立案12起。")
    assert extraction.highlight == "650家次"


def test_how_many_never_answered_by_a_duration() -> None:
    hits = make_hits("为近3年内退役的军人提供就业服务。")
    question = "某市有多少个退役军人"
    assert should_abstain(question, extract_answer(question, hits), hits)


def test_metric_unit_after_a_number() -> None:
    extraction = answer("这座塔有多高", "这座塔高约45m,塔基直径达9米。")
    assert extraction.highlight is not None
    assert "45m" in extraction.highlight


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("羚羊每小时可跑多少公里", "这种羚羊最高时速可达60-70公里。", "60-70公里"),
        ("这张专辑是第几张专辑", "这张专辑是乐队的第十二张录音室专辑。", "第十二张"),
        ("学校男女生比例是多少", "目前学校男女生比例约为1:6。", "约为1:6"),
        ("公司斥资多少钱收购了品牌", "公司斥资42亿美元收购了这个品牌。", "42亿美元"),
    ],
)
def test_ranges_ordinals_ratios_currencies(question: str, sentence: str, expected: str) -> None:
    assert answer(question, sentence).highlight == expected


def test_an_article_is_not_a_count() -> None:
    extraction = answer("住院费用能报销多少", "评为一级医院后,住院费用报销比例达到80%以上。")
    assert extraction.highlight == "80%以上"


# --- dates ----------------------------------------------------------------------------------


def test_date_start_and_end() -> None:
    texts = (
        "4月8日,某镇举办春季农机展销会。",
        "据悉,某镇春季农机展销会将持续到4月12日。",
    )
    assert answer("某镇春季农机展销会哪天开幕的", *texts).highlight == "4月8日"
    assert answer("某镇春季农机展销会开到哪天闭幕", *texts).highlight == "4月12日"


def test_era_year() -> None:
    extraction = answer("这座古城是何时修建的", "这座古城是希腊人在公元前40年修建的。")
    assert extraction.highlight == "公元前40年"


def test_when_answered_by_an_event() -> None:
    hits = make_hits("他在高二的时候拍了第一支音乐录影带。")
    question = "他什么时候拍了第一支音乐录影带"
    extraction = extract_answer(question, hits)
    assert extraction is not None
    assert extraction.highlight is not None
    assert extraction.highlight.endswith("高二的时候")
    assert not should_abstain(question, extraction, hits)


def test_time_of_day() -> None:
    extraction = answer("广播节目每天几点播出", "广播节目于每晚九点准时播出。")
    assert extraction.highlight == "每晚九点"


# --- names and places -----------------------------------------------------------------------


def test_quoted_title_for_what_is_it_called() -> None:
    extraction = answer(
        "学校那个读书活动叫啥",
        "近日,某学校开展“书香伴我成长”读书活动,师生踊跃参加。",
    )
    assert extraction.highlight == "书香伴我成长"


def test_person_after_title() -> None:
    extraction = answer("某镇党委书记叫什么名字", "某镇党委书记次旦多吉表示,要办好民生实事。")
    assert extraction.highlight == "次旦多吉"


def test_speaker_of_a_quotation() -> None:
    extraction = answer(
        "说路修到了家门口的是谁",
        "“这条路修到了家门口。”格桑卓玛说,大家都很满意。",
    )
    assert extraction.highlight == "格桑卓玛"


def test_place_with_the_asked_suffix() -> None:
    extraction = answer("哪个村把护林编进歌舞里演", "某县某乡白玛村把护林防火编进歌舞表演。")
    assert extraction.highlight is not None
    assert extraction.highlight.endswith("白玛村")
    assert len(extraction.highlight) <= 8


def test_place_after_locative_verb() -> None:
    extraction = answer(
        "税务分局是去哪参观学习的",
        "近日,税务分局组织干部前往市档案馆开展参观学习。",
    )
    assert extraction.highlight == "市档案馆"


def test_place_name_starts_after_the_enclosing_unit() -> None:
    extraction = answer(
        "护士是哪个社区的",
        "上午,某市某区阳光街道幸福新村社区的护士带着血压计走进居民家中。",
    )
    assert extraction.highlight == "幸福新村社区"


def test_noun_modifier_stops_at_the_verb() -> None:
    extraction = answer(
        "那位牧民得了什么病",
        "那位牧民因长年劳作患有风湿和慢性腰病,需定期理疗。",
    )
    assert extraction.highlight == "风湿和慢性腰病"


def test_list_starts_after_the_introducing_verb() -> None:
    extraction = answer(
        "团委跟哪些单位一起举办的义诊",
        "近日,某县团委联合县人民医院、志愿者协会开展义诊活动。",
    )
    assert extraction.highlight == "县人民医院、志愿者协会"


def test_list_answer_is_the_enumeration() -> None:
    extraction = answer(
        "果园种的都是啥品种",
        "果园占地80亩,主要引进了红富士、嘎啦、黄元帅等苹果品种。",
    )
    assert extraction.highlight is not None
    assert "红富士、嘎啦、黄元帅" in extraction.highlight
    assert "等" not in extraction.highlight


def test_other_question_takes_what_follows_the_verb() -> None:
    extraction = answer("代表团在展会上体验了什么", "图②:代表团成员在展会上体验制作唐卡。")
    assert extraction.highlight == "制作唐卡"


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
        "村里65岁以上老人占比20%左右。次仁今年58岁,患有哮喘和关节炎。",
        headline="某村健康管理",
    )
    question = "How old is Ciren, the villager with asthma and arthritis?"
    extraction = extract_answer(question, hits, translations=["次仁", "哮喘", "关节炎", "岁"])
    assert extraction is not None
    assert extraction.highlight == "58岁"


def test_english_who_question_about_a_title_finds_the_person() -> None:
    hits = make_hits("某县县委书记次旦多吉表示,要办好“暖心工程”。")
    question = "What is the name of the party secretary of the county?"
    extraction = extract_answer(question, hits, translations=["县委书记", "书记"])
    assert extraction is not None
    assert extraction.highlight == "次旦多吉"


def test_english_how_many_needs_the_counted_thing_next_to_the_number() -> None:
    hits = make_hits("西宁某区成立培训班,为20余名下岗妇女提供就业培训。", headline="西宁就业")
    question = "How many medical staff has the Xining hospital trained?"
    translations = ["医护", "人员", "西宁", "医院", "培训"]
    extraction = extract_answer(question, hits, translations=translations)
    assert extraction is not None and extraction.highlight == "20余名"
    assert abstention_reason(question, extraction, hits) == (
        "the number does not count what was asked"
    )
    staffed = make_hits("西宁某医院培训中心已为30余名医护人员提供培训。", headline="西宁")
    extraction = extract_answer(question, staffed, translations=translations)
    assert not should_abstain(question, extraction, staffed)


def test_english_how_many_prefers_the_number_next_to_the_counted_thing() -> None:
    hits = make_hits(
        "全县12个乡镇均已接入远程平台。到目前为止,共完成60余场次视频问诊。",
        headline="某县 智慧医疗",
    )
    question = "How many video consultations has the county completed?"
    extraction = extract_answer(question, hits, translations=["视频", "问诊", "县"])
    assert extraction is not None and extraction.highlight == "60余场次"
    assert not should_abstain(question, extraction, hits)


def test_romanised_names_match_pinyin_of_the_story() -> None:
    assert romanised_names("How much did each person give in Hangzhou and Xining?") == [
        "hangzhou",
        "xining",
    ]
    assert romanised_names("What was Lhundrub county's budget?") == []  # not pinyin
    hits = make_hits("甲村第一书记捐款3000元。西宁某村村民各捐款5000元。")
    extraction = extract_answer("How much did each villager of Xining donate?", hits)
    assert extraction is not None
    assert extraction.highlight == "5000元"


def test_scene_setting_clause_counts_less_than_the_asking_clause() -> None:
    extraction = answer(
        "某村次仁摔伤了腿 项目给他装了个啥",
        "此外,某村服务对象次仁行动不便,近期又摔伤了腿。项目组联系了爱心商户,为老人上门安装扶手架。",
    )
    assert extraction.highlight is not None and "扶手架" in extraction.highlight


# --- headlines, topics, anchors ---------------------------------------------------------------


def test_kicker_headline_answers_where_the_body_does_not() -> None:
    extraction = answer(
        "洛桑乡是哪个县的",
        "洛桑乡卫生院组织医生进村送医。",
        headline="错那县洛桑乡 开展冬季送医活动",
    )
    assert extraction.highlight == "错那县"


def test_paraphrased_verb_anchors_on_an_earlier_question_word() -> None:
    extraction = answer(
        "那个合作社理事长以前是干啥的",
        "合作社立足实际发展养殖。该合作社充分发挥理事长作为返乡大学生的优势。",
        headline="某村合作社 带动增收",
    )
    assert extraction.highlight is not None
    assert "返乡大学生" in extraction.highlight


def test_codes_are_not_quantities_and_measured_nouns_need_their_unit() -> None:
    hits = make_hits("全市SO2、NO2等污染物浓度均达到二级标准,达标率98.5%。")
    question = "某市SO2年均浓度是多少"
    extraction = extract_answer(question, hits)
    assert extraction is None or extraction.highlight != "2"
    assert should_abstain(question, extraction, hits)


# --- abstention -------------------------------------------------------------------------------


def test_answerable_question_is_not_abstained() -> None:
    hits = make_hits("今年以来,某县已累计开展60余场次巡回义诊。", headline="某县巡回义诊")
    question = "某县义诊办了多少场"
    assert not should_abstain(question, extract_answer(question, hits), hits)


def test_abstain_when_the_counted_thing_is_missing() -> None:
    hits = make_hits("合作社今年分红共计30万元,入股群众120户。", headline="某村合作社分红")
    question = "某村合作社养了多少头猪"
    assert should_abstain(question, extract_answer(question, hits), hits)


def test_abstain_when_the_named_place_is_missing() -> None:
    hits = make_hits("某县工作组为牧民修建便民桥12座。", headline="某县工作组")
    question = "北岭县工作组帮牧民修了多少座桥"
    assert should_abstain(question, extract_answer(question, hits), hits)


def test_spaced_latin_title_is_found() -> None:
    hits = make_hits("《BLUE SKY》是日本漫画家山田太郎的漫画作品。")
    question = "《BLUE SKY》是谁的漫画作品"
    assert abstention_reason(question, extract_answer(question, hits), hits) is None


def test_abstention_reason_names_the_missing_place() -> None:
    hits = make_hits("某县工作组为牧民修建便民桥12座。", headline="某县工作组")
    question = "北岭县工作组帮牧民修了多少座桥"
    reason = abstention_reason(question, extract_answer(question, hits), hits)
    assert reason is not None and "北岭" in reason


def test_abstain_when_the_answers_story_is_about_another_place() -> None:
    hits = [
        *make_hits("某县视频问诊平台覆盖全县。", headline="某县 智慧医疗", file="a.txt"),
        *make_hits(
            "在党员医生帮助下,次仁患有的高血压得到控制。", headline="城关区 慢病管理", file="b.txt"
        ),
    ]
    question = "南山县视频问诊平台是谁捐建的"
    assert should_abstain(question, extract_answer(question, hits), hits)


def test_place_name_split_by_the_tagger_is_still_a_key_term() -> None:
    hits = make_hits("两位社区书记依次登台,讲治理举措。", headline="某街道 先锋讲坛")
    question = "吉崩岗社区志愿服务活动有多少人参加"
    reason = abstention_reason(question, extract_answer(question, hits), hits)
    assert reason is not None and "吉崩岗" in reason


def test_abstain_without_hits() -> None:
    assert should_abstain("某县义诊办了多少场", extract_answer("某县义诊办了多少场", []), [])


def test_question_without_content_gets_no_extraction() -> None:
    hits = make_hits("今年以来,某县已累计开展60余场次巡回义诊。")
    for question in ("谁", "多少", "How?"):
        assert extract_answer(question, hits) is None
        assert should_abstain(question, None, hits)


def test_odd_input_never_raises() -> None:
    hits = make_hits("今年以来,某县已累计开展60余场次巡回义诊。")
    for question in ("🙂🙂", "???", "", "某" * 5000):
        extraction = extract_answer(question, hits)
        should_abstain(question, extraction, hits)
