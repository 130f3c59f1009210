"""Chunks follow sentence ends, cite their paragraph and keep stable ids."""

from __future__ import annotations

from index.chunking import chunk_article, chunk_id, retrieval_text
from index.models import Article, Paragraph


def _article(*texts: str) -> Article:
    return Article(
        file="a.txt",
        index=0,
        headline="聂荣县:党建搭台强根基",
        paragraphs=tuple(Paragraph(number=n + 3, text=t) for n, t in enumerate(texts)),
    )


def test_long_paragraph_splits_on_sentence_ends() -> None:
    sentence = "全县累计完成远程会诊90余场次,群众少跑腿。"
    article = _article(sentence * 12)
    chunks = chunk_article(article, chunk_size=60, chunk_overlap=0)
    assert len(chunks) > 1
    assert all(len(c.text) <= 60 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)


def test_every_chunk_knows_headline_paragraph_and_position() -> None:
    article = _article("第一段。", "第二段内容。")
    chunks = chunk_article(article, chunk_size=200, chunk_overlap=20)
    assert [(c.paragraph, c.position) for c in chunks] == [(3, 0), (4, 1)]
    assert {c.headline for c in chunks} == {"聂荣县:党建搭台强根基"}


def test_chunks_never_cross_paragraphs() -> None:
    chunks = chunk_article(_article("甲。" * 5, "乙。" * 5), chunk_size=200, chunk_overlap=20)
    assert [c.text for c in chunks] == ["甲。" * 5, "乙。" * 5]


def test_ids_are_stable_short_and_content_derived() -> None:
    first = chunk_article(_article("第一段。"), 200, 20)[0]
    again = chunk_article(_article("第一段。"), 200, 20)[0]
    other = chunk_article(_article("第二段。"), 200, 20)[0]
    assert first.id == again.id != other.id
    assert len(("src:" + first.id).encode()) <= 64
    assert chunk_id("a.txt", 0, 0, "x") != chunk_id("b.txt", 0, 0, "x")


def test_retrieval_text_carries_headline_and_lead() -> None:
    chunk = chunk_article(_article("全县10个联村党委开展试点。"), 200, 20)[0]
    text = retrieval_text(chunk, lead="那曲市聂荣县")
    assert text.startswith("聂荣县:党建搭台强根基 那曲市聂荣县\n")
    assert text.endswith(chunk.text)


def test_retrieval_text_reads_spaces_of_any_width_as_one_while_the_chunk_keeps_them() -> None:
    chunk = chunk_article(_article("全县10个\u3000联村党委，\u00a0开展  试点。"), 200, 20)[0]
    assert chunk.text == "全县10个\u3000联村党委，\u00a0开展  试点。"
    assert retrieval_text(chunk).endswith("\n全县10个 联村党委， 开展 试点。")
