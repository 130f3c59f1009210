"""A daily build: the new stories as a delta segment beside the last full build.

When the only change since the last full build is new story files, and they are a small share
of the archive, the build hardlinks the full build's files (nothing of them is rewritten) and
indexes only the stories that are not in it, as a small generation in `delta/`
(`index.segments` serves the two as one). Any changed, removed or re-skipped story, another
embedder or chunking, or a delta grown past `delta_max_share` makes a full build instead,
which merges everything (and reuses every cache, so it costs what a daily build did before).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.analysis import (
    BM25_TERMS,
    LEXICON_PAIRS,
    LEXICON_WORDS,
    AnalysisCache,
    AnalysisStats,
    analyse_texts,
    init_analysis_worker,
)
from index.corpus import write_corpus
from index.dense import build_dense_index, choose_index_type, save_dense_index
from index.embedding import Embedder, embedder_for, text_key
from index.errors import BuildError, NewsqaError
from index.generation import (
    ARTICLE_BM25_DIR,
    CHUNK_BM25_DIR,
    DENSE_FILE,
    GENERATION_FILES,
    LEXICON_FILE,
)
from index.lexical import BaseStatistics, LexicalIndex
from index.loading import LoadReport
from index.models import Page
from index.parallel import ShardPool
from index.segments import DELTA_DIR, SEGMENTS
from index.settings import Settings
from index.stages import (
    PAGE_CODE,
    WARM_POOL_CHUNKS,
    BuildSummary,
    StageTimer,
    article_document,
    clean_and_chunk,
    embed_chunks,
    finish_lexicon,
    lexicon_job,
    loads,
    new_manifest,
    open_analysis_cache,
    page_code_version,
    write_analysed_bm25,
)
from index.store import (
    SCHEMA_VERSION,
    Manifest,
    artifact_hashes,
    current_directory,
    prune_generations,
    publish_generation,
    staging_directory,
    validate_generation,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeltaPlan:
    """What a delta build stands on: the serving generation (whose top-level files are the
    base's), the base's manifest facts, its BM25 statistics and the stories new to it."""

    current: Path
    manifest: Manifest
    base_generation: str
    base_chunks: int
    base_articles: int
    base_artifacts: dict[str, str]
    chunk_statistics: BaseStatistics
    article_statistics: BaseStatistics
    pages: tuple[Page, ...]


def plan_delta(settings: Settings, report: LoadReport) -> DeltaPlan | None:
    """The delta build these stories allow, or None (a full build): see the module's rules."""
    if settings.delta_max_share <= 0:
        return None
    try:
        current = current_directory(settings.index_dir)
        if current is None:
            return None
        # The base's files are hardlinked into the new generation as they are: only a base
        # that loads may lend them (checksums, as loading checks them).
        manifest = validate_generation(current, required=GENERATION_FILES)
    except NewsqaError as exc:
        log.warning("full build: the serving generation cannot be a base (%s)", exc)
        return None
    segments: dict[str, Any] = manifest.settings.get(SEGMENTS) or {}
    delta_files = set(segments.get("delta_files", ()))
    base_files = {f: h for f, h in manifest.files.items() if f not in delta_files}
    hashes = {page.file: page.sha256 for page in report.pages}
    why = _full_build_reason(settings, manifest, base_files, hashes)
    if why:
        log.info("full build: %s", why)
        return None
    pages = tuple(page for page in report.pages if page.file not in base_files)
    if not pages or len(pages) > settings.delta_max_share * len(base_files):
        return None
    try:
        chunk_statistics = LexicalIndex(current / CHUNK_BM25_DIR).statistics()
        article_statistics = LexicalIndex(current / ARTICLE_BM25_DIR).statistics()
    except (OSError, ValueError, KeyError) as exc:
        log.info("full build: the serving generation's BM25 is unreadable (%s)", exc)
        return None
    if chunk_statistics is None or article_statistics is None:
        log.info("full build: the serving generation keeps no BM25 statistics")
        return None
    base_artifacts = {
        name: digest
        for name, digest in manifest.artifacts.items()
        if not name.startswith(DELTA_DIR + "/")
    }
    return DeltaPlan(
        current=current,
        manifest=manifest,
        base_generation=str(segments.get("base_generation", manifest.generation)),
        base_chunks=int(segments.get("base_chunks", manifest.chunks)),
        base_articles=int(segments.get("base_articles", manifest.articles)),
        base_artifacts=base_artifacts,
        chunk_statistics=chunk_statistics,
        article_statistics=article_statistics,
        pages=pages,
    )


def _full_build_reason(
    settings: Settings, manifest: Manifest, base_files: dict[str, str], hashes: dict[str, str]
) -> str | None:
    if manifest.schema_version != SCHEMA_VERSION:
        return "the serving generation has another index format"
    if manifest.settings.get(PAGE_CODE) != page_code_version(settings):
        return "the cutting code or the chunk settings changed since the last full build"
    changed = [f for f, digest in base_files.items() if hashes.get(f) != digest]
    if changed:
        return f"{len(changed)} stories changed or went since the last full build"
    return None


def build_delta(
    settings: Settings,
    plan: DeltaPlan,
    report: LoadReport,
    pool: ShardPool,
    timer: StageTimer,
    started: float,
    progress: bool = False,
    embedder: Embedder | None = None,
) -> BuildSummary | None:
    """Publish the base's files and the new stories' delta as a generation; None when the new
    stories turn out not to fit (another embedder, a delta too big: build in full)."""
    with timer("embed"):
        try:
            model = embedder or embedder_for(settings)
        except NewsqaError as exc:
            log.info("full build: %s", exc)
            return None
    if model.id != plan.manifest.embedder or model.dimension != plan.manifest.dimension:
        log.info("full build: the embedder is not the serving generation's")
        return None
    cache = open_analysis_cache(settings)
    staging = staging_directory(settings.index_dir)
    try:
        summary = _build_into(
            settings, plan, report, pool, timer, started, staging, model, embedder, cache, progress
        )
        if summary is None:
            shutil.rmtree(staging, ignore_errors=True)
            return None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if cache is not None:
            cache.close()
    prune_generations(settings.index_dir, settings.keep_generations)
    return summary


def _build_into(
    settings: Settings,
    plan: DeltaPlan,
    report: LoadReport,
    pool: ShardPool,
    timer: StageTimer,
    started: float,
    staging: Path,
    model: Embedder,
    embedder: Embedder | None,
    cache: AnalysisCache | None,
    progress: bool,
) -> BuildSummary | None:
    """`model`: the embedder; `embedder`: the one the caller gave (`embed_chunks`)."""
    delta = staging / DELTA_DIR
    delta.mkdir()
    articles, chunks, offsets = clean_and_chunk(plan.pages, settings, cache, timer, progress, delta)
    total = plan.base_chunks + len(chunks)
    if not chunks or len(chunks) > settings.delta_max_share * plan.base_chunks:
        log.info("full build: the new stories hold %d chunks", len(chunks))
        return None
    if choose_index_type(total, settings.ann_threshold) != plan.manifest.index_type:
        log.info("full build: the archive has outgrown its dense index type")
        return None
    with timer("embed"):
        texts, keys, vectors, embedded = embed_chunks(
            settings, model, articles, chunks, None, progress, embedder
        )
    with timer("faiss"):
        index_type = choose_index_type(len(chunks), settings.ann_threshold)
        save_dense_index(build_dense_index(vectors, index_type), delta / DENSE_FILE)
    stats = AnalysisStats()
    documents = [article_document(a) for a in articles]
    # A day's stories tokenise here in less time than the workers take to start.
    runner = pool if len(chunks) >= WARM_POOL_CHUNKS else ShardPool(1, init_analysis_worker)
    with timer("tokenise"):
        of_articles = analyse_texts(
            documents,
            (BM25_TERMS, LEXICON_WORDS, LEXICON_PAIRS),
            cache,
            runner,
            progress,
            stats=stats,
            keys=[text_key(d) for d in documents],
        )
        of_chunks = analyse_texts(
            texts, (BM25_TERMS,), cache, runner, progress, stats=stats, keys=keys
        )
    with timer("lexicon"):
        job = lexicon_job(
            of_articles.pop(LEXICON_WORDS),
            of_articles.pop(LEXICON_PAIRS),
            cache,
            runner,
            settings.cache_dir,
        )
        (delta / LEXICON_FILE).write_text(finish_lexicon(job, cache, None), "utf-8")
    with timer("bm25"):
        for analysed, folder, base in (
            (of_articles.pop(BM25_TERMS), ARTICLE_BM25_DIR, plan.article_statistics),
            (of_chunks.pop(BM25_TERMS), CHUNK_BM25_DIR, plan.chunk_statistics),
        ):
            write_analysed_bm25(analysed, delta / folder, base)
    with timer("write"):
        write_corpus(delta, chunks, articles, offsets)
        _link_base(plan, staging)
    manifest = new_manifest(
        model,
        plan.manifest.index_type,
        report,
        (plan.base_articles + len(articles), total),
        {
            **plan.base_artifacts,
            **{f"{DELTA_DIR}/{k}": v for k, v in artifact_hashes(delta).items()},
        },
        {
            **{k: v for k, v in plan.manifest.settings.items() if k != SEGMENTS},
            SEGMENTS: {
                "base_generation": plan.base_generation,
                "base_chunks": plan.base_chunks,
                "base_articles": plan.base_articles,
                "delta_files": [p.file for p in plan.pages],
            },
        },
    )
    try:
        final = publish_generation(settings.index_dir, staging, manifest, check=loads(settings))
    except BuildError as exc:
        log.warning("full build: %s", exc)
        return None
    log.info("built %s: %d new chunks beside %d", manifest.generation, len(chunks), total)
    return BuildSummary.of(
        manifest, final, embedded, stats.computed, started, timer, delta_chunks=len(chunks)
    )


def _link_base(plan: DeltaPlan, staging: Path) -> None:
    """The base's files, hardlinked (copied where the filesystem cannot link)."""
    for name in plan.base_artifacts:
        source, target = plan.current / name, staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
