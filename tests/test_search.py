"""Ranking from the candidates alone equals ranking with every chunk's and article's score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.bench import LATENCY_QUESTIONS
from index.dense import search_dense
from index.search import HybridSearcher, fuse_weighted
from index.service import Engine, load_engine
from index.settings import Settings
from tests.fakes import HashingEmbedder

SHARED_QA = Path(__file__).resolve().parents[2] / "shared" / "eval" / "stories_qa_dev.jsonl"
# The bench's latency questions, and two that match almost everything.
QUESTIONS = (*LATENCY_QUESTIONS, "全县", "的")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, stories_dir: Path) -> Engine:
    from index.build import build_generation

    root = tmp_path_factory.mktemp("search")
    settings = Settings(docs_dir=stories_dir, index_dir=root / "index", cache_dir=root / "cache")
    build_generation(settings, embedder=HashingEmbedder())
    return load_engine(settings, embedder=HashingEmbedder())


def test_candidate_ranking_equals_the_exhaustive_one(engine: Engine) -> None:
    searcher = engine._searcher
    assert isinstance(searcher, HybridSearcher)
    questions = list(QUESTIONS)
    if SHARED_QA.is_file():
        lines = SHARED_QA.read_text("utf-8").splitlines()
        questions += [json.loads(line)["question"] for line in lines if line.strip()]
    chunk_lexical, article_lexical = searcher._chunk_lexical, searcher._article_lexical
    for question in questions:
        lexical_query = " ".join([question, *searcher.lexicon.expand(question)])
        for candidates in (5, 30, 120):
            vector = searcher.embedder.embed_queries([question])[0]
            dense_scores, dense_ids = search_dense(searcher._dense, vector, candidates)
            every = chunk_lexical.all_scores(chunk_lexical.query_ids(lexical_query))
            articles = article_lexical.all_scores(article_lexical.query_ids(lexical_query))
            expected = fuse_weighted(
                dense_scores,
                dense_ids,
                every,
                articles[np.asarray(searcher._chunk_articles)],
                candidates,
                searcher.weights,
            )
            got = searcher.rank(dense_scores, dense_ids, lexical_query, candidates)
            assert got == expected, (question, candidates)
