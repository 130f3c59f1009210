"""The retrieval contract every backend meets, so newsqa can live in files or in a cluster.

Raw text crosses the boundary, never tokens: lexical analysis belongs to the backend (bm25s
with jieba + bigrams in files, a BM25 function with the jieba analyzer in Milvus). The question
embedding, cleaning, chunking, the reader and citations stay in newsqa.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from index.embedding import Vectors
from index.models import Chunk, Hit

# RRF is the contract every engine can honour; weighted (newsqa's 0.3/0.5/0.2) where supported.
Fusion = Literal["weighted", "rrf"]
RRF_K = 60


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk as a backend stores it: the chunk (its metadata), the text to index lexically
    and to embed, its vector, and its whole article's text for the article-level lift."""

    chunk: Chunk
    text: str
    vector: Vectors
    article_text: str

    @property
    def id(self) -> str:
        return self.chunk.id

    @property
    def story(self) -> str:
        return self.chunk.file

    @property
    def article_key(self) -> str:
        return f"{self.chunk.file}#{self.chunk.article_index}"


@dataclass(frozen=True)
class GenerationRow:
    """One published generation, as `newsqa index list` shows it."""

    generation: str
    current: bool
    manifest: dict[str, Any] = field(default_factory=dict)


class RetrievalBackend(Protocol):
    """One generation's retrieval index; writable until published, then read-only."""

    @property
    def generation(self) -> str: ...

    @property
    def embedder_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def upsert(self, records: Sequence[ChunkRecord]) -> None:
        """Insert or replace chunks by id."""
        ...

    def delete_story(self, story: str) -> None:
        """Remove every chunk of one story file."""
        ...

    def commit(self) -> None:
        """Make the writes so far searchable."""
        ...

    def search(
        self,
        text: str,
        vector: Vectors | None,
        k: int,
        *,
        stories: Sequence[str] | None = None,
        fusion: Fusion = "weighted",
        candidates: int = 30,
    ) -> list[Hit]:
        """Top-k chunks for a question in one call: dense + lexical, fused; `stories` filters.
        An empty `text` leaves out the lexical side, a None `vector` the dense side."""
        ...

    def chunk(self, chunk_id: str) -> Chunk | None:
        """The chunk behind an id (the bot's "原文" button), or None."""
        ...

    def count(self) -> int: ...

    def put_blob(self, name: str, text: str) -> None:
        """Side data of the generation (articles, the cross-lingual lexicon, the manifest)."""
        ...

    def get_blob(self, name: str) -> str:
        """Raise IndexInvalidError when the blob is missing."""
        ...

    def close(self) -> None: ...


class GenerationCatalog(Protocol):
    """The generations of one deployment and the atomic switch between them."""

    def create(self, embedder_id: str, dimension: int) -> RetrievalBackend:
        """A new, empty, unpublished generation to write into."""
        ...

    def publish(self, backend: RetrievalBackend, manifest: dict[str, Any]) -> str:
        """Record the manifest, then switch serving to this generation in one step."""
        ...

    def discard(self, backend: RetrievalBackend) -> None:
        """Drop an unpublished generation after a failed build."""
        ...

    def current(self) -> str | None:
        """Which generation serves now (cheap: the bot polls it)."""
        ...

    def open(
        self, embedder_id: str, dimension: int, generation: str | None = None
    ) -> RetrievalBackend:
        """Open a published generation (default: the current one) for reading; refuse one built
        with another embedder or dimension with IndexInvalidError."""
        ...

    def manifest(self, generation: str) -> dict[str, Any]: ...

    def generations(self) -> list[GenerationRow]:
        """Published generations, newest first."""
        ...

    def rollback(self) -> str:
        """Switch to the newest valid generation older than the current one."""
        ...

    def prune(self, keep: int) -> list[str]:
        """Drop the oldest generations beyond `keep`, never the current one."""
        ...

    def close(self) -> None: ...
