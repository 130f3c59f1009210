"""`newsqa bench`: query latency, cold build, one-story rebuild and FAISS scaling, measured here.

Every figure comes with its baseline from the same run: the naive recipe's latency, the cold
build for the rebuild, exact FAISS search for the approximate index.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from index.bench_embedding import bench_embedder, bench_embedding, format_embedding
from index.build import build_generation
from index.cleaning import split_articles
from index.containment import contained_keys_pairwise
from index.dense import FLAT, build_dense_index, choose_index_type, search_dense
from index.evaluate import NaiveBaseline
from index.loading import load_pages
from index.models import Page
from index.service import load_engine
from index.settings import Settings
from index.synthetic import synthetic_page

LATENCY_QUESTIONS = (
    "聂荣县远程会诊多少场",
    "日喀则两癌筛查做了多少人",
    "康马县委书记叫什么名字",
    "How many experts did the hospital send?",
    "麦地卡乡是哪个县的",
    "巴宜社会救助热线电话多少",
)


def _percentiles(samples: list[float]) -> dict[str, float]:
    values = np.array(samples)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
    }


def bench_corpus(settings: Settings, rounds: int = 20) -> dict[str, Any]:
    """Cold build, rebuild after one story changed, and warm end-to-end query latency."""
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
        root = Path(tmp)
        docs = root / "stories"
        shutil.copytree(settings.docs_dir, docs)
        local = settings.model_copy(
            update={"docs_dir": docs, "index_dir": root / "index", "cache_dir": root / "cache"}
        )
        started = time.perf_counter()
        embedder = bench_embedder(local)
        cold = build_generation(local, embedder=embedder)
        cold_s = time.perf_counter() - started
        passages = list(getattr(embedder, "passages_seen", []))

        changed = sorted(docs.glob("*.txt"))[0]
        changed.write_text(
            changed.read_text("utf-8") + "\n\n本报讯 一则新增的简讯用于测量增量重建。\n", "utf-8"
        )
        started = time.perf_counter()
        rebuild = build_generation(local, embedder=embedder)
        rebuild_s = time.perf_counter() - started

        answerers = _answer_latencies(local, embedder, rounds)
        one_shot = bench_one_shot(local)
        naive = NaiveBaseline(docs, embedder)
        theirs = [naive.answer(q).elapsed_ms for _ in range(rounds) for q in LATENCY_QUESTIONS]
    return {
        "cold_build_s": round(cold_s, 2),
        "cold_build_chunks": cold.chunks,
        "rebuild_one_story_s": round(rebuild_s, 2),
        "rebuild_embedded_chunks": rebuild.embedded,
        "rebuild_vs_cold": round(rebuild_s / cold_s, 3),
        **answerers,
        "one_shot": one_shot,
        "query_naive_baseline": _percentiles(theirs),
        "embed_stage_s": cold.stages.get("embed"),
        # The bundled model's implementations on the texts the cold build embedded.
        **({"embedding": bench_embedding(passages, LATENCY_QUESTIONS)} if passages else {}),
    }


def _answer_latencies(settings: Settings, embedder: Any, rounds: int) -> dict[str, Any]:
    """End-to-end answers with each answer stage, and retrieval alone, on one index."""
    engine = load_engine(settings, embedder=embedder)
    search = [
        _timed_ms(lambda q=q: engine.search(q, settings.candidates))
        for _ in range(rounds)
        for q in LATENCY_QUESTIONS
    ]
    out: dict[str, Any] = {"answerer": settings.answerer, "retrieval_only": _percentiles(search)}
    for name, update in _answer_stages(settings):
        started = time.perf_counter()
        try:
            local = settings.model_copy(update=update)
            engine = load_engine(local, embedder=embedder)
        except Exception as exc:  # a missing trained reader is reported, not fatal
            out[f"query_{name}"] = {"error": str(exc)}
            continue
        load_s = time.perf_counter() - started
        for question in LATENCY_QUESTIONS:  # warm-up: jieba, caches
            engine.answer(question)
        times = [engine.answer(q).elapsed_ms for _ in range(rounds) for q in LATENCY_QUESTIONS]
        out[f"query_{name}"] = {**_percentiles(times), "load_s": round(load_s, 2)}
    out["query_newsqa"] = out[f"query_{settings.answerer}"]
    return out


def newsqa_command() -> list[str]:
    """The `newsqa` console script beside this interpreter, or the module where there is none."""
    script = Path(sys.executable).with_name("newsqa")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "index.cli"]


def bench_one_shot(
    settings: Settings, runs: int = 3, question: str = LATENCY_QUESTIONS[0]
) -> dict[str, Any]:
    """What a newcomer waits for: `newsqa ask QUESTION` as a process of its own over the index
    under `settings.index_dir`, start-up (imports, index, reader) included. The median wall
    time over `runs` beside the `elapsed_ms` that answer reports (question to answer only)."""
    command = [*newsqa_command(), "ask", "--json", "--index", str(settings.index_dir), question]
    env = {**os.environ, "NEWSQA_INDEX_DIR": str(settings.index_dir)}
    env["NEWSQA_CACHE_DIR"] = str(settings.cache_dir)
    walls, elapsed = [], []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        walls.append(time.perf_counter() - started)
        elapsed.append(float(json.loads(done.stdout.strip().splitlines()[-1])["elapsed_ms"]))
    return {
        "question": question,
        "runs": runs,
        "wall_s": round(float(np.median(walls)), 2),
        "elapsed_ms": round(float(np.median(elapsed)), 1),
    }


def format_one_shot(row: dict[str, Any]) -> str:
    return (
        "one-shot `newsqa ask`, own process (median of {runs}): {wall_s} s wall; "
        "the answer's elapsed_ms {elapsed_ms}".format(**row)
    )


def _answer_stages(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """Each answer stage as configured, and the serving one with the reader's windows read one
    group at a time (the baseline for reading them side by side)."""
    stages: list[tuple[str, dict[str, Any]]] = [
        ("rules", {"answerer": "rules"}),
        ("reader", {"answerer": "reader"}),
        ("auto", {"answerer": "auto"}),
    ]
    if settings.reader_threads != 1:
        stages.append((f"{settings.answerer}_one_thread", {"reader_threads": 1}))
    return stages


def _timed_ms(work: Any) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def scale_once(
    count: int, dimension: int, ann_threshold: int, queries: int = 200
) -> dict[str, Any]:
    """One scaling point, run in its own process so peak RSS is this point's alone."""
    rng = np.random.default_rng(7)
    # Clustered vectors: uniform noise would make every index look equally good.
    centres = rng.standard_normal((256, dimension)).astype(np.float32)
    labels = rng.integers(0, len(centres), size=count)
    vectors = centres[labels] + 0.6 * rng.standard_normal((count, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picks = rng.integers(0, count, size=queries)
    probes = vectors[picks] + 0.2 * rng.standard_normal((queries, dimension)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)

    def run(index_type: str) -> tuple[Any, float, list[float]]:
        started = time.perf_counter()
        index = build_dense_index(vectors, index_type)
        built = time.perf_counter() - started
        times = []
        for probe in probes:
            t = time.perf_counter()
            search_dense(index, probe, 10)
            times.append((time.perf_counter() - t) * 1000)
        return index, built, times

    chosen = choose_index_type(count, ann_threshold)
    exact, exact_build, exact_times = run(FLAT)
    result: dict[str, Any] = {
        "chunks": count,
        "index_type": chosen,
        "exact_build_s": round(exact_build, 2),
        "exact_query": _percentiles(exact_times),
    }
    if chosen != FLAT:
        approx, build_s, times = run(chosen)
        recall = []
        for probe in probes[:100]:
            _, truth = search_dense(exact, probe, 10)
            _, got = search_dense(approx, probe, 10)
            recall.append(len(set(truth.tolist()) & set(got.tolist())) / 10)
        result.update(
            {
                "build_s": round(build_s, 2),
                "query": _percentiles(times),
                "recall@10_vs_exact": round(float(np.mean(recall)), 3),
                "speedup_p95_vs_exact": round(
                    _percentiles(exact_times)["p95_ms"] / max(_percentiles(times)["p95_ms"], 1e-6),
                    1,
                ),
            }
        )
    else:
        result.update({"build_s": result["exact_build_s"], "query": result["exact_query"]})
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def peak_rss_mb() -> float:
    """This process's own high-water mark: VmHWM starts afresh at exec, while getrusage's
    ru_maxrss keeps the forking parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_scaling(settings: Settings, sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    rows = []
    for count in sizes:
        proc = subprocess.run(
            [sys.executable, "-m", "index.bench", str(count), str(settings.ann_threshold)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": str(os.cpu_count() or 1)},
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def bench_cleaning(
    settings: Settings,
    sizes_mb: tuple[int, ...] = (1, 2, 10, 30),
    baseline_mb: tuple[int, ...] = (1, 2),
) -> list[dict[str, Any]]:
    """Cleaning throughput on one synthetic story per size, made from the stories' own text;
    beside it the former every-paragraph-against-every-other check, where it ends in seconds."""
    sources = load_pages(settings.docs_dir).pages
    rows = []
    for mb in sizes_mb:
        page = synthetic_page(sources, mb * 1_000_000)
        size_mb = len(page.text.encode("utf-8")) / 1e6
        started = time.perf_counter()
        articles = split_articles(page)
        row: dict[str, Any] = {
            "mb": round(size_mb, 2),
            "articles": len(articles),
            "seconds": round(time.perf_counter() - started, 2),
        }
        row["mb_per_s"] = round(size_mb / max(row["seconds"], 1e-6), 2)
        if mb in baseline_mb:
            started = time.perf_counter()
            split_articles(page, contained_keys_pairwise)
            row["pairwise_seconds"] = round(time.perf_counter() - started, 2)
            row["pairwise_mb_per_s"] = round(size_mb / max(row["pairwise_seconds"], 1e-6), 2)
        rows.append(row)
    return rows


# Short lines (tables, lists, OCR'd pages) drawn from these, 1–6 a line, as in issue 23.
SHORT_LINE_CHARS = "聂荣县远程会诊服务医疗党建村民"
SHORT_LINE_SHAPES = ("table", "cut paragraph")


def short_line_page(lines: int, shape: str = "table", seed: int = 0) -> Page:
    """A page of `lines` short lines: table cells, each line a headline-looking block of its
    own, or one paragraph cut after every few characters (each line ends in a comma)."""
    rng = random.Random(seed)
    end = "，" if shape == "cut paragraph" else ""
    cells = (
        "".join(rng.choices(SHORT_LINE_CHARS, k=rng.randint(1, 6))) + end for _ in range(lines)
    )
    return Page(
        file=f"{shape}-{lines}.txt", text="\n".join(cells) + "\n", encoding="utf-8", sha256=""
    )


def bench_cleaning_lines(
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000),
) -> list[dict[str, Any]]:
    """Cleaning time of short-line pages by their lines: time linear in lines shows as the same
    microseconds per line at every size (a rescan of earlier lines would grow it tenfold)."""
    rows = []
    for shape in SHORT_LINE_SHAPES:
        for lines in sizes:
            page = short_line_page(lines, shape)
            started = time.perf_counter()
            split_articles(page)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "shape": shape,
                    "lines": lines,
                    "seconds": round(seconds, 3),
                    "us_per_line": round(seconds / lines * 1e6, 1),
                }
            )
    return rows


def format_cleaning_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["cleaning pages of short lines (µs per line flat: time linear in lines):"]
    for row in rows:
        lines.append(
            f"{row['shape']:>14} {row['lines']:>9} lines: {row['seconds']:>8} s "
            f"({row['us_per_line']} µs/line)"
        )
    return lines


def format_report(report: dict[str, Any]) -> str:
    corpus = report["corpus"]
    lines = [
        f"cold build ({corpus['cold_build_chunks']} chunks):   {corpus['cold_build_s']} s",
        f"rebuild, one story changed: {corpus['rebuild_one_story_s']} s "
        f"({corpus['rebuild_embedded_chunks']} chunks embedded; "
        f"{corpus['rebuild_vs_cold']}x of cold)",
        "retrieval alone:            p50 {p50_ms} ms / p95 {p95_ms} ms".format(
            **corpus["retrieval_only"]
        ),
        *(
            f"warm answer, {name:<7} end to end: p50 {row['p50_ms']} ms / p95 {row['p95_ms']} ms"
            f" (engine load {row['load_s']} s){' <- serving' if name == corpus['answerer'] else ''}"
            if "p50_ms" in row
            else f"warm answer, {name}: unavailable ({row['error']})"
            for name in ("rules", "reader", "auto", f"{corpus['answerer']}_one_thread")
            if f"query_{name}" in corpus
            for row in [corpus[f"query_{name}"]]
        ),
        "  naive baseline (same run): p50 {p50_ms} ms / p95 {p95_ms} ms".format(
            **corpus["query_naive_baseline"]
        ),
        *([format_one_shot(corpus["one_shot"])] if corpus.get("one_shot") else []),
        *(
            ["", *format_embedding(corpus["embedding"], corpus.get("embed_stage_s"))]
            if corpus.get("embedding")
            else []
        ),
        "",
        "scaling (synthetic 384-d vectors, top-10 search):",
        f"{'chunks':>9} {'index':>14} {'build s':>8} {'p95 ms':>8} {'exact p95':>9} "
        f"{'recall@10':>9} {'peak RSS MB':>11}",
    ]
    for row in report["scaling"]:
        lines.append(
            f"{row['chunks']:>9} {row['index_type']:>14} {row['build_s']:>8} "
            f"{row['query']['p95_ms']:>8} {row['exact_query']['p95_ms']:>9} "
            f"{row.get('recall@10_vs_exact', 1.0):>9} {row['peak_rss_mb']:>11}"
        )
    if report.get("cleaning"):
        lines += ["", "cleaning (one synthetic story made from the stories' text):"]
    for row in report.get("cleaning", []):
        lines.append(
            f"{row['mb']:>7} MB: {row['mb_per_s']} MB/s ({row['seconds']} s)"
            + (
                f"; former pairwise containment: {row['pairwise_mb_per_s']} MB/s "
                f"({row['pairwise_seconds']} s)"
                if "pairwise_mb_per_s" in row
                else ""
            )
        )
    if report.get("cleaning_lines"):
        lines += ["", *format_cleaning_lines(report["cleaning_lines"])]
    return "\n".join(lines)


def collect_benchmarks(settings: Settings, quick: bool = False) -> dict[str, Any]:
    sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    return {
        "corpus": bench_corpus(settings),
        "scaling": bench_scaling(settings, sizes),
        "cleaning": bench_cleaning(settings),
        "cleaning_lines": bench_cleaning_lines(
            (1_000, 10_000, 100_000) if quick else (1_000, 10_000, 100_000, 1_000_000)
        ),
    }


def run_benchmarks(settings: Settings, quick: bool = False, json_path: Path | None = None) -> str:
    report = collect_benchmarks(settings, quick)
    if json_path:
        json_path.write_text(json.dumps(report, indent=2), "utf-8")
    return format_report(report)


if __name__ == "__main__":
    print(json.dumps(scale_once(int(sys.argv[1]), 384, int(sys.argv[2]))))
