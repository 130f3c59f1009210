"""A generation served as a base segment and a delta segment beside it.

A daily build of an archive adds a day's stories to hundreds of thousands. Rewriting every
index for that costs most of a cold build: every BM25 score moves with the document count and
the average length. So such a build hardlinks the last full build (the base) and writes only
the new stories as a small generation of their own in `delta/`; these classes serve the two
as one, rows of the delta following the base's. BM25 stays one archive's: the delta's scores
were written with the archive's document frequencies and the base's average length, and the
base's stored scores are rescaled per query term to the archive's idf (the average length is
the base's until the next full build, which merges the two).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from index.corpus import ChunkRows, MappedCorpus
from index.lexical import LexicalIndex, Rows, Scores, Weights, lucene_idf
from index.models import Article, Chunk
from index.store import SEGMENTS as SEGMENTS
from index.tokenize import tokenize

DELTA_DIR = "delta"


@dataclass(frozen=True)
class SegmentQuery:
    """A query's tokens as each segment numbers them; the base's with their idf correction."""

    base: npt.NDArray[np.int64]
    weights: Weights
    delta: npt.NDArray[np.int64]


class SegmentedLexical:
    """BM25 over a base index and a delta index as one: `LexicalIndex`'s query interface."""

    def __init__(self, base: LexicalIndex, delta: LexicalIndex) -> None:
        self._base = base
        self._delta = delta
        self.num_docs = base.num_docs + delta.num_docs
        self._base_df = base.document_frequency()
        self._delta_df = delta.document_frequency()

    def query_ids(self, query: str) -> SegmentQuery:
        base_ids: list[int] = []
        delta_of_base: list[int] = []  # the delta's id of each base token (-1: not there)
        delta_ids: list[int] = []
        for token in tokenize(query):
            base_id, delta_id = self._base.term_id(token), self._delta.term_id(token)
            if base_id >= 0:
                base_ids.append(base_id)
                delta_of_base.append(delta_id)
            if delta_id >= 0:
                delta_ids.append(delta_id)
        base = np.array(base_ids, dtype=np.int64)
        in_delta = np.array(delta_of_base, dtype=np.int64)
        # Each base token's document frequency in the whole archive: the base's and the delta's.
        df_base = self._base_df[base]
        df_delta = np.where(in_delta >= 0, self._delta_df[np.maximum(in_delta, 0)], 0)
        whole = lucene_idf(df_base + df_delta, self.num_docs).astype(np.float64)
        alone = lucene_idf(df_base, self._base.num_docs).astype(np.float64)
        weights = np.divide(whole, alone, out=np.ones_like(whole), where=alone > 0)
        return SegmentQuery(base, weights, np.array(delta_ids, dtype=np.int64))

    def top_k(
        self, query: SegmentQuery, k: int, also: Rows | None = None
    ) -> tuple[Rows, Scores, Scores]:
        """The k best rows of both segments (each segment's k best hold them), ties by row."""
        split = self._base.num_docs
        extra = np.zeros(0, dtype=np.int64) if also is None else np.asarray(also, np.int64)
        in_base = extra < split
        rows_b, scores_b, also_b = self._base.top_k(
            query.base, k, extra[in_base], weights=query.weights
        )
        rows_d, scores_d, also_d = self._delta.top_k(query.delta, k, extra[~in_base] - split)
        rows = np.concatenate([rows_b, rows_d + split])
        scores = np.concatenate([scores_b, scores_d]).astype(np.float32)
        best = np.lexsort((rows, -scores))[:k]
        extra_scores = np.zeros(len(extra), dtype=np.float32)
        extra_scores[in_base] = also_b
        extra_scores[~in_base] = also_d
        return rows[best], scores[best], extra_scores

    def scores_for(self, query: SegmentQuery, rows: Rows) -> Scores:
        rows = np.asarray(rows, dtype=np.int64)
        split = self._base.num_docs
        in_base = rows < split
        out = np.zeros(len(rows), dtype=np.float32)
        out[in_base] = self._base.scores_for(query.base, rows[in_base], weights=query.weights)
        out[~in_base] = self._delta.scores_for(query.delta, rows[~in_base] - split)
        return out


class SegmentedDense:
    """Two FAISS indexes searched as one (faiss's `search` and `ntotal`, all `search_dense`
    uses): the delta's rows follow the base's."""

    def __init__(self, base: Any, delta: Any) -> None:
        self._base = base
        self._delta = delta
        self.ntotal = int(base.ntotal) + int(delta.ntotal)

    def search(self, queries: npt.NDArray[np.float32], k: int) -> tuple[np.ndarray, np.ndarray]:
        parts = []
        offset = 0
        for index in (self._base, self._delta):
            if index.ntotal:
                scores, ids = index.search(queries, min(k, int(index.ntotal)))
                parts.append((scores[0], np.where(ids[0] >= 0, ids[0] + offset, -1)))
            offset += int(index.ntotal)
        scores = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        order = np.argsort(-np.where(ids >= 0, scores, -np.inf), kind="stable")[:k]
        return scores[order][None, :], ids[order][None, :]


class SegmentedCorpus(ChunkRows):
    """The base's chunks and articles, then the delta's (the `Corpus` protocol)."""

    def __init__(self, base: MappedCorpus, delta: MappedCorpus) -> None:
        self._base = base
        self._delta = delta
        self._split = len(base)
        self.chunk_articles = np.concatenate(
            [
                np.asarray(base.chunk_articles, dtype=np.int64),
                np.asarray(delta.chunk_articles, dtype=np.int64) + base.article_count(),
            ]
        )

    def __len__(self) -> int:
        return self._split + len(self._delta)

    def chunk_at(self, row: int) -> Chunk:
        return self._base[row] if row < self._split else self._delta[row - self._split]

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._delta.chunk(chunk_id) or self._base.chunk(chunk_id)

    def article(self, file: str, index: int) -> Article | None:
        return self._delta.article(file, index) or self._base.article(file, index)

    def article_chunks(self, file: str, index: int) -> tuple[Chunk, ...]:
        return self._delta.article_chunks(file, index) or self._base.article_chunks(file, index)

    def articles(self) -> Iterator[Article]:
        return chain(self._base.articles(), self._delta.articles())
