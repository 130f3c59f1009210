"""A generation's files: their names, and opening them as one searchable archive.

The build opens every generation this way before it switches `current` to it, and the serving
side opens them the same way, so a generation that was published is one that loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.corpus import (
    ARTICLES_FILE,
    CHUNKS_FILE,
    LOOKUPS_DIR,
    Corpus,
    MappedCorpus,
    MemoryCorpus,
    article_from_json,
    chunk_article_rows,
)
from index.crosslingual import CrossLingualLexicon
from index.dense import load_dense_index
from index.errors import IndexInvalidError
from index.lexical import Lexical, LexicalIndex
from index.models import Chunk
from index.segments import DELTA_DIR, SEGMENTS, SegmentedCorpus, SegmentedDense, SegmentedLexical
from index.store import Manifest, validate_generation

LEXICON_FILE = "crosslingual.json"
DENSE_FILE = "dense.faiss"
CHUNK_BM25_DIR = "bm25_chunks"
ARTICLE_BM25_DIR = "bm25_articles"
# What a generation must hold, each covered by a checksum in its manifest.
GENERATION_FILES = (
    DENSE_FILE,
    CHUNK_BM25_DIR,
    ARTICLE_BM25_DIR,
    CHUNKS_FILE,
    ARTICLES_FILE,
    LEXICON_FILE,
)

# What a file that cannot be read as the index it claims to be raises on opening.
_UNREADABLE = (
    OSError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    RuntimeError,
    OverflowError,
    RecursionError,
)


@dataclass(frozen=True)
class OpenedGeneration:
    """A generation's manifest and its indexes, opened and checked against each other."""

    manifest: Manifest
    corpus: Corpus
    chunk_articles: np.ndarray
    dense: Any
    chunk_lexical: Lexical
    article_lexical: Lexical
    lexicon: CrossLingualLexicon


def open_generation(path: Path, search_threads: int = 1) -> OpenedGeneration:
    """Validate one generation directory (checksums, format) and open its files; raise
    IndexInvalidError naming the generation and the cause when any of it does not load."""
    manifest = validate_generation(path, required=GENERATION_FILES)
    try:
        if SEGMENTS in manifest.settings:
            corpus, rows, dense, chunk_lexical, article_lexical, lexicon = _open_segments(
                path, search_threads
            )
        else:
            corpus, rows = _open_corpus(path)
            dense, chunk_lexical, article_lexical, lexicon = _open_indexes(path, search_threads)
    # A malformed line (wrong types, missing keys) is refused like any corrupt artifact.
    except _UNREADABLE as exc:
        raise IndexInvalidError(f"{path.name}: cannot read index files: {exc!r}") from exc
    counts = {len(corpus), dense.ntotal, chunk_lexical.num_docs, len(rows)}
    if counts != {manifest.chunks} or article_lexical.num_docs != manifest.articles:
        raise IndexInvalidError(f"{path.name}: chunk counts disagree with the manifest")
    return OpenedGeneration(manifest, corpus, rows, dense, chunk_lexical, article_lexical, lexicon)


def _open_indexes(
    directory: Path, search_threads: int
) -> tuple[Any, LexicalIndex, LexicalIndex, CrossLingualLexicon]:
    """A generation's (or a delta segment's) FAISS index, chunk and article BM25, lexicon."""
    return (
        load_dense_index(directory / DENSE_FILE, threads=search_threads),
        LexicalIndex(directory / CHUNK_BM25_DIR),
        LexicalIndex(directory / ARTICLE_BM25_DIR),
        CrossLingualLexicon.load(directory / LEXICON_FILE),
    )


def _open_segments(
    path: Path, search_threads: int
) -> tuple[Corpus, np.ndarray, Any, Lexical, Lexical, CrossLingualLexicon]:
    """A delta build's generation: its base's files and `delta/` served as one."""
    delta = path / DELTA_DIR
    corpus = SegmentedCorpus(MappedCorpus(path), MappedCorpus(delta))
    base, new = _open_indexes(path, search_threads), _open_indexes(delta, search_threads)
    return (
        corpus,
        corpus.chunk_articles,
        SegmentedDense(base[0], new[0]),
        SegmentedLexical(base[1], new[1]),
        SegmentedLexical(base[2], new[2]),
        base[3].merged_with(new[3]),
    )


def _open_corpus(path: Path) -> tuple[Corpus, np.ndarray]:
    """The generation's chunk store, memory-mapped; a generation from before the lookups
    existed is read into memory whole, as it always was."""
    if (path / LOOKUPS_DIR).is_dir():
        mapped = MappedCorpus(path)
        return mapped, mapped.chunk_articles
    chunks = [
        Chunk.from_json(json.loads(line))
        for line in (path / CHUNKS_FILE).read_text("utf-8").splitlines()
    ]
    articles = [
        article_from_json(json.loads(line))
        for line in (path / ARTICLES_FILE).read_text("utf-8").splitlines()
    ]
    return MemoryCorpus(chunks, articles), chunk_article_rows(chunks, articles)
