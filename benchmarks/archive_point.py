"""One measurement of `newsqa bench --archive`, in a process of its own.

    python benchmarks/archive_point.py build --docs D --index I --cache C [--jobs N]
    python benchmarks/archive_point.py serve --docs D --index I --cache C --questions Q

`--real-model` builds and serves with the configured embedder (the bundled model by default)
instead of the model-free stand-in, so the figures include the model; its searches then
include embedding each question.

Prints one JSON object. It uses only what every newsqa has had (Settings, build_generation,
load_engine, Engine.search), so the bench runs it against today's tree and against an older
commit alike: `PYTHONPATH` chooses which `index` it imports.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DIMENSION = 384


class StandInEmbedder:
    """A deterministic, model-free embedder: character bigrams hashed into 384 signed slots.

    It costs microseconds a text, so the build measures the index and not a model; similar
    texts get similar vectors, so dense search still finds something. Query vectors are
    remembered, so timed searches leave query embedding out."""

    def __init__(self, dimension: int = DIMENSION) -> None:
        self._dimension = dimension
        self._queries: dict[str, np.ndarray] = {}

    @property
    def id(self) -> str:
        return f"bench/stand-in-bigram-hash-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        vector = np.zeros(self._dimension, dtype=np.float32)
        if len(codes) >= 2:
            mixed = (codes[:-1] * np.uint64(1_000_003) + codes[1:]) * np.uint64(2_654_435_761)
            mixed = mixed & np.uint64(0xFFFFFFFF)
            slots = (mixed % np.uint64(self._dimension)).astype(np.int64)
            signs = np.where((mixed >> np.uint64(20)) & np.uint64(1), 1.0, -1.0)
            np.add.at(vector, slots, signs.astype(np.float32))
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return vector / norm

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for text in texts:
            if text not in self._queries:
                self._queries[text] = self._vector(text)
            out.append(self._queries[text])
        return np.stack(out).astype(np.float32)


def _settings(args: argparse.Namespace) -> Any:
    from index.settings import Settings

    # A tree without build_jobs ignores it (Settings ignores unknown fields).
    return Settings(
        docs_dir=Path(args.docs),
        index_dir=Path(args.index),
        cache_dir=Path(args.cache),
        build_jobs=args.jobs,
        keep_generations=1,
    )


def _memory_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak (VmRSS, VmHWM)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    if not out:  # pragma: no cover - not Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out = {"VmRSS": peak, "VmHWM": peak}
    return out


def _embedder(args: argparse.Namespace) -> Any:
    """The stand-in, or None: the build or engine loads the model Settings names."""
    return None if args.real_model else StandInEmbedder()


def _embedder_id(args: argparse.Namespace) -> str:
    if not args.real_model:
        return StandInEmbedder().id
    from index.embedding import embedder_for

    return str(embedder_for(_settings(args)).id)


def build(args: argparse.Namespace) -> dict[str, Any]:
    from index.build import build_generation

    started = time.perf_counter()
    summary = build_generation(_settings(args), embedder=_embedder(args))
    return {
        "embedder": _embedder_id(args),
        "build_s": round(time.perf_counter() - started, 2),
        "stages_s": {k: round(v, 2) for k, v in getattr(summary, "stages", {}).items()},
        "n_chunks": summary.chunks,
        "articles": summary.articles,
        "stories": summary.stories,
        "embedded": summary.embedded,
        "tokenised": getattr(summary, "tokenised", None),
        "delta_chunks": getattr(summary, "delta_chunks", 0),
        "build_peak_rss_mb": _memory_mb()["VmHWM"],
    }


def serve(args: argparse.Namespace) -> dict[str, Any]:
    from index.service import load_engine

    settings = _settings(args)
    questions = [
        json.loads(line)
        for line in Path(args.questions).read_text("utf-8").splitlines()
        if line.strip()
    ]
    started = time.perf_counter()
    engine = load_engine(settings, embedder=_embedder(args))
    load_s = time.perf_counter() - started
    k = settings.candidates
    correct = 0
    for item in questions:  # warm-up, query vectors remembered; answer@1 on the way
        hits = engine.search(item["question"], k)
        top = hits[0].chunk if hits else None
        correct += bool(
            top is not None
            and top.file == item["file"]
            and top.headline == item["headline"]
            and item["answer"] in top.text
        )
    times = []
    for _ in range(args.rounds):
        for item in questions:
            began = time.perf_counter()
            engine.search(item["question"], k)
            times.append((time.perf_counter() - began) * 1000)
    memory = _memory_mb()
    exhaustive = _exhaustive_bm25_ms(engine, [q["question"] for q in questions], k)
    return {
        "load_s": round(load_s, 2),
        "rss_mb": memory["VmRSS"],
        "peak_rss_mb": memory["VmHWM"],
        "retrieval_p50_ms": round(float(np.percentile(times, 50)), 2),
        "retrieval_p95_ms": round(float(np.percentile(times, 95)), 2),
        "answer_at_1": round(correct / max(1, len(questions)), 3),
        "questions": len(questions),
        "n_chunks": engine.info.chunks,
        # Today's lexical step alone at this size (after memory was read: it loads its own).
        "exhaustive_bm25_p50_ms": exhaustive[0],
        "exhaustive_bm25_p95_ms": exhaustive[1],
    }


def _exhaustive_bm25_ms(engine: Any, questions: list[str], k: int) -> tuple[float, float]:
    """bm25s scoring every chunk and article, then a sort of all chunk scores: the lexical
    work per question before issue 10, on this generation's own BM25 files."""
    import bm25s

    from index.question import normalize_question
    from index.tokenize import tokenize

    chunks = bm25s.BM25.load(str(engine.path / "bm25_chunks"), mmap=True)
    articles = bm25s.BM25.load(str(engine.path / "bm25_articles"), mmap=True)
    times = []
    for question in questions:
        text = normalize_question(question)
        text = " ".join([text, *engine._searcher.lexicon.expand(text)])
        began = time.perf_counter()
        for index in (chunks, articles):
            tokens = [t for t in tokenize(text) if t in index.vocab_dict]
            scores = index.get_scores(tokens) if tokens else np.zeros(1, dtype=np.float32)
            if index is chunks:
                np.argsort(-scores)[:k]
        times.append((time.perf_counter() - began) * 1000)
    return round(float(np.percentile(times, 50)), 2), round(float(np.percentile(times, 95)), 2)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("build", "serve"))
    parser.add_argument("--docs", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--questions")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--real-model", action="store_true", help="the configured embedder")
    args = parser.parse_args(argv)
    result = build(args) if args.command == "build" else serve(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
