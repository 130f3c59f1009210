"""BM25 (bm25s) over jieba words and CJK bigrams, saved as bm25s's own plain directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.tokenize import tokenize


def build_bm25(texts: Sequence[str]) -> Any:
    import bm25s

    retriever = bm25s.BM25()
    tokens = [list(tokenize(t)) or [""] for t in texts]
    retriever.index(tokens, show_progress=False)
    return retriever


def save_bm25(retriever: Any, directory: Path) -> None:
    retriever.save(str(directory))


def load_bm25(directory: Path) -> Any:
    import bm25s

    return bm25s.BM25.load(str(directory))


def bm25_scores(retriever: Any, query: str) -> np.ndarray:
    """Scores for every document; all zeros when no query token is in the vocabulary."""
    vocab: dict[str, int] = retriever.vocab_dict
    tokens = [t for t in tokenize(query) if t in vocab]
    size = int(retriever.scores["num_docs"])
    if not tokens:
        return np.zeros(size, dtype=np.float32)
    return np.asarray(retriever.get_scores(tokens), dtype=np.float32)
