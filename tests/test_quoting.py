"""Quoting an answer: whole sentences around the span, from the paragraph the chunk was cut
from."""

from __future__ import annotations

from index.quoting import in_paragraph, quote_span, split_sentences


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


def span_of(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


LONG_A = "截至目前,聂荣县已累计完成90余场次远程服务,群众在家门口就能看上专家号,少跑了许多冤枉路。"
LONG_B = "县医院还派出医生下乡巡诊,把药品和健康知识送到牧民家中,受到当地群众的普遍欢迎和好评。"


def test_a_long_sentence_is_quoted_alone() -> None:
    text = LONG_A + LONG_B
    quote, highlight = quote_span(text, *span_of(text, "90余场次"))
    assert (quote, highlight) == (LONG_A, "90余场次")


def test_a_semicolon_does_not_end_the_quote() -> None:
    text = (
        "远程会诊已开展90余场次;群众在家门口就能看上专家号,少跑了许多冤枉路,也省下了路费。" + LONG_B
    )
    quote, _ = quote_span(text, *span_of(text, "90余场次"))
    assert quote == text[: text.index(LONG_B)]


def test_a_short_sentence_takes_the_next_one_of_its_line() -> None:
    text = (
        LONG_A + "诊室设在二楼。病人先在一楼挂号,再由护士带到二楼的诊室,等候专家在屏幕另一端问诊。"
    )
    quote, _ = quote_span(text, *span_of(text, "二楼"))
    assert (
        quote == "诊室设在二楼。病人先在一楼挂号,再由护士带到二楼的诊室,等候专家在屏幕另一端问诊。"
    )


def test_a_short_last_sentence_takes_the_one_before() -> None:
    text = LONG_A + "诊室设在二楼。\n" + LONG_B
    quote, _ = quote_span(text, *span_of(text, "二楼"))
    assert quote == LONG_A + "诊室设在二楼。"


def test_a_quote_never_passes_its_limit_and_keeps_the_span() -> None:
    text = "甲" * 500 + "90余场次" + "乙" * 500 + "。"
    quote, highlight = quote_span(text, *span_of(text, "90余场次"), max_chars=120)
    assert len(quote) == 120
    assert highlight in quote


def test_a_chunk_span_maps_into_its_paragraph() -> None:
    paragraph = LONG_A + LONG_B
    chunk = paragraph[20:70]
    start, end = span_of(chunk, "群众")
    assert in_paragraph(paragraph, chunk, start, end) == (paragraph, 20 + start, 20 + end)
    assert in_paragraph("别的段落。", chunk, start, end) == (chunk, start, end)
    assert in_paragraph(None, chunk, start, end) == (chunk, start, end)
