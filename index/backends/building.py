"""A build into a backend named by NEWSQA_BACKEND: the same stories, chunks and vectors as the
embedded build, written through the retrieval protocol and switched in by the catalog."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from index.backends.factory import open_catalog
from index.backends.milvus import choose_dense_index
from index.backends.protocol import ChunkRecord, GenerationCatalog
from index.corpus import ARTICLES_FILE, CHUNKS_FILE, chunk_article_rows
from index.crosslingual import CrossLingualLexicon, corpus_words_and_pairs
from index.embedding import Embedder
from index.generation import LEXICON_FILE
from index.models import Article, Chunk
from index.settings import Settings
from index.stages import (
    BuildSummary,
    PreparedCorpus,
    article_document,
    check_docs_dir,
    prepare_corpus,
)
from index.store import SCHEMA_VERSION, build_lock

log = logging.getLogger(__name__)


def build_into_backend(
    settings: Settings, progress: bool = False, embedder: Embedder | None = None
) -> BuildSummary:
    """Build a generation in the configured backend; a failure drops it and serves on."""
    started = time.perf_counter()
    check_docs_dir(settings.docs_dir)
    # The lock is per machine: one operator and one timer on the box that builds.
    with build_lock(settings.index_dir):
        corpus = prepare_corpus(settings, progress, embedder)
        catalog = open_catalog(settings)
        try:
            generation = write_generation(catalog, corpus, settings)
            catalog.prune(settings.keep_generations)
        finally:
            catalog.close()
    summary = BuildSummary(
        generation=generation,
        path=Path(settings.backend),
        stories=len(corpus.report.pages),
        skipped=corpus.skipped,
        articles=len(corpus.articles),
        chunks=len(corpus.chunks),
        embedded=corpus.embedded,
        reused=len(corpus.chunks) - corpus.embedded,
        index_type=index_type(settings, len(corpus.chunks)),
        seconds=time.perf_counter() - started,
    )
    log.info("built %s in %s: %d chunks", generation, settings.backend, summary.chunks)
    return summary


def index_type(settings: Settings, chunks: int) -> str:
    """What the manifest records: the dense index Milvus builds for this many chunks."""
    if not settings.backend.startswith("milvus"):
        return "embedded"
    dense = choose_dense_index(settings.milvus_index, chunks, 1, settings.ann_threshold)
    return f"milvus-{dense.kind.lower()}+bm25"


def chunk_records(corpus: PreparedCorpus) -> list[ChunkRecord]:
    """Each chunk with its retrieval text, vector and whole article (for the article lift)."""
    rows = chunk_article_rows(corpus.chunks, corpus.articles)
    documents = [article_document(a) for a in corpus.articles]
    return [
        ChunkRecord(chunk=chunk, text=text, vector=corpus.vectors[i], article_text=documents[row])
        for i, (chunk, text, row) in enumerate(
            zip(corpus.chunks, corpus.texts, rows.tolist(), strict=True)
        )
    ]


def write_generation(catalog: GenerationCatalog, corpus: PreparedCorpus, settings: Settings) -> str:
    """Upsert, commit, store the side data, publish; an unpublished generation is dropped."""
    backend = catalog.create(corpus.model.id, corpus.model.dimension)
    try:
        backend.upsert(chunk_records(corpus))
        documents = [article_document(a) for a in corpus.articles]
        lexicon = CrossLingualLexicon.build(*corpus_words_and_pairs(documents))
        backend.put_blob(LEXICON_FILE, lexicon.to_text())
        backend.put_blob(ARTICLES_FILE, articles_text(corpus.articles))
        backend.put_blob(CHUNKS_FILE, chunks_text(corpus.chunks))
        backend.commit()
        return catalog.publish(backend, manifest(corpus, settings))
    except BaseException:
        catalog.discard(backend)
        raise
    finally:
        backend.close()


def manifest(corpus: PreparedCorpus, settings: Settings) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generation": "",  # the catalog names it
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "embedder": corpus.model.id,
        "dimension": corpus.model.dimension,
        "index_type": index_type(settings, len(corpus.chunks)),
        "stories": len(corpus.report.pages),
        "articles": len(corpus.articles),
        "chunks": len(corpus.chunks),
        "files": {p.file: p.sha256 for p in corpus.report.pages},
        "artifacts": {},
        "skipped": dict(corpus.skipped),
        "settings": {"chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap},
    }


def articles_text(articles: Sequence[Article]) -> str:
    """articles.jsonl, as the embedded build writes it."""
    return "".join(
        json.dumps(
            {
                "file": a.file,
                "index": a.index,
                "headline": a.headline,
                "byline": a.byline,
                "paragraphs": [[p.number, p.text] for p in a.paragraphs],
            },
            ensure_ascii=False,
        )
        + "\n"
        for a in articles
    )


def chunks_text(chunks: Sequence[Chunk]) -> str:
    """chunks.jsonl, as the embedded build writes it: the engine keeps every chunk by id."""
    return "".join(json.dumps(c.to_json(), ensure_ascii=False) + "\n" for c in chunks)
