"""BM25 written with numpy equals bm25s's own index, and top-k equals the exhaustive ranking."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.analysis import BM25_TERMS, analyse_texts
from index.build import build_generation
from index.errors import IndexInvalidError
from index.generation import CHUNK_BM25_DIR
from index.lexical import (
    INDICES_FILE,
    INDPTR_FILE,
    VOCAB_FILE,
    LexicalIndex,
    bm25_scores,
    build_bm25,
    save_bm25,
    write_bm25,
)
from index.parallel import ShardPool
from index.service import load_generation
from index.settings import Settings
from index.store import MANIFEST, file_sha256
from index.tokenize import tokenize
from tests.fakes import HashingEmbedder

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


@pytest.fixture(scope="module")
def generation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    """A small generation of real BM25 files (hashed vectors), to damage copies of."""
    root = tmp_path_factory.mktemp("generation")
    docs = root / "stories"
    docs.mkdir()
    for n, text in enumerate(corpus(12, seed=5)):
        (docs / f"{n}.txt").write_text(f"# 第{n}篇\n\n{text}。\n", "utf-8")
    settings = Settings(docs_dir=docs, index_dir=root / "index", cache_dir=root / "cache")
    built = build_generation(settings, embedder=HashingEmbedder())
    return built.path, settings


def rewritten(generation: Path, tmp_path: Path, file: str, change: Any) -> Path:
    """A copy of the generation with `file` of its chunks' BM25 changed and the manifest's
    checksum of it updated, so that only a check of the values themselves can refuse it."""
    copy = tmp_path / generation.name
    shutil.copytree(generation, copy)
    path = copy / CHUNK_BM25_DIR / file
    path.unlink()  # a new file: the generation's own may be a read-only hardlink
    if file == VOCAB_FILE:
        path.write_text(json.dumps(change, ensure_ascii=False), "utf-8")
    else:
        np.save(path, change)
    manifest = json.loads((copy / MANIFEST).read_text("utf-8"))
    manifest["artifacts"][f"{CHUNK_BM25_DIR}/{file}"] = file_sha256(path)
    (copy / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return copy


def test_postings_out_of_range_refuse_the_generation_at_load(
    generation: tuple[Path, Settings], tmp_path: Path
) -> None:
    path, settings = generation
    bm25 = path / CHUNK_BM25_DIR
    engine = load_generation(path, settings, embedder=HashingEmbedder())
    assert engine.manifest.chunks > 0  # the undamaged generation loads
    indices, indptr = np.load(bm25 / INDICES_FILE), np.load(bm25 / INDPTR_FILE)
    vocab = json.loads((bm25 / VOCAB_FILE).read_text("utf-8"))
    past_end = indices.copy()
    past_end[-1] = engine.manifest.chunks + 1000
    negative = indices.copy()
    negative[0] = -1
    backwards = indptr.copy()
    backwards[1], backwards[2] = backwards[2], backwards[1] - 1
    damaged = {
        "past the last document": (INDICES_FILE, past_end),
        "a negative document": (INDICES_FILE, negative),
        "a list that runs backwards": (INDPTR_FILE, backwards),
        "a term past the lists": (VOCAB_FILE, {**vocab, "聂荣县": len(indptr) + 5}),
    }
    for n, (case, (file, change)) in enumerate(damaged.items()):
        copy = rewritten(path, tmp_path / str(n), file, change)
        with pytest.raises(IndexInvalidError, match=f"{CHUNK_BM25_DIR}/{file}"):
            load_generation(copy, settings, embedder=HashingEmbedder())
            pytest.fail(f"{case}: loaded")
