"""FAISS over normalised vectors: exact inner product for small corpora, IVF above a threshold."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

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
    index = empty_dense_index(vectors, index_type, seed, trained)
    add_dense_vectors(index, vectors)
    return index


def empty_dense_index(
    vectors: Vectors, index_type: str, seed: int = 1234, trained: Any | None = None
) -> Any:
    """An index of `index_type` ready for `vectors`: trained on a sample of them (IVF), or
    emptied from `trained`, whose centroids it keeps."""
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
    return index


def add_dense_vectors(
    index: Any, vectors: Vectors, known: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.int64] | None:
    """Add `vectors` as rows 0.. and return the IVF list of each (None for a flat index).

    Choosing the lists is most of an IVF add, so lists `known` from an earlier build with the
    same centroids (-1 where not) are taken as they are; faiss adds each vector exactly as
    `index.add` would, so the index is the same, byte for byte."""
    import faiss

    if not hasattr(index, "nlist"):
        index.add(vectors)
        return None
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    lists = np.full(len(vectors), -1, dtype=np.int64) if known is None else known.copy()
    todo = np.flatnonzero(lists < 0)
    if len(todo):
        lists[todo] = index.quantizer.search(np.ascontiguousarray(vectors[todo]), 1)[1][:, 0]
    index.add_core(len(vectors), faiss.swig_ptr(vectors), None, faiss.swig_ptr(lists))
    return lists


def ivf_centroids(index: Any) -> Vectors | None:
    """An IVF index's centroids (None for a flat index)."""
    if not hasattr(index, "nlist"):
        return None
    centroids: Vectors = index.quantizer.reconstruct_n(0, index.nlist)
    return centroids


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
