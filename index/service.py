"""A loaded generation that answers questions: search → extract → abstain or cite."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from index.answer import extract_answer, should_abstain
from index.build import (
    ARTICLE_BM25_DIR,
    ARTICLES_FILE,
    CHUNK_BM25_DIR,
    CHUNKS_FILE,
    DENSE_FILE,
    LEXICON_FILE,
    chunk_article_rows,
)
from index.crosslingual import CrossLingualLexicon
from index.dense import load_dense_index
from index.embedding import Embedder, embedder_for
from index.errors import EmbedderError, IndexInvalidError, IndexNotFoundError
from index.lexical import load_bm25
from index.models import (
    AnswerSpan,
    Article,
    Chunk,
    Hit,
    IndexInfo,
    Paragraph,
    Passage,
    PassageContext,
    QAResult,
    Source,
)
from index.question import normalize_question
from index.search import HybridSearcher
from index.settings import Settings
from index.store import CURRENT, Manifest, generation_dirs, validate_generation

log = logging.getLogger(__name__)

# Longer questions are cut before embedding and tokenising: the model reads 512 tokens at most.
MAX_QUERY_CHARS = 512
# A cited passage is its paragraph, cut to this many characters around the match.
MAX_PASSAGE_CHARS = 800


class Engine:
    """Implements `index.engine.QAEngine` over one validated generation."""

    def __init__(
        self,
        manifest: Manifest,
        path: Path,
        searcher: HybridSearcher,
        articles: dict[tuple[str, int], Article],
        settings: Settings,
    ) -> None:
        self.manifest = manifest
        self.path = path
        self._searcher = searcher
        self._articles = articles
        self._chunks_by_id = {c.id: c for c in searcher.chunks}
        self._settings = settings

    @property
    def info(self) -> IndexInfo:
        return self.manifest.info()

    @property
    def embedder(self) -> Embedder:
        return self._searcher.embedder

    def search(self, question: str, k: int) -> list[Hit]:
        return self._hits(_query(question), k)

    def _hits(self, query: str, k: int) -> list[Hit]:
        if not _has_content(query):
            return []
        return self._searcher.search(query, k, candidates=max(self._settings.candidates, k))

    def answer(self, question: str) -> QAResult:
        started = time.perf_counter()
        query = _query(question)
        hits = self._hits(query, self._settings.candidates)
        extraction = extract_answer(
            query,
            hits,
            self.embedder,
            max_chars=self._settings.max_answer_chars,
            translations=self._searcher.lexicon.expand(query),
        )
        abstained = extraction is None or should_abstain(query, extraction, hits)
        answer: AnswerSpan | None = None
        ordered = hits
        if extraction is not None and not abstained:
            chunk = extraction.chunk
            answer = AnswerSpan(
                text=extraction.text,
                highlight=extraction.highlight,
                source=Source(file=chunk.file, article=chunk.headline, paragraph=chunk.paragraph),
            )
            # The passage the answer was quoted from is cited first.
            ordered = [h for h in hits if h.chunk.id == chunk.id] + [
                h for h in hits if h.chunk.id != chunk.id
            ]
        passages = self._passages(ordered, 0, self._settings.top_k)
        return QAResult(
            question=question,
            abstained=abstained,
            answer=answer,
            passages=passages,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def more_passages(self, question: str, offset: int, limit: int) -> tuple[Passage, ...]:
        hits = self.search(question, 2 * (offset + limit))
        return self._passages(hits, offset, limit)

    def _passages(self, hits: list[Hit], offset: int, limit: int) -> tuple[Passage, ...]:
        """One passage per paragraph: chunks of the same paragraph would repeat each other."""
        matched: dict[tuple[str, int], list[Hit]] = {}
        for hit in hits:
            matched.setdefault((hit.chunk.file, hit.chunk.paragraph), []).append(hit)
        groups = list(matched.values())[offset : offset + limit]
        return tuple(self._passage(group) for group in groups)

    def _passage(self, group: list[Hit]) -> Passage:
        """The cited paragraph, or the part of a long one that covers its matched chunks."""
        best = group[0]
        chunk = best.chunk
        article = self._articles.get((chunk.file, chunk.article_index))
        text = chunk.text
        if article is not None:
            for paragraph in article.paragraphs:
                if paragraph.number == chunk.paragraph:
                    text = _window(paragraph.text, [h.chunk.text for h in group])
                    break
        return Passage(
            chunk_id=chunk.id,
            text=text,
            file=chunk.file,
            article=chunk.headline,
            paragraph=chunk.paragraph,
            score=best.score,
        )

    def context(self, chunk_id: str, radius: int = 1) -> PassageContext | None:
        chunk = self._chunks_by_id.get(chunk_id)
        if chunk is None:
            return None
        article = self._articles[(chunk.file, chunk.article_index)]
        numbers = [p.number for p in article.paragraphs]
        at = numbers.index(chunk.paragraph) if chunk.paragraph in numbers else 0
        window = article.paragraphs[max(0, at - radius) : at + radius + 1]
        return PassageContext(
            chunk_id=chunk.id,
            file=chunk.file,
            article=article.headline,
            paragraphs=tuple(window),
            focus=chunk.paragraph,
        )


def _window(paragraph: str, chunks: list[str], limit: int = MAX_PASSAGE_CHARS) -> str:
    """The paragraph, or `limit` characters of it from the first matched chunk on; the best
    chunk (first in `chunks`) is always inside."""
    if len(paragraph) <= limit:
        return paragraph
    spans = [(at, at + len(c)) for c in chunks if (at := paragraph.find(c)) >= 0]
    if not spans:
        return chunks[0]
    best_start, best_end = spans[0]
    start = min(at for at, _ in spans)
    start = max(start, best_end - limit)
    start = min(start, best_start, len(paragraph) - limit)
    return paragraph[max(0, start) : max(0, start) + limit]


def _query(question: str) -> str:
    return normalize_question(question)[:MAX_QUERY_CHARS]


def _has_content(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _configured_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name; a model that will not load makes the index unusable."""
    try:
        return embedder_for(settings)
    except EmbedderError as exc:
        raise IndexInvalidError(str(exc)) from exc


def load_generation(path: Path, settings: Settings, embedder: Embedder | None = None) -> Engine:
    """Validate and load one generation directory; raise IndexInvalidError with the reason."""
    manifest = validate_generation(path)
    if embedder is None:
        embedder = _configured_embedder(settings)
    if embedder.id != manifest.embedder or embedder.dimension != manifest.dimension:
        raise IndexInvalidError(
            f"{path.name}: built with embedder {manifest.embedder!r} "
            f"({manifest.dimension}-d) but {embedder.id!r} ({embedder.dimension}-d) is "
            "configured; rebuild or set NEWSQA_EMBEDDER to match"
        )
    try:
        chunks = [
            Chunk.from_json(json.loads(line))
            for line in (path / CHUNKS_FILE).read_text("utf-8").splitlines()
        ]
        articles = [
            _article_from_json(json.loads(line))
            for line in (path / ARTICLES_FILE).read_text("utf-8").splitlines()
        ]
        dense = load_dense_index(path / DENSE_FILE, threads=settings.search_threads)
        chunk_bm25 = load_bm25(path / CHUNK_BM25_DIR)
        article_bm25 = load_bm25(path / ARTICLE_BM25_DIR)
        lexicon = CrossLingualLexicon.load(path / LEXICON_FILE)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexInvalidError(f"{path.name}: cannot read index files: {exc}") from exc
    if len(chunks) != manifest.chunks or dense.ntotal != manifest.chunks:
        raise IndexInvalidError(f"{path.name}: chunk counts disagree with the manifest")
    searcher = HybridSearcher(
        chunks=chunks,
        chunk_articles=chunk_article_rows(chunks, articles),
        dense_index=dense,
        chunk_bm25=chunk_bm25,
        article_bm25=article_bm25,
        embedder=embedder,
        lexicon=lexicon,
    )
    return Engine(
        manifest=manifest,
        path=path,
        searcher=searcher,
        articles={(a.file, a.index): a for a in articles},
        settings=settings,
    )


def _article_from_json(data: dict[str, object]) -> Article:
    paragraphs = data["paragraphs"]
    assert isinstance(paragraphs, list)
    return Article(
        file=str(data["file"]),
        index=int(str(data["index"])),
        headline=str(data["headline"]),
        byline=str(data.get("byline", "")),
        paragraphs=tuple(Paragraph(number=int(n), text=str(t)) for n, t in paragraphs),
    )


def load_engine(
    settings: Settings, embedder: Embedder | None = None, fallback: bool = True
) -> Engine:
    """Load the current generation; if it is refused, fall back to the newest valid older one."""
    root = settings.index_dir
    current = root / CURRENT
    candidates: list[Path] = []
    if current.exists():
        candidates.append(current.resolve())
    if fallback:
        candidates += [d for d in generation_dirs(root) if d.resolve() not in candidates]
    if not candidates:
        raise IndexNotFoundError(f"no index under {root}: run `newsqa index build` first")
    if embedder is None:
        embedder = _configured_embedder(settings)
    errors: list[str] = []
    for path in candidates:
        try:
            engine = load_generation(path, settings, embedder)
        except IndexInvalidError as exc:
            log.error("refusing index generation %s: %s", path.name, exc)
            errors.append(str(exc))
            continue
        if errors:
            log.warning("serving older generation %s instead", path.name)
        return engine
    raise IndexInvalidError("no usable index generation: " + "; ".join(errors))
