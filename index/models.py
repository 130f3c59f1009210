"""The values that flow through the pipeline: files → pages → articles → chunks → hits → answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Page:
    """One decoded story file."""

    file: str  # file name relative to the docs directory
    text: str
    encoding: str
    sha256: str


@dataclass(frozen=True)
class Paragraph:
    """A cleaned paragraph; `number` is its 1-based position among the file's non-blank blocks."""

    number: int
    text: str


@dataclass(frozen=True)
class Article:
    """One article cut out of a newspaper page."""

    file: str
    index: int  # 0-based position of the article within its file
    headline: str
    paragraphs: tuple[Paragraph, ...]
    byline: str = ""

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of an article; ids are derived from content so they survive restarts."""

    id: str
    file: str
    article_index: int
    headline: str
    paragraph: int  # number of the paragraph the chunk starts in
    position: int  # 0-based chunk position within the article
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "article_index": self.article_index,
            "headline": self.headline,
            "paragraph": self.paragraph,
            "position": self.position,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(
            id=str(data["id"]),
            file=str(data["file"]),
            article_index=int(data["article_index"]),
            headline=str(data["headline"]),
            paragraph=int(data["paragraph"]),
            position=int(data["position"]),
            text=str(data["text"]),
        )


@dataclass(frozen=True)
class Hit:
    """A chunk returned by search, with its fused score and the parts it was fused from."""

    chunk: Chunk
    score: float
    dense_score: float = 0.0
    lexical_score: float = 0.0


@dataclass(frozen=True)
class Source:
    """Where a quote comes from. `file` and `paragraph` (among the file's non-blank blocks)
    are for operators; readers are shown `article_paragraph` (1-based within the article,
    0 when unknown) and `story`, the file's display name from the stories' names file
    ("" when it has none)."""

    file: str
    article: str
    paragraph: int
    article_paragraph: int = 0
    story: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "article": self.article,
            "paragraph": self.paragraph,
            "article_paragraph": self.article_paragraph,
            "story": self.story,
        }


@dataclass(frozen=True)
class AnswerSpan:
    """The extracted answer: a sentence or two from one story, and the exact span to highlight."""

    text: str
    highlight: str | None
    source: Source

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "highlight": self.highlight, "source": self.source.to_json()}


@dataclass(frozen=True)
class Passage:
    """A cited passage shown beside the answer; `article_paragraph` and `story` as in
    `Source`."""

    chunk_id: str
    text: str
    file: str
    article: str
    paragraph: int
    score: float
    article_paragraph: int = 0
    story: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "file": self.file,
            "article": self.article,
            "paragraph": self.paragraph,
            "score": round(self.score, 6),
            "article_paragraph": self.article_paragraph,
            "story": self.story,
        }


@dataclass(frozen=True)
class Topic:
    """The article an exchange was about: a later question that names no topic of its own, or
    a reply to that answer, is answered inside it. `terms` are the key words of the question
    that first named the topic; they join a follow-up's query."""

    file: str
    article_index: int
    headline: str
    terms: tuple[str, ...] = ()
    reply: bool = False  # a reply to an answer: scoped whatever the question names
    answered: str = ""  # the fact the exchange bolded: a follow-up that repeats it answers nothing

    @property
    def article_key(self) -> tuple[str, int]:
        return (self.file, self.article_index)

    def to_json(self) -> dict[str, Any]:
        return {"article": self.headline, "file": self.file}


@dataclass(frozen=True)
class Difference:
    """The evidence is about `found` where the question asked about `asked` (比如县 / 聂荣县)."""

    asked: str
    found: str

    def to_json(self) -> dict[str, str]:
        return {"asked": self.asked, "found": self.found}


@dataclass(frozen=True)
class QAResult:
    """What a question gets: an answer or an abstention, plus the nearest passages either way.
    `context` is the earlier exchange's topic the question was answered in (None: answered
    alone); `topic` is what a follow-up to this answer may be answered in."""

    question: str
    abstained: bool
    answer: AnswerSpan | None
    passages: tuple[Passage, ...] = field(default_factory=tuple)
    elapsed_ms: float = 0.0
    context: Topic | None = None
    topic: Topic | None = None
    # When the stories hold a fact near the one asked (another county, year or batch): that
    # fact, shown as not the answer, and what differs (`index.constraints`).
    nearest: AnswerSpan | None = None
    differs: tuple[Difference, ...] = ()

    def to_json(self) -> dict[str, Any]:
        nearest = None
        if self.nearest is not None:
            nearest = {**self.nearest.to_json(), "differs": [d.to_json() for d in self.differs]}
        return {
            "question": self.question,
            "abstained": self.abstained,
            "answer": self.answer.to_json() if self.answer else None,
            "nearest": nearest,
            "passages": [p.to_json() for p in self.passages],
            "elapsed_ms": round(self.elapsed_ms, 3),
            "context": self.context.to_json() if self.context else None,
        }


@dataclass(frozen=True)
class PassageContext:
    """A passage with its neighbouring paragraphs, for the bot's "原文" button."""

    chunk_id: str
    file: str
    article: str
    paragraphs: tuple[Paragraph, ...]
    focus: int  # paragraph number the passage starts in
    first: int = 1  # the first paragraph's 1-based position within the article
    story: str = ""  # the file's display name, as `Source.story`

    def article_number(self, paragraph: Paragraph) -> int:
        """A paragraph's 1-based position within the article (as readers count)."""
        numbers = [p.number for p in self.paragraphs]
        return self.first + numbers.index(paragraph.number)


@dataclass(frozen=True)
class IndexInfo:
    """What `/about` and `newsqa index list` show about a generation."""

    generation: str
    built_at: str
    embedder: str
    dimension: int
    stories: int
    articles: int
    chunks: int
    index_type: str
    delta_chunks: int = 0  # a daily build's chunks beside its base (`index.delta`)
