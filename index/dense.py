"""FAISS over normalised vectors: exact inner product for small corpora, IVF above a threshold."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Vectors

FLAT = "flat-ip"


def choose_index_type(count: int, ann_threshold: int) -> str:
    """Exact search until it gets slow; then IVF with about 4·√n lists and 8-bit scalar codes."""
    if count < ann_threshold:
        return FLAT
    nlist = 1 << round(math.log2(4 * math.sqrt(count)))
    return f"IVF{nlist},SQ8"


def build_dense_index(
    vectors: Vectors, index_type: str, seed: int = 1234, trained: Any | None = None
) -> Any:
    """The index of `vectors`; IVF is trained on a sample of them, unless `trained` (an index
    of the same type, e.g. the previous generation's) lends its centroids."""
    import faiss

    dimension = vectors.shape[1]
    index: Any
    if trained is not None:
        index = trained
        index.reset()
        index.nprobe = min(32, index.nlist)
    elif index_type == FLAT:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.index_factory(dimension, index_type, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample_size = min(len(vectors), 40 * index.nlist)
        sample = vectors[rng.choice(len(vectors), size=sample_size, replace=False)]
        index.train(sample)
        index.nprobe = min(32, index.nlist)
    index.add(vectors)
    return index


def save_dense_index(index: Any, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_dense_index(path: Path, nprobe: int = 32, threads: int = 1) -> Any:
    import faiss

    # OpenMP workers spin while they wait; on a small busy box one thread per query is faster.
    faiss.omp_set_num_threads(threads)
    index: Any = faiss.read_index(str(path))
    if hasattr(index, "nprobe"):
        index.nprobe = min(nprobe, index.nlist)
    return index


def search_dense(index: Any, query: Vectors, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, row ids) for one query vector; ids of -1 (IVF misses) are dropped."""
    k = max(1, min(k, index.ntotal))
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1)), k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]
