"""A loaded generation that answers questions: search → extract → abstain or cite."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from index.answer import extract_answer, should_abstain
from index.backends.engine import open_backend_generation
from index.backends.uri import backend_spec, index_root
from index.constraints import asked_constraints, differences
from index.corpus import Corpus
from index.embedding import Embedder, embedder_for
from index.errors import EmbedderError, IndexInvalidError, IndexNotFoundError
from index.generation import open_generation
from index.models import (
    AnswerSpan,
    Article,
    Chunk,
    Difference,
    Hit,
    IndexInfo,
    Passage,
    PassageContext,
    QAResult,
    Source,
    Topic,
)
from index.names import read_names
from index.question import has_latin_words, normalize_question
from index.quoting import in_paragraph, quote_span
from index.reader.agreement import Verdict
from index.reader.readings import ReadSpan
from index.search import HybridSearcher, Searcher
from index.settings import Settings
from index.store import Manifest, current_directory, generation_dirs
from index.topic import CorpusWords, topic_words

if TYPE_CHECKING:  # the reader imports torch: only engines that use it pay for that
    from index.reader.reading import PassageReader

log = logging.getLogger(__name__)

# Longer questions are cut before embedding and tokenising: the model reads 512 tokens at most.
MAX_QUERY_CHARS = 512
# A cited passage is its paragraph, cut to this many characters around the match.
MAX_PASSAGE_CHARS = 800
# A follow-up searches this many chunks for the ones of its topic's article.
SCOPED_CANDIDATES = 120


class Engine:
    """Implements `index.engine.QAEngine` over one validated generation."""

    def __init__(
        self,
        manifest: Manifest,
        path: Path,
        searcher: Searcher,
        corpus: Corpus,
        settings: Settings,
        reader: PassageReader | None = None,
    ) -> None:
        self.manifest = manifest
        self._reader = reader
        self.path = path
        self._searcher = searcher
        self._corpus = corpus
        self._settings = settings
        # Built on first use; a race only builds it twice (both results are equal).
        self._words: CorpusWords | None = None
        self._names = read_names(path)  # display names of story files (index/names.py)

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

    def answer(
        self, question: str, within_file: str | None = None, *, context: Topic | None = None
    ) -> QAResult:
        """`within_file` reads only that story (reading-comprehension evaluation: the gold
        story is given, so the answer stage is measured without retrieval errors).
        `context` is the previous exchange's topic in this conversation: a question that names
        no topic of its own (or any reply to that answer) is answered inside its article, with
        its key terms joined to the query; `QAResult.context` says when that happened."""
        started = time.perf_counter()
        query = _query(question)
        own_terms = topic_words(query, self._corpus_words())
        carried = context if context and (context.reply or not own_terms) else None
        if carried is not None:
            query = " ".join([query, *carried.terms])[:MAX_QUERY_CHARS]
            hits = self._scoped_hits(query, carried)
        elif within_file is None:
            hits = self._hits(query, self._settings.candidates)
        else:
            everything = self._hits(query, len(self._corpus))
            hits = [h for h in everything if h.chunk.file == within_file]
        if within_file is not None and carried is not None:
            hits = [h for h in hits if h.chunk.file == within_file]
        answer, cited = self._answer_stage(query, hits)
        nearest: AnswerSpan | None = None
        differs: tuple[Difference, ...] = ()
        if answer is not None and cited is not None and self._settings.check_constraints:
            differs = self._differences(question, answer, cited)
            if differs:
                nearest, answer = answer, None
        if answer is not None and carried is not None and _repeats(query, answer, carried):
            # A follow-up answered with the fact the last answer bolded asks something the
            # article does not say: repeating that fact under 接上文 would read as an answer.
            answer = None
        ordered = hits
        if cited is not None:
            # The passage the answer was quoted from is cited first.
            ordered = [h for h in hits if h.chunk.id == cited.id] + [
                h for h in hits if h.chunk.id != cited.id
            ]
        passages = self._passages(ordered, 0, self._settings.top_k)
        terms = own_terms or (carried.terms if carried else ())
        return QAResult(
            question=question,
            abstained=answer is None,
            answer=answer,
            passages=passages,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            context=carried,
            topic=self._next_topic(cited if answer else None, carried, terms, answer),
            nearest=nearest,
            differs=differs,
        )

    def _differences(
        self, question: str, answer: AnswerSpan, chunk: Chunk
    ) -> tuple[Difference, ...]:
        """What the question asks (a place, year, ordinal) that the answer's evidence — its
        sentence, paragraph, article — says otherwise."""
        asked = asked_constraints(question)
        if not asked:
            return ()
        article = self._corpus.article(chunk.file, chunk.article_index)
        text = _article_text(article) if article is not None else None
        page = None
        if any(a.kind == "year" for a in asked):
            page = "\n".join(map(_article_text, self._page_articles(chunk.file)))
        paragraph = self._paragraph_text(chunk)
        return differences(asked, answer.text, paragraph, text, page, answer.highlight)

    def _page_articles(self, file: str) -> list[Article]:
        """Every article of one story file, in order."""
        found: list[Article] = []
        while (article := self._corpus.article(file, len(found))) is not None:
            found.append(article)
        return found

    def _answer_stage(self, query: str, hits: list[Hit]) -> tuple[AnswerSpan | None, Chunk | None]:
        """'auto': questions with latin words go to the trained reader alone (the rules were
        written on Chinese questions; held-out code-switched answer@1 0.003 against 0.731),
        the others to the rules and the reader together (`index.reader.agreement`)."""
        if self._reader is None:
            return self._extract(query, hits)
        if self._settings.answerer == "reader" or has_latin_words(query):
            return self._read(query, hits)
        return self._agreed(query, hits)

    def topic(self, chunk_id: str) -> Topic | None:
        """The article behind a chunk id, as a reply's scope (None when no longer indexed)."""
        chunk = self._corpus.chunk(chunk_id)
        if chunk is None:
            return None
        return Topic(chunk.file, chunk.article_index, chunk.headline, reply=True)

    def _next_topic(
        self,
        cited: Chunk | None,
        carried: Topic | None,
        terms: tuple[str, ...],
        answer: AnswerSpan | None,
    ) -> Topic | None:
        """What a follow-up to this answer is answered in: the answer's article; after an
        abstention inside a carried context, that context still."""
        if cited is not None:
            answered = (answer.highlight or answer.text) if answer else ""
            return Topic(cited.file, cited.article_index, cited.headline, terms, answered=answered)
        if carried is not None:
            return Topic(
                carried.file,
                carried.article_index,
                carried.headline,
                terms,
                answered=carried.answered,
            )
        return None

    def _scoped_hits(self, query: str, topic: Topic) -> list[Hit]:
        """The topic article's chunks, ranked for the query: retrieved ones first, the rest of
        the article after them (so a fact retrieval ranked low is still read)."""
        pool = max(SCOPED_CANDIDATES, self._settings.candidates)
        ranked = [h for h in self._hits(query, pool) if _article_of(h.chunk) == topic.article_key]
        seen = {h.chunk.id for h in ranked}
        rest = [
            Hit(chunk=c, score=0.0)
            for c in self._corpus.article_chunks(*topic.article_key)
            if c.id not in seen
        ]
        return ranked + rest

    def _corpus_words(self) -> CorpusWords:
        """Which nouns are common in this generation (built on first use)."""
        if self._words is None:
            self._words = CorpusWords(f"{a.headline}\n{a.text}" for a in self._corpus.articles())
        return self._words

    @property
    def reader_margin(self) -> float:
        """The reader's abstention margin (calibrated in training)."""
        if self._reader is None:
            raise ValueError("this engine answers with the rules, not the reader")
        return self._reader.abstain_margin

    def reader_candidates(self, question: str, limit: int = 20) -> list[ReadSpan]:
        """The reader's candidate spans for a question asked afresh (to fit the reranker)."""
        if self._reader is None:
            raise ValueError("this engine answers with the rules, not the reader")
        query = _query(question)
        return self._reader.candidates(query, self._hits(query, self._settings.candidates), limit)

    def _read(self, query: str, hits: list[Hit]) -> tuple[AnswerSpan | None, Chunk | None]:
        """The trained reader's span, quoted with its sentence; None when it abstains."""
        assert self._reader is not None
        if not hits:
            return None, None
        return self._quoted(self._reader.answer(query, hits))

    def _agreed(self, query: str, hits: list[Hit]) -> tuple[AnswerSpan | None, Chunk | None]:
        """The rules' answer where the reader agrees with its highlight, else the reader's."""
        assert self._reader is not None
        if not hits:
            return None, None
        reading = self._reader.read(query, hits)
        ruled, chunk = self._extract(query, hits)
        verdict = self._reader.agreement.settle(ruled.highlight if ruled else None, reading)
        if verdict is Verdict.RULES:
            return ruled, chunk
        if verdict is Verdict.READER:
            return self._quoted(reading.answer)
        return None, None

    def _quoted(self, span: ReadSpan | None) -> tuple[AnswerSpan | None, Chunk | None]:
        if span is None:
            return None, None
        return self._quote(span.hit.chunk, span.start, span.end), span.hit.chunk

    def _quote(self, chunk: Chunk, start: int, end: int) -> AnswerSpan:
        """The span [start, end) of the chunk quoted from its whole paragraph: the chunker may
        have cut the sentence that holds it."""
        text, start, end = in_paragraph(self._paragraph_text(chunk), chunk.text, start, end)
        quote, highlight = quote_span(text, start, end, self._settings.max_answer_chars)
        return AnswerSpan(text=quote, highlight=highlight, source=self._source(chunk))

    def _source(self, chunk: Chunk) -> Source:
        return Source(
            file=chunk.file,
            article=chunk.headline,
            paragraph=chunk.paragraph,
            article_paragraph=self._in_article(chunk)[1],
            story=self._names.get(chunk.file, ""),
        )

    def _paragraph_text(self, chunk: Chunk) -> str | None:
        """The cleaned paragraph the chunk was cut from (None if its article is gone)."""
        return self._in_article(chunk)[0]

    def _in_article(self, chunk: Chunk) -> tuple[str | None, int]:
        """The chunk's paragraph text and its 1-based position within the article, as a
        reader counts (None and 0 if its article is gone)."""
        article = self._corpus.article(chunk.file, chunk.article_index)
        if article is None:
            return None, 0
        for at, paragraph in enumerate(article.paragraphs, start=1):
            if paragraph.number == chunk.paragraph:
                return paragraph.text, at
        return None, 0

    def _extract(self, query: str, hits: list[Hit]) -> tuple[AnswerSpan | None, Chunk | None]:
        """The rule extractor: the baseline the reader is measured against."""
        extraction = extract_answer(
            query,
            hits,
            self.embedder,
            max_chars=self._settings.max_answer_chars,
            translations=self._searcher.lexicon.expand(query),
        )
        if extraction is None or should_abstain(query, extraction, hits):
            return None, None
        chunk = extraction.chunk
        if extraction.span is not None:
            return self._quote(chunk, *extraction.span), chunk
        return AnswerSpan(extraction.text, extraction.highlight, self._source(chunk)), chunk

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
        paragraph, at = self._in_article(chunk)
        text = (
            chunk.text if paragraph is None else _window(paragraph, [h.chunk.text for h in group])
        )
        return Passage(
            chunk_id=chunk.id,
            text=text,
            file=chunk.file,
            article=chunk.headline,
            paragraph=chunk.paragraph,
            score=best.score,
            article_paragraph=at,
            story=self._names.get(chunk.file, ""),
        )

    def context(self, chunk_id: str, radius: int = 1) -> PassageContext | None:
        chunk = self._corpus.chunk(chunk_id)
        if chunk is None:
            return None
        article = self._corpus.article(chunk.file, chunk.article_index)
        if article is None:
            return None
        numbers = [p.number for p in article.paragraphs]
        at = numbers.index(chunk.paragraph) if chunk.paragraph in numbers else 0
        window = article.paragraphs[max(0, at - radius) : at + radius + 1]
        return PassageContext(
            chunk_id=chunk.id,
            file=chunk.file,
            article=article.headline,
            paragraphs=tuple(window),
            focus=chunk.paragraph,
            first=max(0, at - radius) + 1,
            story=self._names.get(chunk.file, ""),
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


_ASKED_MEASURE = re.compile(r"(?:多少|几)(\w)")


def _repeats(question: str, answer: AnswerSpan, topic: Topic) -> bool:
    """The follow-up got the fact the last answer bolded while it counts in another measure
    (最后批下来几个 after 90余场次; 那开展了多少场次 asks for it again)."""
    said = answer.highlight or answer.text
    if not topic.answered or said != topic.answered:
        return False
    asked = _ASKED_MEASURE.search(question)
    return asked is not None and asked.group(1) not in said


def _article_text(article: Article) -> str:
    return "\n".join([article.headline, *(p.text for p in article.paragraphs)])


def _article_of(chunk: Chunk) -> tuple[str, int]:
    return (chunk.file, chunk.article_index)


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


def configured_reader(settings: Settings) -> PassageReader | None:
    """The reader the settings ask for (loaded once per process), or None for the rules."""
    if settings.answerer == "rules":
        return None
    from index.reader.reading import shared_reader

    try:
        return shared_reader(settings.reader_dir, settings.reader_passages, settings.reader_threads)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexInvalidError(f"cannot load the answer reader: {exc}") from exc


def load_generation(
    path: Path,
    settings: Settings,
    embedder: Embedder | None = None,
    reader: PassageReader | None = None,
) -> Engine:
    """Validate and load one generation directory; raise IndexInvalidError with the reason."""
    opened = open_generation(path, settings.search_threads)
    manifest = opened.manifest
    if embedder is None:
        embedder = _configured_embedder(settings)
    if reader is None:
        reader = configured_reader(settings)
    if embedder.id != manifest.embedder or embedder.dimension != manifest.dimension:
        raise IndexInvalidError(
            f"{path.name}: built with embedder {manifest.embedder!r} "
            f"({manifest.dimension}-d) but {embedder.id!r} ({embedder.dimension}-d) is "
            "configured; rebuild or set NEWSQA_EMBEDDER to match"
        )
    searcher = HybridSearcher(
        corpus=opened.corpus,
        chunk_articles=opened.chunk_articles,
        dense_index=opened.dense,
        chunk_lexical=opened.chunk_lexical,
        article_lexical=opened.article_lexical,
        embedder=embedder,
        lexicon=opened.lexicon,
    )
    return Engine(
        manifest=manifest,
        path=path,
        searcher=searcher,
        corpus=opened.corpus,
        settings=settings,
        reader=reader,
    )


def load_engine(
    settings: Settings, embedder: Embedder | None = None, fallback: bool = True
) -> Engine:
    """Load the current generation; if it is refused, fall back to the newest valid older one.
    A backend named by NEWSQA_BACKEND serves the generation its alias points at."""
    if not backend_spec(settings).embedded:
        opened = open_backend_generation(settings, embedder or _configured_embedder(settings))
        return Engine(
            manifest=opened.manifest,
            path=opened.path,
            searcher=opened.searcher,
            corpus=opened.corpus,
            settings=settings,
            reader=configured_reader(settings),
        )
    root = index_root(settings)
    candidates: list[Path] = []
    try:
        current = current_directory(root)
    except IndexInvalidError as exc:
        log.error("refusing %s", exc)
        current = None
    if current is not None:
        candidates.append(current.resolve())
    if fallback:
        candidates += [d for d in generation_dirs(root) if d.resolve() not in candidates]
    if not candidates:
        raise IndexNotFoundError(f"no index under {root}: run `newsqa index build` first")
    if embedder is None:
        embedder = _configured_embedder(settings)
    reader = configured_reader(settings)
    errors: list[str] = []
    for path in candidates:
        try:
            engine = load_generation(path, settings, embedder, reader)
        except IndexInvalidError as exc:
            log.error("refusing index generation %s: %s", path.name, exc)
            errors.append(str(exc))
            continue
        if errors or current is None:
            log.warning("serving older generation %s instead", path.name)
        return engine
    raise IndexInvalidError("no usable index generation: " + "; ".join(errors))
