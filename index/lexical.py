"""BM25 (bm25s's scoring) over jieba words and CJK bigrams, saved as bm25s's own plain directory.

`write_bm25` builds the very arrays bm25s would (same scores, bit for bit) from token ids with
numpy, so a million documents fit in memory; `LexicalIndex` serves them memory-mapped and
finds the top k from the query's postings alone (`LexicalIndex.top_k`), where bm25s scores
and sorts every document.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from index.tokenize import tokenize

# bm25s's defaults, which every generation so far was built with.
K1 = 1.5
B = 0.75
DATA_FILE = "data.csc.index.npy"
INDICES_FILE = "indices.csc.index.npy"
INDPTR_FILE = "indptr.csc.index.npy"
VOCAB_FILE = "vocab.index.json"
PARAMS_FILE = "params.index.json"
# Beside bm25s's files: the statistics its scores were made with (a delta segment's are the
# whole archive's), so a later delta can be scored alike.
STATS_FILE = "stats.index.json"
# Documents whose (doc, term) pairs are counted at once while building.
BUILD_BATCH_DOCS = 20_000
# Below one posting per this many documents, top-k deduplicates the postings it read;
# above, it scans the accumulator (a few hundred microseconds for a million documents).
SCAN_SHARE = 8
# (document, term) pairs scored at once while building: small enough for the float64
# temporaries to be reused slice after slice rather than mapped afresh.
BUILD_SCORE_SLICE = 1_000_000

Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
Weights = npt.NDArray[np.float64]  # one per query token


class Lexical(Protocol):
    """What search asks of BM25: one index (`LexicalIndex`) or a base and a delta as one
    (`index.segments.SegmentedLexical`); a query's ids are whatever `query_ids` gives."""

    num_docs: int

    def query_ids(self, query: str) -> Any: ...

    def top_k(
        self, query_ids: Any, k: int, also: Rows | None = None
    ) -> tuple[Rows, Scores, Scores]: ...

    def scores_for(self, query_ids: Any, rows: Rows) -> Scores: ...


def build_bm25(texts: Sequence[str]) -> Any:
    """A bm25s index held in memory (the Milvus embedded backend's; builds use `write_bm25`)."""
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


@dataclass(frozen=True)
class BaseStatistics:
    """A base segment's BM25 statistics, which a delta segment beside it is scored with: the
    delta's documents count in the number of documents and in each term's document frequency,
    and the base's average length stays (so the base's stored scores stay right up to idf)."""

    num_docs: int
    average_length: float
    vocab: dict[str, int]
    document_frequency: npt.NDArray[np.int64]  # per base term id

    def frequency_of(self, terms: Sequence[str]) -> npt.NDArray[np.int64]:
        """The base's document frequency of each term (0 for terms it lacks)."""
        ids = np.array([self.vocab.get(t, -1) for t in terms], dtype=np.int64)
        known = (ids >= 0) & (ids < len(self.document_frequency))
        out = np.zeros(len(terms), dtype=np.int64)
        out[known] = self.document_frequency[ids[known]]
        return out


def write_bm25(
    ids: npt.NDArray[np.int32],
    offsets: npt.NDArray[np.int64],
    terms: Sequence[str],
    directory: Path,
    counts: npt.NDArray[np.int32] | None = None,
    base: BaseStatistics | None = None,
) -> None:
    """bm25s's files for documents given as term ids (`ids[offsets[d]:offsets[d + 1]]` are
    document d's tokens, `terms[i]` is term i's text; with `counts`, each of a document's
    ids is distinct and occurs that often, and `ids` is overwritten to save memory). The
    vocabulary is numbered in term order, so equal documents always give equal files.
    With `base`, these documents are a delta segment beside it and scored as one archive."""
    directory.mkdir(parents=True, exist_ok=True)
    n_docs = len(offsets) - 1
    sizes = np.diff(offsets)
    if counts is None:
        lengths = sizes
    else:  # each document's token count: the sum of its counts (empty documents: 0)
        lengths = np.zeros(n_docs, dtype=np.int64)
        filled = np.flatnonzero(sizes)
        if len(filled):
            lengths[filled] = np.add.reduceat(counts, offsets[filled], dtype=np.int64)
    used = np.flatnonzero(np.bincount(ids, minlength=len(terms)))
    # The used terms' ids in term order (terms are distinct), and where each is in `used`.
    by_term = sorted(used.tolist(), key=terms.__getitem__)
    ordered = np.searchsorted(used, by_term)
    column_of_used = np.empty(len(used), dtype=np.int64)
    column_of_used[ordered] = np.arange(len(used))
    vocabulary = [terms[i] for i in by_term]
    remap = np.full(int(used.max()) + 1 if len(used) else 0, -1, dtype=np.int32)
    remap[used] = column_of_used
    n_terms = len(vocabulary)

    # bm25s: avg = np.array([len(doc) ...]).mean(); its float64 arithmetic is kept below.
    own_average = float(np.array(lengths, dtype=np.int64).mean()) if n_docs else 0.0
    average = own_average if base is None else base.average_length
    if counts is not None:
        # Already one (document, term) pair per id: no counting left to do.
        rows = np.repeat(np.arange(n_docs, dtype=np.int32), sizes)
        # In place (an archive's ids take gigabytes); "clip" is never needed here but spares
        # the buffered copy that take's default bounds check makes of an overlapping `out`.
        cols = np.take(remap, ids, out=ids, mode="clip")
        tf = counts
    else:
        rows_parts, cols_parts, tf_parts = [], [], []
        for start in range(0, n_docs, BUILD_BATCH_DOCS):
            end = min(start + BUILD_BATCH_DOCS, n_docs)
            doc_ids = remap[ids[offsets[start] : offsets[end]]].astype(np.int64)
            docs = np.repeat(np.arange(start, end, dtype=np.int64), lengths[start:end])
            pairs, tallies = np.unique(docs * n_terms + doc_ids, return_counts=True)
            rows_parts.append((pairs // n_terms).astype(np.int32))
            cols_parts.append((pairs % n_terms).astype(np.int32))
            tf_parts.append(tallies.astype(np.float32))
        rows = np.concatenate(rows_parts) if rows_parts else np.zeros(0, np.int32)
        cols = np.concatenate(cols_parts) if cols_parts else np.zeros(0, np.int32)
        tf = np.concatenate(tf_parts) if tf_parts else np.zeros(0, np.float32)
        del rows_parts, cols_parts, tf_parts

    df = np.bincount(cols, minlength=n_terms)
    if base is None:
        idf = lucene_idf(df, n_docs)
    else:
        idf = lucene_idf(df + base.frequency_of(vocabulary), n_docs + base.num_docs)
    denominator = K1 * ((1 - B) + B * lengths.astype(np.float64) / average)
    # In slices: the float64 temporaries of a million documents' pairs would not fit twice.
    # idf * tf / (denominator + tf) in float64, as bm25s computes it, with two temporaries.
    scores = np.empty(len(tf), dtype=np.float32)
    for start in range(0, len(tf), BUILD_SCORE_SLICE):
        piece = slice(start, start + BUILD_SCORE_SLICE)
        tf64 = tf[piece].astype(np.float64)
        saturation = np.take(denominator, rows[piece])
        saturation += tf64
        np.divide(tf64, saturation, out=saturation)
        np.multiply(np.take(idf, cols[piece]), saturation, out=saturation)
        scores[piece] = saturation
        del tf64, saturation
    del tf

    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    data, indices = _by_column(scores, rows, cols, n_docs, n_terms)
    del scores, rows, cols

    np.save(directory / DATA_FILE, data)
    np.save(directory / INDICES_FILE, indices)
    np.save(directory / INDPTR_FILE, indptr)
    vocab = {term: i for i, term in enumerate(vocabulary)}
    vocab.setdefault("", n_terms)  # bm25s adds the empty token after the matrix is built
    (directory / VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False), "utf-8")
    params = {
        "k1": K1,
        "b": B,
        "delta": 0.5,
        "method": "lucene",
        "idf_method": "lucene",
        "dtype": "float32",
        "int_dtype": "int32",
        "num_docs": n_docs,
        "version": _bm25s_version(),
        "backend": "numpy",
    }
    (directory / PARAMS_FILE).write_text(json.dumps(params, indent=4), "utf-8")
    stats: dict[str, Any] = {"num_docs": n_docs, "average_length": own_average}
    if base is not None:
        stats["scored_as"] = {
            "num_docs": n_docs + base.num_docs,
            "average_length": base.average_length,
        }
    (directory / STATS_FILE).write_text(json.dumps(stats), "utf-8")


def _by_column(
    scores: Scores,
    rows: npt.NDArray[np.int32],
    cols: npt.NDArray[Any],
    n_docs: int,
    n_terms: int,
) -> tuple[Scores, npt.NDArray[np.int32]]:
    """The scores and their rows in bm25s's (column, row) order. The pairs come row by row,
    so this is a stable sort by column: scipy's CSR to CSC conversion, one counting pass."""
    from scipy.sparse import csr_matrix

    if not len(scores):
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int32)
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
    by_row = csr_matrix((scores, cols, indptr), shape=(n_docs, n_terms), copy=False)
    by_column = by_row.tocsc()
    return (
        np.asarray(by_column.data, dtype=np.float32),
        np.asarray(by_column.indices, dtype=np.int32),
    )


def lucene_idf(df: npt.NDArray[np.int64], n_docs: int) -> npt.NDArray[np.float32]:
    """bm25s's Lucene idf, computed with `math.log` as bm25s does, once per distinct df (the
    values the stored scores hold, which a delta's rescaling divides by)."""
    values, inverse = np.unique(df, return_inverse=True)
    per_value = np.array(
        [math.log(1 + (n_docs - int(v) + 0.5) / (int(v) + 0.5)) for v in values],
        dtype=np.float64,
    ).astype(np.float32)
    return per_value[inverse] if len(df) else np.zeros(0, dtype=np.float32)


def _bm25s_version() -> str:
    try:
        from importlib.metadata import version

        return version("bm25s")
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


class LexicalIndex:
    """A bm25s directory served memory-mapped: the top k documents for a query without scoring
    all of them, and the exact score of any document. Read-only, so threads may share it."""

    def __init__(self, directory: Path) -> None:
        # Plain arrays over the mapped files: numpy's memmap type costs microseconds a slice.
        self.data: Scores = np.asarray(np.load(directory / DATA_FILE, mmap_mode="r"))
        self.indices: npt.NDArray[np.int32] = np.asarray(
            np.load(directory / INDICES_FILE, mmap_mode="r")
        )
        self.indptr: npt.NDArray[np.int64] = np.load(directory / INDPTR_FILE)
        params = json.loads((directory / PARAMS_FILE).read_text("utf-8"))
        self.num_docs = int(params["num_docs"])
        self.vocab: dict[str, int] = json.loads((directory / VOCAB_FILE).read_text("utf-8"))
        _check_ranges(directory, self.indices, self.indptr, self.num_docs, self.vocab)
        if len(self.data) != len(self.indices) or int(self.indptr[-1]) != len(self.data):
            raise ValueError(f"{directory.name}: BM25 arrays disagree in length")
        self._directory = directory
        self._local = threading.local()

    def query_ids(self, query: str) -> npt.NDArray[np.int64]:
        """The query's token ids, repeats kept, as bm25s scores them; unknown tokens dropped."""
        return self.token_ids(tokenize(query))

    def token_ids(self, tokens: Sequence[str]) -> npt.NDArray[np.int64]:
        ids = [self.term_id(t) for t in tokens]
        return np.array([i for i in ids if i >= 0], dtype=np.int64)

    def term_id(self, token: str) -> int:
        """The token's column, or -1 (bm25s's vocabulary also names an empty last column)."""
        at = self.vocab.get(token, -1)
        return at if at < len(self.indptr) - 1 else -1

    def document_frequency(self) -> npt.NDArray[np.int64]:
        """Each term's document frequency: the length of its posting list."""
        return np.diff(self.indptr)

    def statistics(self) -> BaseStatistics | None:
        """What a delta segment beside this index is scored with; None for an index written
        before its statistics were kept (or itself a delta)."""
        path = self._directory / STATS_FILE
        if not path.is_file():
            return None
        stats = json.loads(path.read_text("utf-8"))
        if "scored_as" in stats or int(stats["num_docs"]) != self.num_docs:
            return None
        return BaseStatistics(
            self.num_docs, float(stats["average_length"]), self.vocab, self.document_frequency()
        )

    def _posting(self, term: int) -> tuple[npt.NDArray[np.int32], Scores]:
        start, end = int(self.indptr[term]), int(self.indptr[term + 1])
        return self.indices[start:end], self.data[start:end]

    def scores_for(
        self, query_ids: npt.NDArray[np.int64], rows: Rows, weights: Weights | None = None
    ) -> Scores:
        """Exact scores of `rows`, equal to bm25s's (float32 sums in query-token order);
        `weights` scale each query token's scores (a base segment's idf correction)."""
        rows = np.asarray(rows, dtype=np.int64)
        sums = np.zeros(len(rows), dtype=np.float32)
        if not len(rows):
            return sums
        contributions: dict[int, Scores] = {}
        for n, term in enumerate(query_ids.tolist()):
            if term not in contributions:
                docs, data = self._posting(term)
                at = np.minimum(np.searchsorted(docs, rows), max(len(docs) - 1, 0))
                found = docs[at] == rows if len(docs) else np.zeros(len(rows), dtype=bool)
                contributions[term] = _weighted(
                    np.where(found, data[at] if len(docs) else 0, 0).astype(np.float32),
                    weights,
                    n,
                )
            # A repeated token adds again, in its place: float32 sums as bm25s makes them.
            sums += contributions[term]
        return sums

    def all_scores(self, query_ids: npt.NDArray[np.int64]) -> Scores:
        """Every document's score, as bm25s's `get_scores` (the exhaustive reference)."""
        scores = np.zeros(self.num_docs, dtype=np.float32)
        for term in query_ids.tolist():
            docs, data = self._posting(term)
            np.add.at(scores, docs, data)
        return scores

    def _scratch(self) -> tuple[Scores, npt.NDArray[np.int64]]:
        """This thread's score accumulator (kept at zero between queries) and marks."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = (
                np.zeros(self.num_docs, dtype=np.float32),
                np.zeros(self.num_docs, dtype=np.int64),
            )
            self._local.scratch = scratch
        return scratch

    def top_k(
        self,
        query_ids: npt.NDArray[np.int64],
        k: int,
        also: Rows | None = None,
        weights: Weights | None = None,
    ) -> tuple[Rows, Scores, Scores]:
        """The k best documents with a positive score, best first (ties by row), exactly as a
        full sort of `all_scores` would give them; and the scores of the rows in `also`.

        Term at a time over the query's postings only: scores add up in an accumulator that
        is reset where it was touched, and the k best are picked among the touched documents,
        so the cost follows the postings read, not the number of documents."""
        extra = np.zeros(0, dtype=np.int64) if also is None else np.asarray(also, np.int64)
        nothing = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if k <= 0 or not len(query_ids):
            return (*nothing, np.zeros(len(extra), dtype=np.float32))
        total, mark = self._scratch()
        read = []
        for n, term in enumerate(query_ids.tolist()):
            docs, data = self._posting(term)
            if len(docs):
                # bm25s's own accumulation, term by term in query order: equal float32 sums.
                np.add.at(total, docs, _weighted(data, weights, n))
                read.append(docs)
        if not read:
            return (*nothing, np.zeros(len(extra), dtype=np.float32))
        extra_scores = total[extra]
        postings = sum(len(docs) for docs in read)
        if postings * SCAN_SHARE < self.num_docs:
            # Each touched document once, without sorting: the last position that marked it.
            touched = np.concatenate(read)
            positions = np.arange(len(touched))
            mark[touched] = positions
            rows = touched[mark[touched] == positions].astype(np.int64)
        else:
            # The postings cover much of the index: one scan of the accumulator is cheaper.
            rows = np.flatnonzero(total)
        scores = total[rows]
        total[rows] = 0.0
        if len(rows) > k:
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= kth
            rows, scores = rows[keep], scores[keep]
        best = np.lexsort((rows, -scores))[:k]
        best = best[scores[best] > 0]
        return rows[best], scores[best], extra_scores


def _check_ranges(
    directory: Path,
    indices: npt.NDArray[Any],
    indptr: npt.NDArray[Any],
    num_docs: int,
    vocab: Any,
) -> None:
    """Refuse, at load, postings that would index outside the arrays at query time: a
    document id past `num_docs`, a posting list that runs backwards or past the data, a
    term id past the posting lists (ValueError, naming the file: a refused generation).
    One vectorised pass over each array; the checksums already caught damage in transit,
    this catches arrays written wrong."""
    where = directory.name
    if num_docs < 0:
        raise ValueError(f"{where}/{PARAMS_FILE}: num_docs {num_docs} is negative")
    if indptr.ndim != 1 or indptr.dtype.kind not in "iu" or not len(indptr) or indptr[0] != 0:
        raise ValueError(f"{where}/{INDPTR_FILE}: not a list of offsets from 0")
    if len(indptr) > 1 and int(np.diff(indptr).min()) < 0:
        raise ValueError(f"{where}/{INDPTR_FILE}: offsets that decrease")
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ValueError(f"{where}/{INDICES_FILE}: not a list of document ids")
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= num_docs):
        raise ValueError(f"{where}/{INDICES_FILE}: document ids outside 0..{num_docs - 1}")
    if not isinstance(vocab, dict):
        raise ValueError(f"{where}/{VOCAB_FILE}: not a table of terms")
    ids = np.array(list(vocab.values()))
    # bm25s's vocabulary names one column more than the postings: the empty token's.
    if len(ids) and (
        ids.ndim != 1
        or ids.dtype.kind not in "iu"
        or int(ids.min()) < 0
        or int(ids.max()) > len(indptr) - 1
    ):
        raise ValueError(f"{where}/{VOCAB_FILE}: term ids outside 0..{len(indptr) - 1}")


def _weighted(scores: Scores, weights: Weights | None, token: int) -> Scores:
    if weights is None:
        return scores
    weighted: Scores = (scores * weights[token]).astype(np.float32)
    return weighted
