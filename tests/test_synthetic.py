"""Synthetic pages for the cleaning benchmark: big, news-like, reproducible, not repetitive."""

from __future__ import annotations

import pytest

from index.cleaning import split_articles
from index.models import Page
from index.synthetic import block_texts, is_body, synthetic_page

LAYOUT = ("# 护航百姓健康", "本报记者 杨子彦", "▲图为义诊现场。")
BODY = (
    "近日,西藏自治区人民医院党委组织的医疗指导小组,来到双湖县人民医院,围绕药品供应、"
    "设备运行等关键环节开展现场指导工作。截至目前,已累计完成90余场次远程服务。",
    "社区党支部探索出“党建+网格”的服务模式,将辖区划分为11个综合网格,33个专属网格;"
    "每个网格配备1名党员中心户,定期上门走访,给老年人量血压、测血糖。",
)
SOURCE = Page(file="s.txt", text="\n\n".join((*LAYOUT, *BODY)), encoding="utf-8", sha256="")


def test_reaches_the_size_asked_for_in_utf8_bytes() -> None:
    page = synthetic_page([SOURCE], 50_000)
    assert 50_000 <= len(page.text.encode("utf-8")) < 52_000


def test_same_seed_same_page_other_seed_other_page() -> None:
    assert synthetic_page([SOURCE], 5_000, seed=1) == synthetic_page([SOURCE], 5_000, seed=1)
    assert synthetic_page([SOURCE], 5_000, seed=1) != synthetic_page([SOURCE], 5_000, seed=2)


def test_layout_is_kept_and_body_paragraphs_are_new() -> None:
    blocks = block_texts(synthetic_page([SOURCE], 20_000).text)
    assert blocks[: len(LAYOUT)] == list(LAYOUT)
    body = [b for b in blocks if is_body(b)]
    assert not set(body) & set(BODY)
    assert len(set(body)) > 0.9 * len(body)  # a few printed twice, as on real pages


def test_cleaning_keeps_most_of_the_text() -> None:
    page = synthetic_page([SOURCE], 30_000)
    kept = sum(len(p.text) for a in split_articles(page) for p in a.paragraphs)
    assert kept > 0.6 * len(page.text)


def test_pages_without_body_text_are_refused() -> None:
    with pytest.raises(ValueError, match="too little body text"):
        synthetic_page(
            [Page(file="h.txt", text="标题\n\n本报记者 甲", encoding="utf-8", sha256="")], 100
        )
