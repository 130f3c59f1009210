"""Pure parts of conversations and citations: memory, follow-up detection, batch lines, reply
lookup, inline results, citation wording, column labels, the follow-up scorer."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.followup import AnswerTopics, cache_key, cited_chunk
from bot.inline import inline_results
from bot.render import answer_blocks, citation, context_blocks, to_plain
from index.batch import BatchQuestion, batch_question, failed_answer
from index.cleaning import Block, is_column_label
from index.conversation import Conversations
from index.followups import Pair, Turn, score
from index.models import (
    AnswerSpan,
    Paragraph,
    Passage,
    PassageContext,
    QAResult,
    Source,
    Topic,
)
from index.render import render_text
from index.topic import CorpusWords, is_topical, topic_words

TOPIC = Topic("a.txt", 2, "普村 举行分红仪式", ("普村",))
UNTITLED = Passage("c1", "图为体检现场。", "b.txt", "", 23, 0.5)


def result(topic: Topic | None = TOPIC, context: Topic | None = None) -> QAResult:
    span = AnswerSpan("此次分红共计48.99万元。", "48.99万元", Source("a.txt", "", 46))
    return QAResult("q", False, span, (UNTITLED,), context=context, topic=topic)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_memory_keeps_the_last_topic_until_it_is_idle_too_long() -> None:
    clock = Clock()
    memory = Conversations(idle_s=600, clock=clock)
    memory.remember("chat", result())
    clock.now = 599
    assert memory.recall("chat") == TOPIC
    clock.now = 1200
    assert memory.recall("chat") is None and len(memory) == 0


def test_memory_is_bounded_forgets_on_new_and_on_an_answer_without_topic() -> None:
    memory = Conversations(max_conversations=2)
    for key in ("a", "b", "c"):
        memory.remember(key, result())
    assert memory.recall("a") is None and memory.recall("c") == TOPIC
    assert memory.forget("c") and not memory.forget("c")
    memory.remember("b", result(topic=None))
    assert memory.recall("b") is None


def test_proper_names_and_rare_nouns_name_a_topic_common_nouns_do_not() -> None:
    def share(word: str) -> float:
        return {"群众": 0.6, "申请书": 0.02}.get(word, 0.0)

    assert is_topical("白朗县", "ns", share)
    assert is_topical("样板乡", "x", share)  # a named place, whatever the tagger says
    assert is_topical("申请书", "n", share)
    assert not is_topical("群众", "n", share)
    assert not is_topical("开到", "v", share)
    assert not is_topical("钱", "n", share)


def test_follow_ups_name_no_topic_and_new_questions_do() -> None:
    corpus = CorpusWords(["普村合作社分红,成员工资", "拉日铁路排查,成员", "成员"] * 10)
    assert topic_words("建了几个", corpus) == ()
    assert topic_words("那开到哪天", corpus) == ()
    assert topic_words("他们的成员有多少", corpus) == ()
    assert "白朗县" in topic_words("白朗县办实事多少件", corpus)
    assert topic_words("How many did they build?", corpus) == ()
    assert topic_words("How many consultations in Nierong?", corpus) == ("Nierong",)


def test_batch_lines_are_json_with_a_chat_or_plain_questions() -> None:
    assert batch_question('{"question": "建了几个", "chat": 7}') == BatchQuestion("建了几个", "7")
    assert batch_question('{"question": "q"}') == BatchQuestion("q", None)
    assert batch_question("聂荣县远程会诊多少场") == BatchQuestion("聂荣县远程会诊多少场")
    assert batch_question("{broken").question == "{broken"
    assert failed_answer("x", "why")["context"] is None


def test_cache_keys_differ_by_context_and_reply_lookup_reads_the_source_button() -> None:
    assert cache_key("q", None) == "q"
    assert cache_key("q", TOPIC) != cache_key("q", Topic("a.txt", 3, "", ("普村",)))
    assert cache_key("q", TOPIC) != cache_key("q", Topic("a.txt", 2, "", ("普村",), reply=True))
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("更多", callback_data="more:3")],
            [InlineKeyboardButton("原文 1", callback_data="src:abc123")],
        ]
    )
    message = Message.de_json(
        {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "x"}, None
    )
    assert message is not None and cited_chunk(message) is None
    with_markup = Message.de_json(
        {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "text": "x",
            "reply_markup": markup.to_dict(),
        },
        None,
    )
    assert with_markup is not None and cited_chunk(with_markup) == "abc123"


def test_answer_topics_are_bounded_and_always_reply_scoped() -> None:
    topics = AnswerTopics(size=1)
    topics.remember((1, 1), TOPIC)
    topics.remember((1, 2), TOPIC)
    assert topics.get((1, 1)) is None
    remembered = topics.get((1, 2))
    assert remembered is not None and remembered.reply


def test_citations_never_show_an_empty_title() -> None:
    assert citation("", "b.txt", 23) == "b.txt · ¶23"
    assert citation("标题", "b.txt", 23) == "《标题》 · b.txt · ¶23"
    plain = to_plain(answer_blocks(result(), "zh"))
    assert "《》" not in plain and "—— a.txt · ¶46" in plain and "1. b.txt · ¶23" in plain
    context = PassageContext("c1", "b.txt", "", (Paragraph(23, "图为体检现场。"),), 23)
    assert "《》" not in to_plain(context_blocks(context))
    assert "《》" not in render_text(result())


def test_a_carried_context_is_said_before_the_answer() -> None:
    plain = to_plain(answer_blocks(result(context=TOPIC), "zh"))
    assert plain.startswith("（接上文：《普村 举行分红仪式》）")
    untitled = to_plain(answer_blocks(result(context=Topic("b.txt", 0, "")), "en"))
    assert untitled.startswith("(Following on from: b.txt)")
    assert render_text(result(context=TOPIC)).startswith("（接上文：《普村 举行分红仪式》）")
    assert result(context=TOPIC).to_json()["context"] == {
        "article": "普村 举行分红仪式",
        "file": "a.txt",
    }
    assert result().to_json()["context"] is None


def test_inline_results_answer_first_then_passages_at_most_three() -> None:
    passages = tuple(
        Passage(f"c{n}", f"段{n}", "b.txt", "", n + 20, 1.0, article_paragraph=n)
        for n in range(1, 6)
    )
    answered = QAResult(
        "q", False, AnswerSpan("共计48.99万元。", "48.99万元", Source("b.txt", "", 21, 1)), passages
    )
    results = inline_results(answered, "zh")
    # Readers' citations: no file name; the quoted passage (c1) is not offered again.
    assert [r.title for r in results] == ["48.99万元", "无标题报道 · 第2段", "无标题报道 · 第3段"]
    assert len({r.id for r in results}) == 3
    content = results[0].input_message_content
    assert "<b>48.99万元</b>" in content.message_text  # type: ignore[union-attr]
    missed = inline_results(QAResult("q", True, None, passages[:1]), "en")
    assert [r.title for r in missed] == ["No answer found"]


def test_a_lone_short_heading_unrelated_to_its_story_is_a_column_label() -> None:
    body = "近日,苏州市立医院8名专家赴林周县人民医院开展帮扶。" * 5
    assert is_column_label((Block(1, "民生焦点"),), body)
    assert not is_column_label((Block(1, "显担当 作表率"),), body)  # a parallel headline
    assert not is_column_label((Block(1, "林周帮扶"),), body)  # it names the story
    assert not is_column_label((Block(1, "时讯快递"), Block(2, "达孜区工商联")), body)
    assert not is_column_label((), body)
    assert not is_column_label((Block(1, "民生焦点"),), body[:40])  # too little text to judge


@dataclass
class ScriptedEngine:
    """Carries a context only into questions that start with 那, like a follow-up."""

    asked: list[tuple[str, Topic | None]] = field(default_factory=list)

    def answer(
        self, question: str, within_file: str | None = None, *, context: Topic | None = None
    ) -> QAResult:
        self.asked.append((question, context))
        carried = context if context and (context.reply or question.startswith("那")) else None
        text = "甲乙" if carried or "普村" in question else "丙"
        span = AnswerSpan(text, None, Source("a.txt", "", 1))
        return QAResult(question, False, span, context=carried, topic=TOPIC)


def test_the_scorer_counts_second_turns_and_carried_topic_switches() -> None:
    pairs = [
        Pair("f", "elliptical", Turn("普村分红多少", ("甲",)), Turn("那呢", ("乙",)), True),
        Pair("s", "switch", Turn("普村分红多少", ("甲",)), Turn("那铁路呢", ("丙",)), False),
        Pair("r", "reply", Turn("普村分红多少", ("甲",)), Turn("工资", ("乙",)), True),
    ]
    engine = ScriptedEngine()
    report = score(engine, pairs)
    assert [o.second_ok for o in report.outcomes] == [True, False, True]
    assert report.switches_carried == 1
    assert engine.asked[-1][1] is not None and engine.asked[-1][1].reply
    assert "miss s (switch)" in report.describe()
