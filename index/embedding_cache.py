"""Embedding a build's passages: the vector cache keyed by embedder and text, and the shards
that worker processes embed. Serving embeds its questions with `index.embedding` alone."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.embedding import Embedder, Vectors, embedder_for, text_key
from index.parallel import ShardPool, shards
from index.settings import Settings
from index.sqlite_cache import connect_checked, open_cache

log = logging.getLogger(__name__)


class EmbeddingCache:
    """Passage vectors keyed by embedder id + text hash, so a rebuild embeds only what changed.

    The cache only saves time, so it never stops a build: use `EmbeddingCache.open`, which
    moves a corrupt file aside and gives up on a locked one; an error later turns it off.
    """

    def __init__(self, path: Path, lock_timeout_s: float = 10.0) -> None:
        self._path = path
        self._failed = False
        self._db = connect_checked(
            path,
            "CREATE TABLE IF NOT EXISTS vectors ("
            " embedder TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (embedder, key));",
            lock_timeout_s,
        )

    @classmethod
    def open(cls, path: Path, lock_timeout_s: float = 10.0) -> EmbeddingCache | None:
        """The cache at `path`, a fresh one if it was corrupt, or None (with a warning) when it
        is locked past `lock_timeout_s` or cannot be created at all."""
        return open_cache(
            lambda: cls(path, lock_timeout_s), path, "embedding cache", lock_timeout_s
        )

    def close(self) -> None:
        self._db.close()

    def _gave_up(self, exc: sqlite3.Error, doing: str) -> None:
        """An error while in use: the build goes on with what it has, uncached."""
        log.warning(
            "embedding cache %s failed while %s (%s); going on without it", self._path, doing, exc
        )
        self._failed = True

    def get_many(self, embedder_id: str, keys: Sequence[str], dimension: int) -> dict[str, Vectors]:
        return dict(self.iter_many(embedder_id, keys, dimension))

    def iter_many(
        self, embedder_id: str, keys: Sequence[str], dimension: int
    ) -> Iterator[tuple[str, Vectors]]:
        """(key, vector) for the keys cached, a few hundred at a time (an archive's vectors
        need not all be held twice)."""
        if self._failed:
            return
        try:
            for start in range(0, len(keys), 500):
                batch = list(keys[start : start + 500])
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE embedder = ? AND key IN ({marks})",
                    [embedder_id, *batch],
                ).fetchall()
                for key, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape[0] == dimension:
                        yield key, vector
        except sqlite3.Error as exc:
            self._gave_up(exc, "reading")

    def put_many(self, embedder_id: str, items: dict[str, Vectors]) -> None:
        """Store and commit at once, so a killed build keeps every batch it finished."""
        if self._failed:
            return
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (embedder, key, vector) VALUES (?, ?, ?)",
                [
                    (embedder_id, key, np.asarray(v, dtype=np.float32).tobytes())
                    for key, v in items.items()
                ],
            )
            self._db.commit()
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()
            self._gave_up(exc, "writing")


# Texts embedded by one worker task: whole batches, so every job count batches alike.
SHARD_BATCHES = 16

# What a worker process embeds with: the Settings naming a model, or a (picklable) embedder.
EmbedderSource = Settings | Embedder
_worker_embedder: Embedder | None = None


def init_embed_worker(source: EmbedderSource) -> None:
    """Worker initializer: load the embedder once per process."""
    global _worker_embedder
    _worker_embedder = embedder_for(source) if isinstance(source, Settings) else source


def embed_shard(work: tuple[Sequence[str], int]) -> Vectors:
    """Embed one shard of passages in batches (run in a worker process)."""
    texts, batch_size = work
    assert _worker_embedder is not None, "init_embed_worker was not run"
    return embed_batches(_worker_embedder, texts, batch_size)


def embed_batches(embedder: Embedder, texts: Sequence[str], batch_size: int) -> Vectors:
    parts = [
        embedder.embed_passages(list(texts[start : start + batch_size]))
        for start in range(0, len(texts), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), np.float32)


def embed_passages_cached(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache | None,
    batch_size: int = 32,
    progress: bool = False,
    jobs: int = 1,
    source: EmbedderSource | None = None,
) -> tuple[Vectors, int]:
    """Embed passages, reusing cached vectors; returns the matrix and how many were computed.

    The texts not cached are embedded shard by shard (whole batches each), each shard stored
    in the cache as soon as it is done, so a killed build loses at most the shards in flight.
    With `jobs` > 1 and a `source` the workers can load, shards go to a process pool."""
    rows_of: dict[str, list[int]] = {}
    for row, text in enumerate(texts):
        rows_of.setdefault(text_key(text), []).append(row)
    matrix = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    done: set[str] = set()
    if cache:
        for key, vector in cache.iter_many(embedder.id, list(rows_of), embedder.dimension):
            matrix[rows_of[key]] = vector
            done.add(key)
    # By length, so a batch holds texts of about one length and pads little.
    missing = sorted(
        ((k, texts[rows[0]]) for k, rows in rows_of.items() if k not in done),
        key=lambda item: (len(item[1]), item[0]),
    )
    if missing:
        bar = tqdm(
            total=len(missing),
            desc="embedding",
            unit="chunk",
            disable=not progress,
            leave=False,
        )
        work = shards(missing, batch_size * SHARD_BATCHES)
        parallel = jobs > 1 and source is not None and len(work) > 1
        if not parallel:
            work = shards(missing, batch_size)
        # Here, the embedder already loaded serves; workers load their own from `source`.
        loader = (source if parallel else embedder,)
        with ShardPool(jobs if parallel else 1, init_embed_worker, loader) as pool:
            tasks = [([t for _, t in shard], batch_size) for shard in work]
            for number, vectors in pool.imap(embed_shard, tasks):
                computed = {k: vectors[i] for i, (k, _) in enumerate(work[number])}
                if cache:
                    cache.put_many(embedder.id, computed)
                for key, vector in computed.items():
                    matrix[rows_of[key]] = vector
                bar.update(len(work[number]))
        bar.close()
    return matrix, len(missing)
