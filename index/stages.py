"""The stages a build is made of, shared by the full build (`index.build`), the daily delta
(`index.delta`) and the build into a backend (`index.backends.building`): loading, cleaning and
chunking with the page cache, embedding, the lexicon, BM25 writing, the manifest and the check
that a new generation loads."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index import chunking, cleaning, containment, corpus, loading, models
from index.analysis import (
    Analysed,
    AnalysisCache,
)
from index.chunking import chunk_articles, retrieval_text
from index.cleaning import split_articles
from index.corpus import (
    ARTICLES_FILE,
    CHUNKS_FILE,
    LinesWriter,
    article_from_json,
    article_to_json,
    chunk_article_rows,
    corpus_line,
)
from index.crosslingual import (
    CrossLingualLexicon,
    dictionary_glosses,
    named_words,
    pinyin_keys,
    spelled_words,
)
from index.embedding import (
    BundledE5Embedder,
    Embedder,
    embedder_for,
    text_key,
)
from index.embedding_cache import EmbedderSource, EmbeddingCache, embed_passages_cached
from index.errors import BuildError, NewsqaError
from index.generation import open_generation
from index.lexical import BaseStatistics, write_bm25
from index.loading import LoadReport, load_pages
from index.models import Article, Chunk, Page
from index.parallel import ShardPool, resolve_jobs, shards
from index.progress import stage_bar
from index.reuse import (
    CHUNK_TEXTS,
    PINYIN,
    LastBuild,
    LastBuildWriter,
    copy_rows,
    joined_strings,
    key_array,
)
from index.settings import Settings
from index.store import (
    SCHEMA_VERSION,
    Manifest,
    new_generation_id,
)

log = logging.getLogger(__name__)


LEAD_CHARS = 40


# What the indexing bar counts: dense index, two BM25 indexes, lexicon, files, publishing.
INDEX_STEPS = 6


# Words whose pinyin one worker task computes.
PINYIN_SHARD = 20_000


# Corpora with fewer words and word pairs assemble their lexicon here, not on a worker.
PARALLEL_LEXICON_WORDS = 100_000


IVF_TRAINED_AT = "ivf_trained_chunks"


# Manifest settings key: `page_code_version` of the build (a delta build needs its own equal).
PAGE_CODE = "page_code"


# A build whose last build had this many chunks starts its workers first thing.
WARM_POOL_CHUNKS = 20_000


# The page cache's format (`_pack_page`), part of each page's key.
PAGE_FORMAT = 2


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
    # Seconds per stage (load, clean, chunk, embed, faiss, tokenise, bm25, lexicon, write).
    stages: dict[str, float] = field(default_factory=dict)
    tokenised: int = 0  # texts tokenised afresh; the others came from the analysis cache
    delta_chunks: int = 0  # a delta build's new chunks (`index.delta`); 0: a full build

    @classmethod
    def of(
        cls,
        manifest: Manifest,
        path: Path,
        embedded: int,
        tokenised: int,
        started: float,
        timer: StageTimer,
        delta_chunks: int = 0,
    ) -> BuildSummary:
        """The summary of the build that published `manifest` at `path`."""
        return cls(
            generation=manifest.generation,
            path=path,
            stories=manifest.stories,
            skipped=tuple(manifest.skipped.items()),
            articles=manifest.articles,
            chunks=manifest.chunks,
            embedded=embedded,
            reused=(delta_chunks or manifest.chunks) - embedded,
            index_type=manifest.index_type,
            seconds=time.perf_counter() - started,
            stages=timer.seconds,
            tokenised=tokenised,
            delta_chunks=delta_chunks,
        )

    def describe(self) -> str:
        kind = f"delta of {self.delta_chunks} new chunks, " if self.delta_chunks else ""
        lines = [
            f"built generation {self.generation} in {self.seconds:.1f} s ({kind}{self.index_type})",
            f"  stories: {self.stories} indexed, {len(self.skipped)} skipped",
            f"  articles: {self.articles}  chunks: {self.chunks}  "
            f"(embedded {self.embedded}, reused {self.reused} from cache)",
        ]
        if self.stages:
            lines.append("  stages: " + "  ".join(f"{k} {v:.1f} s" for k, v in self.stages.items()))
        lines += [f"  skipped {name}: {reason}" for name, reason in self.skipped]
        return "\n".join(lines)


class StageTimer:
    """Seconds spent in each named stage of a build."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.seconds[stage] = round(self.seconds.get(stage, 0.0) + spent, 3)
            log.debug("%s: %.1f s, peak memory %.0f MB", stage, spent, _peak_rss_mb())


def article_lead(article: Article) -> str:
    """The opening words of an article: where and who, which later chunks rarely repeat."""
    if not article.paragraphs:
        return ""
    return article.paragraphs[0].text[:LEAD_CHARS]


def article_document(article: Article) -> str:
    return f"{article.headline}\n{article.text}"


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
    keys: list[str] = field(default_factory=list)  # hash of each text (`text_key`)
    # The offsets of chunks.jsonl and articles.jsonl, when written already (`clean_and_chunk`).
    line_offsets: LineOffsets | None = None


def check_docs_dir(docs_dir: Path) -> None:
    if docs_dir.exists() and not docs_dir.is_dir():
        raise BuildError(f"story directory {docs_dir} is a file, not a directory")
    if not docs_dir.is_dir():
        raise BuildError(f"story directory {docs_dir} does not exist")


def page_code_version(settings: Settings) -> str:
    """What a page's articles and chunks depend on besides its bytes: the code that decodes,
    cuts and chunks and writes their lines (its source, so any change to it is a new
    version), the chunk settings and the page cache's format."""
    digest = hashlib.sha256(
        f"{PAGE_FORMAT}/{settings.chunk_size}/{settings.chunk_overlap}".encode()
    )
    for module in (loading, cleaning, containment, chunking, models, corpus):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


# A page cut up: its articles, its chunks, and their lines of articles.jsonl and chunks.jsonl.
CutPage = tuple[list[Article], list[Chunk], list[bytes], list[bytes]]


# The byte offsets of the lines of chunks.jsonl and of articles.jsonl (`write_corpus`).
LineOffsets = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


def clean_and_chunk(
    pages: Sequence[Page],
    settings: Settings,
    cache: AnalysisCache | None,
    timer: StageTimer,
    progress: bool = False,
    out: Path | None = None,
) -> tuple[list[Article], list[Chunk], LineOffsets | None]:
    """Every page cut into articles and chunks; pages seen by an earlier build (same text,
    same code) come from the cache, with their lines ready. With `out`, the lines of
    chunks.jsonl and articles.jsonl are written there as the pages come, and their offsets
    returned."""
    version = page_code_version(settings)
    keys = [text_key(f"{version}\x00{page.file}\x00{page.text}") for page in pages]
    with timer("clean"):
        found = cache.get_pages(keys) if cache else {}
    with timer("chunk"):
        ready: dict[int, CutPage] = {}
        for n, key in enumerate(keys):
            blob = found.get(key)
            unpacked = _unpack_page(blob) if blob is not None else None
            if unpacked is not None:
                ready[n] = unpacked
        del found
    with timer("clean"):
        todo = [n for n in range(len(keys)) if n not in ready]
        cleaned = dict(zip(todo, split_each_page([pages[n] for n in todo], progress), strict=True))
    with timer("chunk"), stage_bar("chunking", len(keys), "page", progress) as bar:
        writers = None
        if out is not None:
            writers = (LinesWriter(out / CHUNKS_FILE), LinesWriter(out / ARTICLES_FILE))
        try:
            fresh: dict[str, bytes] = {}
            articles: list[Article] = []
            chunks: list[Chunk] = []
            for n, key in enumerate(keys):
                bar.update()
                if n in cleaned:
                    page_articles = cleaned.pop(n)
                    page_chunks = chunk_articles(
                        page_articles, settings.chunk_size, settings.chunk_overlap
                    )
                    page = _cut_page(page_articles, page_chunks)
                    fresh[key] = _pack_page(page)
                else:
                    page = ready.pop(n)
                articles += page[0]
                chunks += page[1]
                if writers:
                    writers[0].write(page[3])
                    writers[1].write(page[2])
            if cache and fresh:
                cache.put_pages(fresh)
            offsets = (writers[0].close(), writers[1].close()) if writers else None
        finally:
            for writer in writers or ():
                writer.abandon()
    return articles, chunks, offsets


def _cut_page(articles: list[Article], chunks: list[Chunk]) -> CutPage:
    article_lines = [corpus_line(article_to_json(a)) for a in articles]
    return articles, chunks, article_lines, [corpus_line(c.to_json()) for c in chunks]


def _pack_page(page: CutPage) -> bytes:
    """A page's lines of articles.jsonl and chunks.jsonl, after a line that counts them."""
    _, _, article_lines, chunk_lines = page
    header = f"{len(article_lines)} {len(chunk_lines)}".encode()
    return zlib.compress(b"\n".join([header, *article_lines, *chunk_lines]), 1)


def _unpack_page(blob: bytes) -> CutPage | None:
    """A page `_pack_page` kept; None when the blob is damaged (the page is cut afresh)."""
    try:
        lines = zlib.decompress(blob).split(b"\n")
        counted = [int(n) for n in lines[0].split(b" ")]
        if len(counted) != 2 or min(counted) < 0 or len(lines) != 1 + sum(counted):
            raise ValueError("the line counts do not match")
        article_lines, chunk_lines = lines[1 : 1 + counted[0]], lines[1 + counted[0] :]
        articles = [article_from_json(a) for a in _json_rows(article_lines)]
        chunks = [Chunk.from_json(c) for c in _json_rows(chunk_lines)]
        if len(articles) != counted[0] or len(chunks) != counted[1]:
            raise ValueError("the lines do not match their counts")
    except (zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.info("cutting a page afresh: its cached copy is damaged (%s)", exc)
        return None
    return articles, chunks, article_lines, chunk_lines


def _json_rows(lines: list[bytes]) -> list[Any]:
    rows = json.loads(b"[" + b",".join(lines) + b"]")
    if not isinstance(rows, list):
        raise TypeError("not a list")
    return rows


def split_each_page(pages: Sequence[Page], progress: bool = False) -> list[list[Article]]:
    """Each page's articles; the bar counts characters, as one story may be 30 MB."""
    out: list[list[Article]] = []
    with stage_bar("cleaning", sum(len(page.text) for page in pages), "char", progress) as bar:
        for page in pages:
            out.append(split_articles(page))
            bar.update(len(page.text))
    return out


def load_stories(settings: Settings, progress: bool = False) -> LoadReport:
    """The story files of `settings.docs_dir`, read (a bad one is skipped with its reason)."""
    report = load_pages(
        settings.docs_dir,
        max_bytes=settings.max_story_bytes,
        max_lines=settings.max_story_lines,
        follow_outside_symlinks=settings.follow_outside_symlinks,
        progress=progress,
    )
    if not report.pages:
        skipped = len(report.skipped)
        raise BuildError(f"no readable stories in {settings.docs_dir} ({skipped} skipped)")
    return report


def prepare_corpus(
    settings: Settings,
    progress: bool = False,
    embedder: Embedder | None = None,
    timer: StageTimer | None = None,
    previous: LastBuild | None = None,
    analyses: AnalysisCache | None = None,
    out: Path | None = None,
    report: LoadReport | None = None,
) -> PreparedCorpus:
    """Read, clean, chunk and embed the stories (the cache embeds only what changed; the
    vectors of texts the `previous` build had are read from its arrays). `analyses`: the
    analysis cache, when the caller has it open (else it is opened here for the pages);
    `out`: where chunks.jsonl and articles.jsonl are written as the pages are cut; `report`:
    the stories, when the caller has read them."""
    timer = timer or StageTimer()
    docs_dir = settings.docs_dir
    if report is None:
        with timer("load"):
            report = load_stories(settings, progress)
    skipped = tuple((s.file, s.reason) for s in report.skipped)
    own = analyses is None
    if own:
        analyses = open_analysis_cache(settings)
    try:
        articles, chunks, offsets = clean_and_chunk(
            report.pages, settings, analyses, timer, progress, out
        )
    finally:
        if own and analyses is not None:
            analyses.close()
    # The articles hold the text now; the report keeps what the manifest needs of each page.
    report = LoadReport(
        pages=tuple(replace(page, text="") for page in report.pages), skipped=report.skipped
    )
    if not chunks:
        raise BuildError(f"the stories in {docs_dir} hold no text to index")

    with timer("embed"):
        try:
            model = embedder or embedder_for(settings)
        except NewsqaError as exc:
            raise BuildError(str(exc)) from exc
        texts, keys, vectors, embedded = embed_chunks(
            settings, model, articles, chunks, previous, progress, embedder
        )
    return PreparedCorpus(
        report, skipped, articles, chunks, model, texts, vectors, embedded, keys, offsets
    )


def embed_chunks(
    settings: Settings,
    model: Embedder,
    articles: Sequence[Article],
    chunks: Sequence[Chunk],
    previous: LastBuild | None,
    progress: bool,
    embedder: Embedder | None,
) -> tuple[list[str], list[str], np.ndarray, int]:
    """The chunks' retrieval texts, their keys, their vectors and how many were embedded
    afresh: the `previous` build's arrays, the cache and then the model, in that order.
    `embedder`: the one the caller gave (None: workers load the configured model)."""
    leads = [article_lead(articles[row]) for row in chunk_article_rows(chunks, articles)]
    texts = [retrieval_text(c, lead) for c, lead in zip(chunks, leads, strict=True)]
    keys = [text_key(t) for t in texts]
    vectors, fresh = _previous_vectors(previous, model, keys)
    jobs = _embedding_jobs(settings, model)
    cache = EmbeddingCache.open(
        settings.cache_dir / "embeddings.sqlite", settings.cache_lock_timeout_s
    )
    try:
        vectors[fresh], embedded = embed_passages_cached(
            model,
            [texts[row] for row in fresh.tolist()],
            cache,
            settings.embed_batch_size,
            progress=progress,
            jobs=jobs,
            source=_worker_source(settings, embedder) if jobs > 1 else None,
        )
    finally:
        if cache is not None:
            cache.close()
    return texts, keys, vectors, embedded


def open_analysis_cache(settings: Settings) -> AnalysisCache | None:
    return AnalysisCache.open(settings.cache_dir / "analysis.sqlite", settings.cache_lock_timeout_s)


def _previous_vectors(
    previous: LastBuild | None, model: Embedder, keys: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """A matrix holding the vectors the previous build made of these texts, and the rows it
    did not have (those the caches or the embedder fill)."""
    matrix = np.zeros((len(keys), model.dimension), dtype=np.float32)
    known = previous.vectors(model.id, model.dimension) if previous else None
    if previous is None or known is None:
        return matrix, np.arange(len(keys))
    rows = previous.rows(CHUNK_TEXTS, key_array(keys))
    have = np.flatnonzero(rows >= 0)
    copy_rows(known, rows[have], matrix, have)
    return matrix, np.flatnonzero(rows < 0)


def _embedding_jobs(settings: Settings, model: Embedder) -> int:
    """Worker processes for embedding: one model on a GPU serves best from one process, and
    the bundled model batches passages on every core in one process (docs/speed.md)."""
    if settings.embed_device != "cpu" or isinstance(model, BundledE5Embedder):
        return 1
    return resolve_jobs(settings.build_jobs)


def _worker_source(settings: Settings, embedder: Embedder | None) -> EmbedderSource | None:
    """What embedding workers load: the configured model, or the embedder given (when it can
    be sent to another process); None keeps embedding in this process."""
    if embedder is None:
        return settings
    try:
        pickle.dumps(embedder)
    except Exception:
        log.info("embedder %s cannot be sent to workers; embedding in one process", embedder.id)
        return None
    return embedder


def loads(settings: Settings) -> Callable[[Path], None]:
    """The check a generation passes before `current` switches to it: it opens as the
    serving side opens it (checksums, every index file, counts), else the build fails and
    the serving generation stays."""

    def check(directory: Path) -> None:
        try:
            open_generation(directory, settings.search_threads)
        except NewsqaError as exc:
            raise BuildError(f"the new generation does not load, not published: {exc}") from exc

    return check


def new_manifest(
    model: Embedder,
    index_type: str,
    report: LoadReport,
    counts: tuple[int, int],
    artifacts: dict[str, str],
    settings: dict[str, Any],
) -> Manifest:
    """A new generation's manifest: its stories' hashes and skips from `report`, its article
    and chunk `counts`, the `artifacts`' checksums and the build `settings` it records."""
    return Manifest(
        schema_version=SCHEMA_VERSION,
        generation=new_generation_id(),
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        embedder=model.id,
        dimension=model.dimension,
        index_type=index_type,
        stories=len(report.pages),
        articles=counts[0],
        chunks=counts[1],
        files={p.file: p.sha256 for p in report.pages},
        artifacts=artifacts,
        skipped={s.file: s.reason for s in report.skipped},
        settings=settings,
    )


def _peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux and macOS report it differently)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def write_analysed_bm25(
    analysed: Analysed, directory: Path, base: BaseStatistics | None = None
) -> None:
    """`write_bm25` of an analysis's token ids (`base`: a delta segment beside it)."""
    write_bm25(analysed.ids, analysed.offsets, analysed.terms, directory, analysed.counts, base)


@dataclass(frozen=True)
class LexiconWork:
    """What a worker assembles the cross-lingual lexicon from."""

    words: list[str]  # the corpus's words
    pairs: list[str]  # its adjacent word pairs (names split in two)
    pinyin: dict[str, str]  # spellings whose pinyin is known already
    last_build: Path | None  # a last build's arrays holding more of it
    cache_dir: Path | None  # where the parsed dictionary is kept
    named: list[str] | None = None  # `named_words(words, pairs)`, when already made


@dataclass(frozen=True)
class LexiconOutput:
    text: str  # the lexicon file's
    computed: dict[str, str]  # pinyin the worker spelled itself (the cache lacks it)
    # Every spelling whose pinyin was looked up and its keys, joined as
    # `LastBuildWriter.save_joined` keeps them for the next build.
    spelled: npt.NDArray[np.uint8] | None
    keys: npt.NDArray[np.uint8] | None


def lexicon_job(
    words: Analysed,
    pairs: Analysed,
    cache: AnalysisCache | None,
    pool: ShardPool,
    cache_dir: Path | None = None,
    previous: LastBuild | None = None,
) -> Future[LexiconOutput]:
    """The cross-lingual lexicon of the corpus's words, assembled by the pool
    (`finish_lexicon` gives its text); their pinyin comes from the `previous` build's
    arrays, the cache or the pool first (it is most of the lexicon's cost); the parsed
    dictionary comes from `cache_dir` (`dictionary_glosses`). After a build whose pinyin
    is kept whole, a worker does it all, spelling only the new words itself."""
    corpus_words = [words.terms[i] for i in _used_ids(words).tolist()]
    corpus_pairs = [pairs.terms[i] for i in _used_ids(pairs).tolist()]
    small = len(corpus_words) + len(corpus_pairs) < PARALLEL_LEXICON_WORDS
    runner = ShardPool(1) if small else pool  # a small corpus: less than a worker's start-up
    if previous is not None and previous.has_pinyin():
        work = LexiconWork(corpus_words, corpus_pairs, {}, previous.directory, cache_dir)
        return runner.submit(assemble_lexicon, work)
    named = named_words(corpus_words, corpus_pairs)
    needed = sorted(spelled_words(named))
    known = cache.get_pinyin(needed) if cache else {}
    missing = [w for w in needed if w not in known]
    pieces = shards(missing, PINYIN_SHARD)
    for number, keys in pool.imap(pinyin_keys, pieces):
        computed = dict(zip(pieces[number], keys, strict=True))
        if cache:
            cache.put_pinyin(computed)
        known.update(computed)
    work = LexiconWork(corpus_words, corpus_pairs, known, None, cache_dir, named)
    return runner.submit(assemble_lexicon, work)


def finish_lexicon(
    job: Future[LexiconOutput], cache: AnalysisCache | None, keep: LastBuildWriter | None
) -> str:
    """The lexicon file's text; the pinyin the job spelled goes to the cache, and what it
    looked up to `keep`, for the next build."""
    out = job.result()
    if cache is not None and out.computed:
        cache.put_pinyin(out.computed)
    if keep is not None and out.spelled is not None and out.keys is not None:
        keep.save_joined(f"{PINYIN}.words", out.spelled)
        keep.save_joined(f"{PINYIN}.keys", out.keys)
    return out.text


def assemble_lexicon(work: LexiconWork) -> LexiconOutput:
    """The lexicon (run by a worker): pinyin not given is read from the last build's arrays or
    spelled here."""
    named = work.named if work.named is not None else named_words(work.words, work.pairs)
    needed = sorted(spelled_words(named))
    known = {w: work.pinyin[w] for w in needed if w in work.pinyin}
    last = LastBuild.open(work.last_build.parent) if work.last_build is not None else None
    if last is not None:
        known.update(last.pinyin([w for w in needed if w not in known]))
    missing = [w for w in needed if w not in known]
    computed = dict(zip(missing, pinyin_keys(missing), strict=True))
    known.update(computed)
    glosses = dictionary_glosses(work.cache_dir)
    lexicon = CrossLingualLexicon.build(work.words, (), pinyin=known, glosses=glosses, named=named)
    return LexiconOutput(
        lexicon.to_text(),
        computed,
        joined_strings(needed),
        joined_strings([known[w] for w in needed]),
    )


def _used_ids(analysed: Analysed) -> npt.NDArray[np.int64]:
    """The distinct ids of an analysis, ascending (`np.unique`, by counting)."""
    if not len(analysed.ids):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.bincount(analysed.ids, minlength=len(analysed.terms)))
