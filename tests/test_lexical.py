"""BM25 written with numpy equals bm25s's own index, and top-k equals the exhaustive ranking."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from index.analysis import BM25_TERMS, analyse_texts
from index.lexical import LexicalIndex, bm25_scores, build_bm25, save_bm25, write_bm25
from index.parallel import ShardPool
from index.tokenize import tokenize

WORDS = (
    "聂荣县 远程 会诊 医院 专家 牧民 草原 培训 合作社 教育 项目 投资 乡村 振兴 志愿 服务 "
    "社区 老人 医疗 救助 热线 2024年 90余场次 75% pm2.5 covid-19 Lhasa"
).split()


def corpus(size: int, seed: int = 3) -> list[str]:
    """Texts with repeated words, shared bigrams, numbers, Latin, an empty one."""
    rng = random.Random(seed)
    texts = ["".join(rng.choice(WORDS) for _ in range(rng.randint(2, 30))) for _ in range(size)]
    texts[5] = ""
    texts[7] = texts[8]  # equal documents tie
    return texts


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, LexicalIndex]:
    texts = corpus(400)
    root = tmp_path_factory.mktemp("bm25")
    reference = build_bm25(texts)
    with ShardPool(1) as pool:
        tokens = analyse_texts(texts, (BM25_TERMS,), None, pool)[BM25_TERMS]
    write_bm25(tokens.ids, tokens.offsets, tokens.terms, root / "ours", tokens.counts)
    return reference, LexicalIndex(root / "ours")


QUERIES = (
    "聂荣县远程会诊多少场",
    "医院专家培训",
    "社区老人",
    "2024年投资项目",
    "covid-19 pm2.5",
    "草原",
    "无关的词",
    "牧民合作社乡村振兴志愿服务热线医疗救助",
)


def test_numpy_build_scores_every_document_as_bm25s(indexes: tuple[object, LexicalIndex]) -> None:
    reference, ours = indexes
    for query in QUERIES:
        expected = bm25_scores(reference, query)
        assert np.array_equal(ours.all_scores(ours.query_ids(query)), expected), query


def test_top_k_equals_the_exhaustive_ranking(indexes: tuple[object, LexicalIndex]) -> None:
    reference, ours = indexes
    for query in QUERIES:
        every = bm25_scores(reference, query)
        ids = ours.query_ids(query)
        for k in (1, 3, 30, 1000):
            order = np.argsort(-every, kind="stable")[:k]
            order = order[every[order] > 0]
            rows, scores, extra = ours.top_k(ids, k, also=np.array([0, 5, 7]))
            assert rows.tolist() == order.tolist(), (query, k)
            assert np.array_equal(scores, every[order])
            assert np.array_equal(extra, every[[0, 5, 7]])
            assert np.array_equal(ours.scores_for(ids, order), every[order])


def test_the_accumulator_is_clean_between_queries(indexes: tuple[object, LexicalIndex]) -> None:
    _, ours = indexes
    ids = ours.query_ids("医院专家培训")
    first = ours.top_k(ids, 10)
    ours.top_k(ours.query_ids("草原牧民"), 10)
    again = ours.top_k(ids, 10)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_a_directory_bm25s_saved_is_served_too(tmp_path: Path) -> None:
    texts = corpus(60, seed=9)
    save_bm25(build_bm25(texts), tmp_path / "bm25s")
    served = LexicalIndex(tmp_path / "bm25s")
    every = bm25_scores(build_bm25(texts), "医院专家")
    rows, _, _ = served.top_k(served.query_ids("医院专家"), 5)
    assert rows.tolist() == np.argsort(-every, kind="stable")[: len(rows)].tolist()


def test_query_tokens_repeat_as_bm25s_counts_them(indexes: tuple[object, LexicalIndex]) -> None:
    _, ours = indexes
    assert len(ours.query_ids("聂荣县")) == len([t for t in tokenize("聂荣县") if t in ours.vocab])
