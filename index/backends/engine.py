"""An answering engine over a backend generation: the same Engine, fed by protocol search."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from index.backends.factory import open_catalog
from index.backends.protocol import Fusion, RetrievalBackend
from index.build import ARTICLES_FILE, CHUNKS_FILE, LEXICON_FILE
from index.corpus import MemoryCorpus
from index.crosslingual import CrossLingualLexicon
from index.embedding import Embedder
from index.errors import IndexInvalidError
from index.models import Chunk, Hit
from index.settings import Settings
from index.store import Manifest

if TYPE_CHECKING:
    from index.service import Engine

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


def load_backend_engine(settings: Settings, embedder: Embedder) -> Engine:
    """The current generation behind NEWSQA_BACKEND, as an `index.service.Engine`."""
    from index.service import Engine, _article_from_json, configured_reader

    catalog = open_catalog(settings)
    backend = catalog.open(embedder.id, embedder.dimension)
    try:
        manifest = Manifest.from_json(catalog.manifest(backend.generation))
        lexicon = CrossLingualLexicon.from_text(backend.get_blob(LEXICON_FILE))
        articles = [
            _article_from_json(json.loads(line))
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
    return Engine(
        manifest=manifest,
        path=Path(backend.generation),
        searcher=searcher,
        corpus=MemoryCorpus(chunks, articles),
        settings=settings,
        reader=configured_reader(settings),
    )
