"""Build a generation: stories → articles → chunks → vectors + BM25 → files, then switch atomically.

A failed build raises `BuildError` and leaves the serving generation untouched.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from index.backends.uri import backend_spec, index_root
from index.chunking import chunk_articles, retrieval_text
from index.cleaning import split_articles
from index.crosslingual import CrossLingualLexicon, corpus_words_and_pairs
from index.dense import build_dense_index, choose_index_type, save_dense_index
from index.embedding import Embedder, EmbeddingCache, embed_passages_cached, embedder_for
from index.errors import BuildBusyError, BuildError, NewsqaError
from index.lexical import build_bm25, save_bm25
from index.loading import LoadReport, load_pages
from index.models import Article, Chunk, Page
from index.progress import stage_bar, stage_items
from index.settings import Settings
from index.store import (
    SCHEMA_VERSION,
    Manifest,
    artifact_hashes,
    new_generation_id,
    prune_generations,
    publish_generation,
    staging_directory,
)

log = logging.getLogger(__name__)

CHUNKS_FILE = "chunks.jsonl"
LEXICON_FILE = "crosslingual.json"
ARTICLES_FILE = "articles.jsonl"
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
LEAD_CHARS = 40
# What the indexing bar counts: dense index, two BM25 indexes, lexicon, files, publishing.
INDEX_STEPS = 6


@dataclass(frozen=True)
class BuildSummary:
    generation: str
    path: Path
    stories: int
    skipped: tuple[tuple[str, str], ...]
    articles: int
    chunks: int
    embedded: int
    reused: int
    index_type: str
    seconds: float

    def describe(self) -> str:
        lines = [
            f"built generation {self.generation} in {self.seconds:.1f} s ({self.index_type})",
            f"  stories: {self.stories} indexed, {len(self.skipped)} skipped",
            f"  articles: {self.articles}  chunks: {self.chunks}  "
            f"(embedded {self.embedded}, reused {self.reused} from cache)",
        ]
        lines += [f"  skipped {name}: {reason}" for name, reason in self.skipped]
        return "\n".join(lines)


def article_lead(article: Article) -> str:
    """The opening words of an article: where and who, which later chunks rarely repeat."""
    if not article.paragraphs:
        return ""
    return article.paragraphs[0].text[:LEAD_CHARS]


def article_document(article: Article) -> str:
    return f"{article.headline}\n{article.text}"


@contextmanager
def build_lock(index_root: Path) -> Iterator[None]:
    """One build at a time per index root (a timer and an operator may start one together)."""
    index_root.mkdir(parents=True, exist_ok=True)
    with (index_root / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildBusyError(f"another build is running on {index_root}") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class PreparedCorpus:
    """Stories read, cut, chunked and embedded: what every backend indexes."""

    report: LoadReport
    skipped: tuple[tuple[str, str], ...]
    articles: list[Article]
    chunks: list[Chunk]
    model: Embedder
    texts: list[str]
    vectors: np.ndarray
    embedded: int


def check_docs_dir(docs_dir: Path) -> None:
    if docs_dir.exists() and not docs_dir.is_dir():
        raise BuildError(f"story directory {docs_dir} is a file, not a directory")
    if not docs_dir.is_dir():
        raise BuildError(f"story directory {docs_dir} does not exist")


def split_pages(pages: Sequence[Page], progress: bool = False) -> list[Article]:
    """Cut every page into articles; the bar counts characters, as one story may be 30 MB."""
    articles: list[Article] = []
    with stage_bar("cleaning", sum(len(page.text) for page in pages), "char", progress) as bar:
        for page in pages:
            articles.extend(split_articles(page))
            bar.update(len(page.text))
    return articles


def prepare_corpus(
    settings: Settings, progress: bool = False, embedder: Embedder | None = None
) -> PreparedCorpus:
    """Read, clean, chunk and embed the stories (the cache embeds only what changed)."""
    docs_dir = settings.docs_dir
    report = load_pages(
        docs_dir,
        max_bytes=settings.max_story_bytes,
        follow_outside_symlinks=settings.follow_outside_symlinks,
        progress=progress,
    )
    skipped = tuple((s.file, s.reason) for s in report.skipped)
    if not report.pages:
        raise BuildError(f"no readable stories in {docs_dir} ({len(skipped)} skipped)")
    articles = split_pages(report.pages, progress)
    chunks = chunk_articles(
        stage_items(articles, "chunking", "article", progress),
        settings.chunk_size,
        settings.chunk_overlap,
    )
    if not chunks:
        raise BuildError(f"the stories in {docs_dir} hold no text to index")

    try:
        model = embedder or embedder_for(settings)
    except NewsqaError as exc:
        raise BuildError(str(exc)) from exc
    leads = [article_lead(articles[row]) for row in chunk_article_rows(chunks, articles)]
    texts = [retrieval_text(c, lead) for c, lead in zip(chunks, leads, strict=True)]
    cache = EmbeddingCache.open(
        settings.cache_dir / "embeddings.sqlite", settings.cache_lock_timeout_s
    )
    try:
        vectors, embedded = embed_passages_cached(
            model, texts, cache, settings.embed_batch_size, progress=progress
        )
    finally:
        if cache is not None:
            cache.close()
    return PreparedCorpus(report, skipped, articles, chunks, model, texts, vectors, embedded)


def build_generation(
    settings: Settings,
    progress: bool = False,
    embedder: Embedder | None = None,
) -> BuildSummary:
    """Build from `settings.docs_dir` into a new generation under `settings.index_dir`, or into
    the engine NEWSQA_BACKEND names."""
    if not backend_spec(settings).embedded:
        from index.backends.building import build_into_backend

        return build_into_backend(settings, progress, embedder)
    settings = settings.model_copy(update={"index_dir": index_root(settings)})
    started = time.perf_counter()
    check_docs_dir(settings.docs_dir)
    with build_lock(settings.index_dir):
        corpus = prepare_corpus(settings, progress, embedder)
        report, skipped, articles, chunks = (
            corpus.report,
            corpus.skipped,
            corpus.articles,
            corpus.chunks,
        )
        model, texts, vectors, embedded = (
            corpus.model,
            corpus.texts,
            corpus.vectors,
            corpus.embedded,
        )

        staging = staging_directory(settings.index_dir)
        bar = stage_bar("indexing", INDEX_STEPS, "step", progress)
        try:
            index_type = choose_index_type(len(chunks), settings.ann_threshold)
            save_dense_index(build_dense_index(vectors, index_type), staging / DENSE_FILE)
            bar.update()
            save_bm25(build_bm25(texts), staging / CHUNK_BM25_DIR)
            bar.update()
            documents = [article_document(a) for a in articles]
            save_bm25(build_bm25(documents), staging / ARTICLE_BM25_DIR)
            bar.update()
            CrossLingualLexicon.build(*corpus_words_and_pairs(documents)).save(
                staging / LEXICON_FILE
            )
            bar.update()
            _write_jsonl(staging / CHUNKS_FILE, [c.to_json() for c in chunks])
            _write_articles(staging / ARTICLES_FILE, articles)
            bar.update()
            manifest = Manifest(
                schema_version=SCHEMA_VERSION,
                generation=new_generation_id(),
                built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                embedder=model.id,
                dimension=model.dimension,
                index_type=index_type,
                stories=len(report.pages),
                articles=len(articles),
                chunks=len(chunks),
                files={p.file: p.sha256 for p in report.pages},
                artifacts=artifact_hashes(staging),
                skipped=dict(skipped),
                settings={
                    "chunk_size": settings.chunk_size,
                    "chunk_overlap": settings.chunk_overlap,
                },
            )
            final = publish_generation(settings.index_dir, staging, manifest)
            bar.update()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            bar.close()
        prune_generations(settings.index_dir, settings.keep_generations)

    summary = BuildSummary(
        generation=manifest.generation,
        path=final,
        stories=len(report.pages),
        skipped=skipped,
        articles=len(articles),
        chunks=len(chunks),
        embedded=embedded,
        reused=len(chunks) - embedded,
        index_type=index_type,
        seconds=time.perf_counter() - started,
    )
    log.info("built %s: %d chunks", summary.generation, summary.chunks)
    return summary


def chunk_article_rows(chunks: Sequence[Chunk], articles: Sequence[Article]) -> np.ndarray:
    rows = {(a.file, a.index): row for row, a in enumerate(articles)}
    return np.array([rows[(c.file, c.article_index)] for c in chunks], dtype=np.int64)


def _write_jsonl(path: Path, rows: Sequence[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_articles(path: Path, articles: Sequence[Article]) -> None:
    _write_jsonl(
        path,
        [
            {
                "file": a.file,
                "index": a.index,
                "headline": a.headline,
                "byline": a.byline,
                "paragraphs": [[p.number, p.text] for p in a.paragraphs],
            }
            for a in articles
        ],
    )
