"""A backend generation opened for answering: its manifest, its corpus and a searcher over the
backend, from which `index.service` makes the same Engine the file generations get."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from index.backends.factory import open_catalog
from index.backends.protocol import Fusion, RetrievalBackend
from index.corpus import ARTICLES_FILE, CHUNKS_FILE, MemoryCorpus, article_from_json
from index.crosslingual import CrossLingualLexicon
from index.embedding import Embedder
from index.errors import IndexInvalidError
from index.generation import LEXICON_FILE
from index.models import Chunk, Hit
from index.settings import Settings
from index.store import Manifest

log = logging.getLogger(__name__)


class BackendSearcher:
    """`index.search.Searcher` over a backend: newsqa embeds the question and adds the
    cross-lingual words, the backend analyses the text and fuses in one call."""

    def __init__(
        self,
        backend: RetrievalBackend,
        embedder: Embedder,
        lexicon: CrossLingualLexicon,
        chunks: list[Chunk],
        fusion: Fusion = "weighted",
    ) -> None:
        self.backend = backend
        self.embedder = embedder
        self.lexicon = lexicon
        self.chunks = chunks
        self._by_id = {c.id: c for c in chunks}
        self._fusion: Fusion = fusion

    def search(self, question: str, k: int, candidates: int = 30) -> list[Hit]:
        if not self.chunks:
            return []
        vector = self.embedder.embed_queries([question])[0]
        text = " ".join([question, *self.lexicon.expand(question)])
        return self.backend.search(text, vector, k, fusion=self._fusion, candidates=candidates)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._by_id.get(chunk_id) or self.backend.chunk(chunk_id)


@dataclass(frozen=True)
class BackendGeneration:
    """What an Engine answers from, read from the generation NEWSQA_BACKEND's alias points at."""

    manifest: Manifest
    path: Path
    searcher: BackendSearcher
    corpus: MemoryCorpus


def open_backend_generation(settings: Settings, embedder: Embedder) -> BackendGeneration:
    """The current generation behind NEWSQA_BACKEND: its manifest, side data and searcher."""
    catalog = open_catalog(settings)
    backend = catalog.open(embedder.id, embedder.dimension)
    try:
        manifest = Manifest.from_json(catalog.manifest(backend.generation))
        lexicon = CrossLingualLexicon.from_text(backend.get_blob(LEXICON_FILE))
        articles = [
            article_from_json(json.loads(line))
            for line in backend.get_blob(ARTICLES_FILE).splitlines()
        ]
        chunks = [
            Chunk.from_json(json.loads(line)) for line in backend.get_blob(CHUNKS_FILE).splitlines()
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexInvalidError(f"{backend.generation}: side data unreadable: {exc}") from exc
    if len(chunks) != manifest.chunks:
        raise IndexInvalidError(f"{backend.generation}: chunk counts disagree with the manifest")
    searcher = BackendSearcher(backend, embedder, lexicon, chunks, settings.fusion)
    return BackendGeneration(
        manifest=manifest,
        path=Path(backend.generation),
        searcher=searcher,
        corpus=MemoryCorpus(chunks, articles),
    )
