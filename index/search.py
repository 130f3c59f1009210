"""Hybrid retrieval: dense (FAISS) + BM25 over chunks, lifted by BM25 over whole articles.

The article score carries facts a chunk does not repeat: a chunk that says only 全县 still
belongs to the article about 聂荣县. Only the candidates are scored: the dense top hits and
the BM25 top hits (found without scoring every chunk, `LexicalIndex.top_k`), and the articles
they belong to, so a query costs about the same in a five-story index and in an archive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from index.corpus import Corpus
from index.crosslingual import CrossLingualLexicon
from index.dense import search_dense
from index.embedding import Embedder
from index.lexical import Lexical
from index.models import Chunk, Hit


@dataclass(frozen=True)
class FusionWeights:
    """Weights of the three normalised signals; measured on the dev sets (see README)."""

    dense: float = 0.3
    lexical: float = 0.5
    article: float = 0.2


class Searcher(Protocol):
    """What an engine needs from retrieval, whichever backend holds the generation."""

    embedder: Embedder
    lexicon: CrossLingualLexicon

    def search(self, question: str, k: int, candidates: int = 30) -> list[Hit]: ...

    def chunk(self, chunk_id: str) -> Chunk | None: ...


class HybridSearcher:
    """Ranks chunks for a question; read-only after construction, so threads may share it."""

    def __init__(
        self,
        corpus: Corpus,
        chunk_articles: np.ndarray,
        dense_index: Any,
        chunk_lexical: Lexical,
        article_lexical: Lexical,
        embedder: Embedder,
        lexicon: CrossLingualLexicon | None = None,
        weights: FusionWeights | None = None,
    ) -> None:
        self.corpus = corpus
        self._chunk_articles = chunk_articles  # chunk row -> article row
        self._dense = dense_index
        self._chunk_lexical = chunk_lexical
        self._article_lexical = article_lexical
        self.embedder = embedder
        self.lexicon = lexicon or CrossLingualLexicon()
        self.weights = weights or FusionWeights()

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self.corpus.chunk(chunk_id)

    def search(self, question: str, k: int, candidates: int = 30) -> list[Hit]:
        if not len(self.corpus):
            return []
        query = self.embedder.embed_queries([question])[0]
        dense_scores, dense_ids = search_dense(self._dense, query, candidates)
        lexical_query = " ".join([question, *self.lexicon.expand(question)])
        ranked = self.rank(dense_scores, dense_ids, lexical_query, candidates)
        return distinct_hits(self.corpus, ranked, k)

    def rank(
        self,
        dense_scores: np.ndarray,
        dense_ids: np.ndarray,
        lexical_query: str,
        candidates: int,
    ) -> list[Ranked]:
        """The fused ranking of the dense hits and the BM25 top `candidates`: the same as
        `fuse_weighted` over every chunk's and article's score, from the candidates' alone."""
        chunk_terms = self._chunk_lexical.query_ids(lexical_query)
        lexical_top, top_scores, dense_lexical = self._chunk_lexical.top_k(
            chunk_terms, candidates, also=dense_ids
        )
        pool = list(dict.fromkeys([*dense_ids.tolist(), *lexical_top.tolist()]))
        rows = np.array(pool, dtype=np.int64)
        by_row = dict(zip(dense_ids.tolist(), dense_lexical.tolist(), strict=True))
        by_row.update(zip(lexical_top.tolist(), top_scores.tolist(), strict=True))
        lexical = np.array([by_row[row] for row in pool], dtype=np.float32)
        articles, of_row = np.unique(self._chunk_articles[rows], return_inverse=True)
        article_terms = self._article_lexical.query_ids(lexical_query)
        article = self._article_lexical.scores_for(article_terms, articles)[of_row]
        return fuse_pool(pool, dense_scores, dense_ids, lexical, article, self.weights)


@dataclass(frozen=True)
class Ranked:
    """A fused candidate: its chunk row, the fused score and the parts it was fused from."""

    row: int
    score: float
    dense: float
    lexical: float


def fuse_weighted(
    dense_scores: np.ndarray,
    dense_ids: np.ndarray,
    lexical_all: np.ndarray,
    article_by_chunk: np.ndarray,
    candidates: int,
    weights: FusionWeights,
) -> list[Ranked]:
    """Pool the dense top hits and the lexical top hits, normalise each signal and add them
    with `weights`; best first. `lexical_all` and `article_by_chunk` hold one score per row
    (the exhaustive form of `HybridSearcher.rank`; equal scores rank by row)."""
    lexical_top = np.argsort(-lexical_all, kind="stable")[:candidates]
    lexical_top = lexical_top[lexical_all[lexical_top] > 0]
    pool = list(dict.fromkeys([*dense_ids.tolist(), *lexical_top.tolist()]))
    return fuse_pool(
        pool,
        dense_scores,
        dense_ids,
        lexical_all[pool],
        article_by_chunk[pool],
        weights,
    )


def fuse_pool(
    pool: Sequence[int],
    dense_scores: np.ndarray,
    dense_ids: np.ndarray,
    lexical: np.ndarray,
    article: np.ndarray,
    weights: FusionWeights,
) -> list[Ranked]:
    """Fuse the pooled rows' signals: dense (rows the dense search missed get its lowest
    score), chunk BM25 and article BM25, each normalised over the pool; best first."""
    dense_by_row = dict(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True))
    floor = float(dense_scores.min()) if len(dense_scores) else 0.0
    dense = np.array([dense_by_row.get(row, floor) for row in pool], dtype=np.float32)
    fused = (
        weights.dense * _min_max(dense)
        + weights.lexical * _by_max(lexical)
        + weights.article * _by_max(article)
    )
    order = np.argsort(-fused, kind="stable")
    return [
        Ranked(int(pool[i]), float(fused[i]), float(dense[i]), float(lexical[i])) for i in order
    ]


def distinct_hits(chunks: Sequence[Chunk] | Corpus, ranked: Sequence[Ranked], k: int) -> list[Hit]:
    """The first k ranked chunks, skipping repeated texts (a repeated paragraph would waste a
    result slot)."""
    hits: list[Hit] = []
    seen_texts: set[str] = set()
    for candidate in ranked:
        chunk = chunks[candidate.row]
        if chunk.text in seen_texts:
            continue
        seen_texts.add(chunk.text)
        hits.append(
            Hit(
                chunk=chunk,
                score=candidate.score,
                dense_score=candidate.dense,
                lexical_score=candidate.lexical,
            )
        )
        if len(hits) >= k:
            break
    return hits


def _min_max(values: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return values
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values)
    return (values - low) / (high - low)


def _by_max(values: np.ndarray) -> np.ndarray:
    high = float(values.max()) if len(values) else 0.0
    if high <= 0:
        return np.zeros_like(values)
    return values / high
