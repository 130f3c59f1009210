"""`newsqa bench --archive N`: the whole pipeline on a synthetic archive of N chunks.

For each size: write the archive (`index.archive`), build it through the real build with a
model-free stand-in embedder (or, with `real_model`, the configured one: the bundled model by
default), load it as the bot does and time retrieval for the planted
questions, each step in a process of its own (`benchmarks/archive_point.py`), so build
memory never counts as serving memory. Beside it, in the same run: the build with one job
(the `--jobs` ratio), a daily build after 1% new stories (the incremental ratio), and today's
figures from an older commit of newsqa (the baseline), checked out with `git archive`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.archive import archive_sources, save_questions, write_archive
from index.errors import NewsqaError

# The commit before issue 10: the code path the archive figures are compared with.
BASELINE_REF = "4163f52"
# New stories added for the incremental build, as a share of the archive.
DAILY_SHARE = 0.01
POINT_SCRIPT = "benchmarks/archive_point.py"


class BenchError(NewsqaError):
    """A measurement could not be taken."""


@dataclass(frozen=True)
class ArchivePlan:
    sizes: tuple[int, ...]
    work_dir: Path
    stories_dir: Path
    reader_dir: Path
    jobs: int = 0
    questions: int = 200
    rounds: int = 3
    baseline_at: int | None = 100_000
    baseline_ref: str = BASELINE_REF
    jobs_ratio_at: int | None = 100_000
    incremental_at: int | None = 100_000
    # Build and serve with the configured embedder instead of the stand-in.
    real_model: bool = False


def repository_root() -> Path:
    """The checkout this `index` package lives in (the worker script sits beside it)."""
    return Path(__file__).resolve().parent.parent


def run_point(
    command: str,
    root: Path,
    docs: Path,
    index: Path,
    cache: Path,
    jobs: int = 0,
    questions: Path | None = None,
    rounds: int = 3,
    code: Path | None = None,
    real_model: bool = False,
) -> dict[str, Any]:
    """One worker process, importing `index` from `code` (default: this checkout)."""
    script = repository_root() / POINT_SCRIPT
    if not script.is_file():
        raise BenchError(f"{POINT_SCRIPT} not found beside the index package")
    argv = [sys.executable, str(script), command, "--docs", str(docs), "--index", str(index)]
    argv += ["--cache", str(cache), "--jobs", str(jobs), "--rounds", str(rounds)]
    if questions is not None:
        argv += ["--questions", str(questions)]
    if real_model:
        argv.append("--real-model")
    # The index alone: no trained reader loaded (the default answer stage may hold one), so
    # load time and memory compare with the baseline's, which had none.
    env = {**os.environ, "PYTHONPATH": str(code or repository_root()), "NEWSQA_ANSWERER": "rules"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=root)
    if done.returncode != 0:
        raise BenchError(f"archive {command} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def disk_mb(index_root: Path) -> float:
    """Size of the generation being served."""
    generation = (index_root / "current").resolve()
    size = sum(p.stat().st_size for p in generation.rglob("*") if p.is_file())
    return round(size / 1e6, 1)


def baseline_tree(ref: str, into: Path) -> Path:
    """The newsqa source at `ref`, unpacked from git (reused when already there)."""
    tree = into / f"newsqa-{ref}"
    if (tree / "index").is_dir():
        return tree
    archive = into / f"newsqa-{ref}.tar"
    done = subprocess.run(
        ["git", "-C", str(repository_root()), "archive", "--format=tar", "-o", str(archive), ref],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BenchError(f"cannot check out baseline {ref}: {done.stderr.strip()}")
    tree.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    archive.unlink()
    return tree


def measure_size(
    plan: ArchivePlan, size: int, log: Callable[[str], None] = lambda line: None
) -> list[dict[str, Any]]:
    """Every figure for one archive size: one row, and a baseline row where planned."""
    root = plan.work_dir / f"archive-{size}"
    docs, questions = root / "stories", root / "questions.jsonl"
    if not questions.is_file():
        shutil.rmtree(docs, ignore_errors=True)
        log(f"{size}: writing the archive")
        sources = archive_sources(plan.stories_dir, plan.reader_dir, plan.questions)
        save_questions(questions, write_archive(docs, size, sources, seed=size))
    for stale in ("index", "cache", "index-1", "cache-1", "index-base", "cache-base"):
        shutil.rmtree(root / stale, ignore_errors=True)
    index, cache = root / "index", root / "cache"
    real = plan.real_model

    log(f"{size}: cold build, --jobs {plan.jobs or 'cores'}")
    row: dict[str, Any] = {"code": "newsqa"}
    row.update(run_point("build", root, docs, index, cache, plan.jobs, real_model=real))
    row["disk_mb"] = disk_mb(index)
    log(f"{size}: serving")
    row.update(
        run_point(
            "serve",
            root,
            docs,
            index,
            cache,
            questions=questions,
            rounds=plan.rounds,
            real_model=real,
        )
    )
    rows = [row]

    if size == plan.jobs_ratio_at:
        log(f"{size}: cold build, --jobs 1")
        single = run_point(
            "build", root, docs, root / "index-1", root / "cache-1", jobs=1, real_model=real
        )
        row["build_s_jobs_1"] = single["build_s"]
        row["jobs_speedup"] = round(single["build_s"] / row["build_s"], 2)
        shutil.rmtree(root / "index-1", ignore_errors=True)
        shutil.rmtree(root / "cache-1", ignore_errors=True)

    if size == plan.baseline_at:
        log(f"{size}: baseline {plan.baseline_ref}")
        tree = baseline_tree(plan.baseline_ref, plan.work_dir)
        base: dict[str, Any] = {"code": f"baseline {plan.baseline_ref}"}
        index_b, cache_b = root / "index-base", root / "cache-base"
        base.update(run_point("build", root, docs, index_b, cache_b, code=tree, real_model=real))
        base["disk_mb"] = disk_mb(index_b)
        base.update(
            run_point(
                "serve",
                root,
                docs,
                index_b,
                cache_b,
                questions=questions,
                rounds=plan.rounds,
                code=tree,
                real_model=real,
            )
        )
        rows.append(base)
        shutil.rmtree(index_b, ignore_errors=True)
        shutil.rmtree(cache_b, ignore_errors=True)

    if size == plan.incremental_at:
        log(f"{size}: daily build with {DAILY_SHARE:.0%} new stories")
        daily = root / "daily"
        shutil.rmtree(daily, ignore_errors=True)
        write_archive(
            daily,
            max(1, round(size * DAILY_SHARE)),
            archive_sources(plan.stories_dir, plan.reader_dir, 0),
            seed=size + 1,
            prefix="day",
            plant=False,
        )
        added = sorted(daily.iterdir())
        for path in added:
            shutil.move(str(path), docs / path.name)
        try:
            again = run_point("build", root, docs, index, cache, plan.jobs, real_model=real)
            # The daily generation served: the planted questions still answered, as fast.
            served = run_point(
                "serve",
                root,
                docs,
                index,
                cache,
                questions=questions,
                rounds=plan.rounds,
                real_model=real,
            )
        finally:
            for path in added:
                (docs / path.name).unlink(missing_ok=True)
            shutil.rmtree(daily, ignore_errors=True)
        row["incremental_build_s"] = again["build_s"]
        row["incremental_vs_cold"] = round(again["build_s"] / row["build_s"], 3)
        row["incremental_embedded"] = again["embedded"]
        row["incremental_tokenised"] = again["tokenised"]
        row["incremental_stages_s"] = again["stages_s"]
        row["incremental_delta_chunks"] = again.get("delta_chunks", 0)
        for key in ("answer_at_1", "retrieval_p50_ms", "retrieval_p95_ms", "load_s", "rss_mb"):
            row[f"incremental_{key}"] = served[key]
    return rows


def run_archive_bench(
    plan: ArchivePlan,
    emit: Callable[[dict[str, Any]], None],
    log: Callable[[str], None] = lambda line: None,
) -> list[dict[str, Any]]:
    """Measure every size in `plan`; each row is emitted as soon as it is measured."""
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for size in plan.sizes:
        started = time.perf_counter()
        for row in measure_size(plan, size, log):
            row["archive"] = size
            row["bench_s"] = round(time.perf_counter() - started, 1)
            emit(row)
            rows.append(row)
    return rows


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The archive table, as the README shows it."""
    head = (
        f"{'chunks':>9} {'code':<18} {'build s':>8} {'load s':>7} {'RSS MB':>7} {'disk MB':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'answer@1':>8} {'all-chunk BM25 p50/p95 ms':>26}"
    )
    lines = [head]
    for row in rows:
        every = f"{row.get('exhaustive_bm25_p50_ms')} / {row.get('exhaustive_bm25_p95_ms')}"
        lines.append(
            f"{row['n_chunks']:>9} {row['code']:<18} {row['build_s']:>8} {row['load_s']:>7} "
            f"{row['rss_mb']:>7} {row['disk_mb']:>8} {row['retrieval_p50_ms']:>7} "
            f"{row['retrieval_p95_ms']:>7} {row['answer_at_1']:>8} {every:>26}"
        )
    for row in rows:
        lines.extend(_model_lines(row))
        if row.get("stages_s"):
            stages = "  ".join(f"{k} {v}" for k, v in row["stages_s"].items())
            lines.append(f"build stages at {row['n_chunks']} chunks (s): {stages}")
        if "jobs_speedup" in row:
            lines.append(
                f"--jobs 1 at {row['n_chunks']} chunks: {row['build_s_jobs_1']} s "
                f"({row['jobs_speedup']}x slower than the default jobs)"
            )
        if "incremental_build_s" in row:
            lines.append(
                f"daily build, {DAILY_SHARE:.0%} new stories at {row['n_chunks']} chunks: "
                f"{row['incremental_build_s']} s = {row['incremental_vs_cold']} of cold "
                f"({row['incremental_embedded']} chunks embedded, "
                f"{row['incremental_tokenised']} texts tokenised)"
            )
        if row.get("incremental_stages_s"):
            stages = "  ".join(f"{k} {v}" for k, v in row["incremental_stages_s"].items())
            lines.append(f"daily build stages (s): {stages}")
        if "incremental_answer_at_1" in row:
            kind = (
                f"a delta of {row['incremental_delta_chunks']} chunks beside the cold build"
                if row.get("incremental_delta_chunks")
                else "a full generation"
            )
            lines.append(
                f"daily generation served ({kind}): answer@1 {row['incremental_answer_at_1']}, "
                f"retrieval p50 / p95 {row['incremental_retrieval_p50_ms']} / "
                f"{row['incremental_retrieval_p95_ms']} ms, load {row['incremental_load_s']} s, "
                f"RSS {row['incremental_rss_mb']} MB"
            )
    return "\n".join(lines)


# The archive size the real model's figures are extrapolated to.
EXTRAPOLATE_TO = 1_000_000


def _model_lines(row: dict[str, Any]) -> list[str]:
    """With the real model: its embedding cost per chunk, and what that makes of 10^6 chunks
    (an extrapolation from this size, said to be)."""
    embed_s = row.get("stages_s", {}).get("embed")
    if row.get("embedder", "").startswith("bench/") or not embed_s or not row.get("n_chunks"):
        return []
    per_chunk_ms = 1000 * embed_s / row["n_chunks"]
    rest_s = row["build_s"] - embed_s
    hours = per_chunk_ms * EXTRAPOLATE_TO / 3.6e6
    return [
        f"{row['embedder']} at {row['n_chunks']} chunks: embed {embed_s} s = "
        f"{per_chunk_ms:.1f} ms a chunk ({1000 / per_chunk_ms:.1f} chunks/s); the rest of the "
        f"build {rest_s:.1f} s",
        f"  extrapolated, not measured: embedding {EXTRAPOLATE_TO:,} chunks at that cost "
        f"takes {hours:.1f} h on this machine",
    ]
