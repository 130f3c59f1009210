"""The protocol over files on one box: FAISS + bm25s, generations and `current` from index.store.

It ranks with the very fusion the default engine uses (`index.search.fuse_weighted`), so the
conformance suite that passes here and on Milvus pins the contract to today's behaviour.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.backends.protocol import RRF_K, ChunkRecord, Fusion, GenerationRow
from index.dense import build_dense_index, choose_index_type, search_dense
from index.embedding import Vectors
from index.errors import IndexInvalidError, IndexNotFoundError, NewsqaError
from index.lexical import bm25_scores, build_bm25
from index.models import Chunk, Hit
from index.search import FusionWeights, Ranked, distinct_hits, fuse_weighted
from index.store import (
    GENERATIONS,
    Manifest,
    artifact_hashes,
    current_generation,
    generation_dirs,
    new_generation_id,
    prune_generations,
    publish_generation,
    read_manifest,
    rollback,
    staging_directory,
    validate_generation,
)

RECORDS_FILE = "records.jsonl"
VECTORS_FILE = "vectors.npy"
BLOBS_DIR = "blobs"
_BLOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class EmbeddedBackend:
    """One generation held in memory; written to its directory when the catalog publishes it."""

    def __init__(
        self,
        generation: str,
        embedder_id: str,
        dimension: int,
        directory: Path,
        ann_threshold: int = 50_000,
    ) -> None:
        self._generation = generation
        self._embedder_id = embedder_id
        self._dimension = dimension
        self.directory = directory
        self._ann_threshold = ann_threshold
        self._records: dict[str, ChunkRecord] = {}
        self._blobs: dict[str, str] = {}
        self._rows: list[ChunkRecord] = []  # the committed, searchable state
        self._chunks: list[Chunk] = []
        self._dense: Any = None
        self._chunk_bm25: Any = None
        self._article_bm25: Any = None
        self._chunk_articles = np.zeros(0, dtype=np.int64)

    @property
    def generation(self) -> str:
        return self._generation

    @property
    def embedder_id(self) -> str:
        return self._embedder_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def records(self) -> list[ChunkRecord]:
        return list(self._records.values())

    @property
    def blobs(self) -> dict[str, str]:
        return dict(self._blobs)

    def upsert(self, records: Sequence[ChunkRecord]) -> None:
        for record in records:
            if record.vector.shape != (self._dimension,):
                raise NewsqaError(
                    f"chunk {record.id}: a {record.vector.shape} vector for a "
                    f"{self._dimension}-d index"
                )
            self._records[record.id] = record

    def delete_story(self, story: str) -> None:
        self._records = {k: r for k, r in self._records.items() if r.story != story}

    def commit(self) -> None:
        rows = list(self._records.values())
        self._rows = rows
        self._chunks = [r.chunk for r in rows]
        if not rows:
            self._dense = self._chunk_bm25 = self._article_bm25 = None
            return
        vectors: Vectors = np.stack([r.vector for r in rows]).astype(np.float32)
        self._dense = build_dense_index(vectors, choose_index_type(len(rows), self._ann_threshold))
        self._chunk_bm25 = build_bm25([r.text for r in rows])
        article_rows: dict[str, int] = {}
        documents: list[str] = []
        for record in rows:
            if record.article_key not in article_rows:
                article_rows[record.article_key] = len(documents)
                documents.append(record.article_text)
        self._article_bm25 = build_bm25(documents)
        self._chunk_articles = np.array([article_rows[r.article_key] for r in rows], dtype=np.int64)

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
        if not self._rows:
            return []
        allowed: np.ndarray | None = None
        if stories is not None:
            wanted = set(stories)
            allowed = np.array([r.story in wanted for r in self._rows], dtype=bool)
        # With a filter the dense search is exhaustive, then filtered: exact, if not fast.
        depth = len(self._rows) if allowed is not None else candidates
        if vector is None:
            dense_scores = np.zeros(0, dtype=np.float32)
            dense_ids = np.zeros(0, dtype=np.int64)
        else:
            dense_scores, dense_ids = search_dense(self._dense, vector, depth)
        lexical_all = bm25_scores(self._chunk_bm25, text)
        article_all = bm25_scores(self._article_bm25, text)[self._chunk_articles]
        if allowed is not None:
            keep = allowed[dense_ids]
            dense_scores, dense_ids = dense_scores[keep][:candidates], dense_ids[keep][:candidates]
            lexical_all = np.where(allowed, lexical_all, 0).astype(np.float32)
            article_all = np.where(allowed, article_all, 0).astype(np.float32)
        if fusion == "rrf":
            ranked = _fuse_rrf(dense_scores, dense_ids, lexical_all, article_all, candidates)
        else:
            ranked = fuse_weighted(
                dense_scores, dense_ids, lexical_all, article_all, candidates, FusionWeights()
            )
        return distinct_hits(self._chunks, ranked, k)

    def chunk(self, chunk_id: str) -> Chunk | None:
        record = self._records.get(chunk_id)
        return record.chunk if record is not None else None

    def count(self) -> int:
        return len(self._rows)

    def put_blob(self, name: str, text: str) -> None:
        if not _BLOB_NAME.fullmatch(name):
            raise NewsqaError(f"blob name {name!r} is not a plain file name")
        self._blobs[name] = text

    def get_blob(self, name: str) -> str:
        try:
            return self._blobs[name]
        except KeyError:
            raise IndexInvalidError(f"{self._generation}: no {name} in this generation") from None

    def close(self) -> None:
        self._dense = self._chunk_bm25 = self._article_bm25 = None

    def write(self) -> None:
        """Everything needed to open the generation again, into its (staging) directory."""
        rows = list(self._records.values())
        with (self.directory / RECORDS_FILE).open("w", encoding="utf-8") as out:
            for record in rows:
                line = {
                    "chunk": record.chunk.to_json(),
                    "text": record.text,
                    "article_text": record.article_text,
                }
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        vectors = np.stack([r.vector for r in rows]) if rows else np.zeros((0, self._dimension))
        np.save(self.directory / VECTORS_FILE, vectors.astype(np.float32))
        (self.directory / BLOBS_DIR).mkdir(exist_ok=True)
        for name, text in self._blobs.items():
            (self.directory / BLOBS_DIR / name).write_text(text, "utf-8")

    @classmethod
    def read(cls, directory: Path, manifest: Manifest) -> EmbeddedBackend:
        backend = cls(manifest.generation, manifest.embedder, manifest.dimension, directory)
        try:
            vectors = np.load(directory / VECTORS_FILE)
            lines = (directory / RECORDS_FILE).read_text("utf-8").splitlines()
            records = [
                ChunkRecord(
                    chunk=Chunk.from_json(data["chunk"]),
                    text=str(data["text"]),
                    vector=vectors[row],
                    article_text=str(data["article_text"]),
                )
                for row, data in enumerate(json.loads(line) for line in lines)
            ]
            blobs = {p.name: p.read_text("utf-8") for p in (directory / BLOBS_DIR).iterdir()}
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise IndexInvalidError(f"{directory.name}: cannot read index files: {exc}") from exc
        backend.upsert(records)
        backend._blobs = blobs
        backend.commit()
        return backend


def _fuse_rrf(
    dense_scores: np.ndarray,
    dense_ids: np.ndarray,
    lexical_all: np.ndarray,
    article_all: np.ndarray,
    candidates: int,
) -> list[Ranked]:
    """Reciprocal rank fusion of the three rankings, each cut at `candidates`: Σ 1/(60 + rank)."""
    routes = [dense_ids.tolist()]
    for scores in (lexical_all, article_all):
        top = np.argsort(-scores, kind="stable")[:candidates]
        routes.append(top[scores[top] > 0].tolist())
    fused: dict[int, float] = {}
    for route in routes:
        for rank, row in enumerate(route, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank)
    dense_by_row = dict(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True))
    order = sorted(fused, key=lambda row: -fused[row])
    return [
        Ranked(row, fused[row], float(dense_by_row.get(row, 0.0)), float(lexical_all[row]))
        for row in order
    ]


class EmbeddedCatalog:
    """Generations as directories under `root`, switched by the `current` symlink."""

    def __init__(self, root: Path, ann_threshold: int = 50_000) -> None:
        self.root = root
        self._ann_threshold = ann_threshold

    def create(self, embedder_id: str, dimension: int) -> EmbeddedBackend:
        staging = staging_directory(self.root)
        return EmbeddedBackend(
            new_generation_id(), embedder_id, dimension, staging, self._ann_threshold
        )

    def publish(self, backend: Any, manifest: dict[str, Any]) -> str:
        if not isinstance(backend, EmbeddedBackend):
            raise TypeError("an embedded catalog publishes embedded generations only")
        backend.write()
        data = {
            **manifest,
            "generation": backend.generation,
            "artifacts": artifact_hashes(backend.directory),
        }
        final = publish_generation(self.root, backend.directory, Manifest.from_json(data))
        backend.directory = final
        return backend.generation

    def discard(self, backend: Any) -> None:
        if isinstance(backend, EmbeddedBackend):
            shutil.rmtree(backend.directory, ignore_errors=True)

    def current(self) -> str | None:
        return current_generation(self.root)

    def open(
        self, embedder_id: str, dimension: int, generation: str | None = None
    ) -> EmbeddedBackend:
        name = generation or self.current()
        if name is None:
            raise IndexNotFoundError(f"no index under {self.root}: run `newsqa index build` first")
        directory = self.root / GENERATIONS / name
        manifest = validate_generation(directory, embedder_id)
        if manifest.dimension != dimension:
            raise IndexInvalidError(
                f"{name}: built with {manifest.dimension}-d vectors but the embedder gives "
                f"{dimension}-d; rebuild or set NEWSQA_EMBEDDER to match"
            )
        return EmbeddedBackend.read(directory, manifest)

    def manifest(self, generation: str) -> dict[str, Any]:
        return read_manifest(self.root / GENERATIONS / generation).to_json()

    def generations(self) -> list[GenerationRow]:
        current = self.current()
        rows: list[GenerationRow] = []
        for directory in generation_dirs(self.root):
            try:
                data = read_manifest(directory).to_json()
            except NewsqaError:
                continue
            rows.append(GenerationRow(directory.name, directory.name == current, data))
        return rows

    def rollback(self) -> str:
        return rollback(self.root)

    def prune(self, keep: int) -> list[str]:
        return prune_generations(self.root, keep)

    def close(self) -> None:
        """Nothing held open: generations are plain files."""
