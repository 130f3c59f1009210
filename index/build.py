"""Build a generation: stories → articles → chunks → vectors + BM25 → files, then switch atomically.

A failed build raises `BuildError` and leaves the serving generation untouched. Embedding and
tokenising, the slow stages, run shard by shard on a pool of worker processes
(`NEWSQA_BUILD_JOBS`) and keep each finished shard in the caches, so a killed build resumes
where it stopped and a daily build only works on the stories that are new.

`build_generation` chooses the build: into the backend NEWSQA_BACKEND names
(`index.backends.building`), a delta beside the last full build (`index.delta`), or the full
build here; the stages all three share are `index.stages`.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from index.analysis import (
    BM25_TERMS,
    LEXICON_PAIRS,
    LEXICON_WORDS,
    Analysed,
    AnalysisStats,
    analyse_texts,
    init_analysis_worker,
)
from index.backends.building import build_into_backend
from index.backends.uri import backend_spec, index_root
from index.corpus import write_corpus
from index.delta import build_delta, plan_delta
from index.dense import (
    FLAT,
    add_dense_vectors,
    choose_index_type,
    empty_dense_index,
    ivf_centroids,
    save_dense_index,
)
from index.embedding import (
    Embedder,
    text_key,
)
from index.errors import BuildError, NewsqaError
from index.generation import ARTICLE_BM25_DIR, CHUNK_BM25_DIR, DENSE_FILE, LEXICON_FILE
from index.loading import LoadReport
from index.names import copy_names
from index.parallel import ShardPool, resolve_jobs
from index.progress import stage_bar
from index.reuse import (
    ARTICLE_TEXTS,
    CHUNK_TEXTS,
    LastBuild,
    LastBuildWriter,
    key_array,
    terms_digest,
    vectors_digest,
)
from index.settings import Settings
from index.sqlite_cache import check_cache_dir
from index.stages import (
    INDEX_STEPS,
    IVF_TRAINED_AT,
    PAGE_CODE,
    WARM_POOL_CHUNKS,
    BuildSummary,
    StageTimer,
    article_document,
    check_docs_dir,
    finish_lexicon,
    lexicon_job,
    load_stories,
    loads,
    new_manifest,
    open_analysis_cache,
    page_code_version,
    prepare_corpus,
    write_analysed_bm25,
)
from index.store import (
    artifact_hashes,
    build_lock,
    check_switchable,
    current_directory,
    file_sha256,
    prune_generations,
    publish_generation,
    read_manifest,
    staging_directory,
)

log = logging.getLogger(__name__)

# A daily build keeps the IVF centroids of the generation before it until the archive has
# grown by this factor since they were trained: training is most of an IVF build's time.
RETRAIN_GROWTH = 1.25


def build_generation(
    settings: Settings,
    progress: bool = False,
    embedder: Embedder | None = None,
) -> BuildSummary:
    """Build from `settings.docs_dir` into a new generation under `settings.index_dir`, or into
    the engine NEWSQA_BACKEND names."""
    check_cache_dir(settings.cache_dir)
    if not backend_spec(settings).embedded:
        return build_into_backend(settings, progress, embedder)
    settings = settings.model_copy(update={"index_dir": index_root(settings)})
    started = time.perf_counter()
    check_docs_dir(settings.docs_dir)
    try:
        check_switchable(settings.index_dir)
    except NewsqaError as exc:
        raise BuildError(str(exc)) from exc
    timer = StageTimer()
    analysed = AnalysisStats()
    jobs = resolve_jobs(settings.build_jobs)
    with (
        build_lock(settings.index_dir),
        ShardPool(jobs, init_analysis_worker) as pool,
        ExitStack() as closing,
    ):
        with timer("load"):
            stories = load_stories(settings, progress)
        if delta := _delta_build(settings, stories, pool, timer, started, progress, embedder):
            return delta
        previous = LastBuild.open(settings.cache_dir)
        if previous and int(previous.meta.get("chunks", 0)) >= WARM_POOL_CHUNKS:
            # An archive's build: the tokenising workers start while this process reads,
            # cleans and embeds, rather than after.
            pool.start()
        # One analysis cache for the pages and the analyses (opening checks the whole file).
        cache = open_analysis_cache(settings)
        if cache is not None:
            closing.callback(cache.close)
        # chunks.jsonl and articles.jsonl are written into it as the pages are cut.
        staging = staging_directory(settings.index_dir)
        try:
            corpus = prepare_corpus(
                settings, progress, embedder, timer, previous, cache, staging, stories
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        report, articles, chunks = corpus.report, corpus.articles, corpus.chunks
        model, texts, vectors, embedded = (
            corpus.model,
            corpus.texts,
            corpus.vectors,
            corpus.embedded,
        )

        keep = LastBuildWriter(settings.cache_dir)
        keep.meta.update(embedder=model.id, dimension=model.dimension, chunks=len(chunks))
        keep.save(f"{CHUNK_TEXTS}.keys", key_array(corpus.keys))
        keep.save("vectors", vectors)
        bar = stage_bar("indexing", INDEX_STEPS, "step", progress)
        try:
            with timer("faiss"):
                index_type = choose_index_type(len(chunks), settings.ann_threshold)
                trained, trained_on = reusable_ivf(
                    settings.index_dir, model, index_type, len(chunks)
                )
                dense = empty_dense_index(vectors, index_type, trained=trained)
                centroids = ivf_centroids(dense)
                digest = vectors_digest(centroids) if centroids is not None else None
                known = previous.ivf_lists(digest) if previous and digest else None
                lists = add_dense_vectors(
                    dense, vectors, _previous_rows(previous, corpus.keys, known)
                )
                if lists is not None:
                    keep.meta["centroids"] = digest
                    keep.save("ivf_lists", lists)
                save_dense_index(dense, staging / DENSE_FILE)
                del dense
            # The vectors are in the index file now; an archive's take gigabytes.
            del vectors
            corpus = replace(corpus, vectors=np.zeros((0, model.dimension), dtype=np.float32))
            bar.update()
            documents = [article_document(a) for a in articles]
            document_keys = [text_key(d) for d in documents]
            keep.save(f"{ARTICLE_TEXTS}.keys", key_array(document_keys))
            # The analyses' ids index the cache's term table: kept only beside that cache.
            kept = keep if cache is not None else None
            try:
                # One index at a time, each analysis dropped once written: an archive's
                # token arrays take gigabytes. The articles come first, so that a worker
                # assembles the lexicon while this process writes both BM25 indexes.
                with timer("tokenise"):
                    of_articles = analyse_texts(
                        documents,
                        (BM25_TERMS, LEXICON_WORDS, LEXICON_PAIRS),
                        cache,
                        pool,
                        progress,
                        stats=analysed,
                        previous=(previous, ARTICLE_TEXTS) if previous else None,
                        keys=document_keys,
                    )
                    _keep_analyses(kept, ARTICLE_TEXTS, of_articles)
                with timer("lexicon"):
                    lexicon = lexicon_job(
                        of_articles.pop(LEXICON_WORDS),
                        of_articles.pop(LEXICON_PAIRS),
                        cache,
                        pool,
                        settings.cache_dir,
                        previous,
                    )
                with timer("bm25"):
                    write_analysed_bm25(of_articles.pop(BM25_TERMS), staging / ARTICLE_BM25_DIR)
                    bar.update()
                with timer("tokenise"):
                    of_chunks = analyse_texts(
                        texts,
                        (BM25_TERMS,),
                        cache,
                        pool,
                        progress,
                        stats=analysed,
                        previous=(previous, CHUNK_TEXTS) if previous else None,
                        keys=corpus.keys,
                    )
                    _keep_analyses(kept, CHUNK_TEXTS, of_chunks)
                with timer("bm25"):
                    write_analysed_bm25(of_chunks.pop(BM25_TERMS), staging / CHUNK_BM25_DIR)
                    bar.update()
                with timer("write"):
                    write_corpus(staging, chunks, articles, corpus.line_offsets)
                    copy_names(settings.docs_dir, staging)  # the stories' display names
                bar.update()
                with timer("lexicon"):
                    text = finish_lexicon(lexicon, cache, keep)
                    (staging / LEXICON_FILE).write_text(text, "utf-8")
                    bar.update()
                if cache is not None:
                    table = cache.terms()
                    keep.meta.update(terms=len(table), terms_digest=terms_digest(table, len(table)))
            finally:
                if cache is not None:
                    cache.close()
            manifest = new_manifest(
                model,
                index_type,
                report,
                (len(articles), len(chunks)),
                artifact_hashes(staging),
                {
                    "chunk_size": settings.chunk_size,
                    "chunk_overlap": settings.chunk_overlap,
                    IVF_TRAINED_AT: trained_on,
                    PAGE_CODE: page_code_version(settings),
                },
            )
            final = publish_generation(settings.index_dir, staging, manifest, check=loads(settings))
            keep.commit()
            bar.update()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            keep.discard()
            raise
        finally:
            bar.close()
        prune_generations(settings.index_dir, settings.keep_generations)

    summary = BuildSummary.of(manifest, final, embedded, analysed.computed, started, timer)
    log.info("built %s: %d chunks", summary.generation, summary.chunks)
    return summary


def _delta_build(
    settings: Settings,
    stories: LoadReport,
    pool: ShardPool,
    timer: StageTimer,
    started: float,
    progress: bool,
    embedder: Embedder | None,
) -> BuildSummary | None:
    """The build as a delta beside the serving generation, when only new stories came."""
    plan = plan_delta(settings, stories)
    if plan is None:
        return None
    return build_delta(settings, plan, stories, pool, timer, started, progress, embedder)


def reusable_ivf(
    index_dir: Path, model: Embedder, index_type: str, count: int
) -> tuple[Any | None, int]:
    """The serving generation's IVF index, to lend its trained centroids to this build, and
    the archive size they were trained at; (None, count) when this build trains afresh: a flat
    index, another embedder or index type, or an archive grown past RETRAIN_GROWTH."""
    if index_type == FLAT:
        return None, count
    try:
        current = current_directory(index_dir)
        if current is None:
            return None, count
        manifest = read_manifest(current)
        trained_on = int(manifest.settings.get(IVF_TRAINED_AT, 0))
        fits = (
            manifest.embedder == model.id
            and manifest.dimension == model.dimension
            and manifest.index_type == index_type
            and trained_on > 0
            and count <= trained_on * RETRAIN_GROWTH
            and file_sha256(current / DENSE_FILE) == manifest.artifacts.get(DENSE_FILE)
        )
        if not fits:
            return None, count
        import faiss

        return faiss.read_index(str(current / DENSE_FILE)), trained_on
    except (NewsqaError, OSError, ValueError, RuntimeError) as exc:
        log.info("training the dense index afresh: %s", exc)
        return None, count


def _previous_rows(
    previous: LastBuild | None, keys: Sequence[str], values: np.ndarray | None
) -> np.ndarray | None:
    """`values` (one per text of the previous build) for these texts' keys; -1 for texts the
    previous build did not have."""
    if previous is None or values is None:
        return None
    rows = previous.rows(CHUNK_TEXTS, key_array(keys))
    out = np.full(len(keys), -1, dtype=np.int64)
    have = np.flatnonzero(rows >= 0)
    out[have] = values[rows[have]]
    return out


def _keep_analyses(keep: LastBuildWriter | None, texts: str, analyses: dict[str, Analysed]) -> None:
    """Keep this build's analyses for the next (before BM25 writing reuses their memory)."""
    if keep is None:
        return
    for kind, analysed in analyses.items():
        keep.save_analysis(texts, kind, analysed.offsets, analysed.ids, analysed.counts)
