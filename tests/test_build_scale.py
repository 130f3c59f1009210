"""Parallel, resumable and incremental builds give the generation a plain build gives."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from index import analysis, crosslingual, embedding_cache
from index.archive import archive_sources, write_archive
from index.build import BuildSummary, build_generation
from index.reuse import LAST_BUILD, LastBuild, LastBuildWriter, _digest, copy_rows
from index.settings import Settings
from index.stages import _unpack_page
from index.store import MANIFEST
from tests.fakes import HashingEmbedder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards of a few dozen texts, so a small corpus is cut into many."""
    monkeypatch.setattr(analysis, "SHARD_TEXTS", 40)
    monkeypatch.setattr(embedding_cache, "SHARD_BATCHES", 2)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, stories_dir: Path) -> Path:
    """About 300 chunks of pages made from the stories' own sentences."""
    root = tmp_path_factory.mktemp("archive")
    reading = root / "reading"  # no reading-comprehension files: nothing planted
    reading.mkdir()
    sources = archive_sources(stories_dir, reading, questions=0)
    write_archive(root / "stories", 300, sources, seed=1, plant=False)
    return root / "stories"


def build(docs: Path, root: Path, jobs: int, embedder: HashingEmbedder) -> BuildSummary:
    settings = Settings(
        docs_dir=docs,
        index_dir=root / "index",
        cache_dir=root / "cache",
        build_jobs=jobs,
        embed_batch_size=16,
        delta_max_share=0,  # full builds: what they reuse of the last one (deltas: test_delta)
    )
    return build_generation(settings, embedder=embedder)


def artifacts(summary: BuildSummary) -> dict[str, str]:
    """Checksums of every file of a generation (the manifest's own fields aside)."""
    manifest = json.loads((summary.path / MANIFEST).read_text("utf-8"))
    checksums: dict[str, str] = manifest["artifacts"]
    return checksums


def test_two_jobs_build_what_one_job_builds(
    archive: Path, tmp_path: Path, small_shards: None
) -> None:
    one, two = HashingEmbedder(), HashingEmbedder()
    alone = build(archive, tmp_path / "one", jobs=1, embedder=one)
    pooled = build(archive, tmp_path / "two", jobs=2, embedder=two)
    assert one.calls == alone.chunks  # embedded here
    assert two.calls == 0  # embedded by the workers
    assert pooled.tokenised == alone.tokenised > 0
    assert artifacts(pooled) == artifacts(alone)


def _first_build(archive: Path, tmp_path: Path) -> tuple[Path, BuildSummary]:
    """A copy of the archive (days are added to it) and its first build, in `daily`."""
    docs = tmp_path / "stories"
    docs.mkdir()
    for page in archive.iterdir():
        (docs / page.name).write_bytes(page.read_bytes())
    return docs, build(docs, tmp_path / "daily", jobs=1, embedder=HashingEmbedder())


def test_a_daily_build_redoes_only_the_new_stories_and_equals_a_full_one(
    archive: Path, tmp_path: Path, stories_dir: Path
) -> None:
    docs, first = _first_build(archive, tmp_path)
    reading = tmp_path / "reading"
    reading.mkdir()
    sources = archive_sources(stories_dir, reading, questions=0)
    write_archive(docs, 30, sources, seed=2, prefix="day", plant=False)

    daily = build(docs, tmp_path / "daily", jobs=1, embedder=HashingEmbedder())
    full = build(docs, tmp_path / "full", jobs=1, embedder=HashingEmbedder())
    new_chunks = daily.chunks - first.chunks
    assert 0 < daily.embedded == new_chunks < daily.chunks / 5
    assert 0 < daily.tokenised < full.tokenised / 5
    assert artifacts(daily) == artifacts(full)


def test_a_daily_build_reads_the_last_builds_arrays_and_survives_their_damage(
    archive: Path, tmp_path: Path, stories_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs, first = _first_build(archive, tmp_path)
    last = tmp_path / "daily" / "cache" / LAST_BUILD
    assert (last / "vectors.npy").is_file()
    # Without the embedding cache, the old chunks' vectors can only come from the arrays;
    # without the cached pinyin, the old words' pinyin too.
    (tmp_path / "daily" / "cache" / "embeddings.sqlite").unlink()
    with sqlite3.connect(tmp_path / "daily" / "cache" / "analysis.sqlite") as db:
        db.execute("DELETE FROM pinyin")
    db.close()
    kept = LastBuild.open(tmp_path / "daily" / "cache")
    assert kept is not None
    old_words = set(kept.strings("pinyin.words") or ())
    assert old_words
    spelled: list[str] = []

    def pinyin_keys(words: list[str]) -> list[str]:
        spelled.extend(words)
        return crosslingual.pinyin_keys(words)

    monkeypatch.setattr("index.stages.pinyin_keys", pinyin_keys)
    reading = tmp_path / "reading"
    reading.mkdir()
    write_archive(docs, 30, archive_sources(stories_dir, reading, 0), seed=2, prefix="day")
    daily = build(docs, tmp_path / "daily", jobs=1, embedder=HashingEmbedder())
    assert 0 < daily.embedded == daily.chunks - first.chunks
    assert spelled and not old_words & set(spelled)  # only the new words were spelled

    # Damaged arrays (a term table that no longer matches, vectors cut short) are not used.
    meta = json.loads((last / "meta.json").read_text("utf-8"))
    (last / "meta.json").write_text(json.dumps({**meta, "terms_digest": "0" * 64}), "utf-8")
    (last / "vectors.npy").write_bytes(b"not numpy")
    (last / "pinyin.keys.npy").write_bytes(b"not numpy")
    extra = "新的一天\n\n本报记者 王明\n\n今天下雨。\n"
    (docs / "day-0000000_extra.txt").write_text(extra, "utf-8")
    again = build(docs, tmp_path / "daily", jobs=1, embedder=HashingEmbedder())
    full = build(docs, tmp_path / "full", jobs=1, embedder=HashingEmbedder())
    assert artifacts(again) == artifacts(full)


def test_nan_vectors_in_the_last_build_are_embedded_afresh_not_reused(
    archive: Path, tmp_path: Path
) -> None:
    docs, first = _first_build(archive, tmp_path)
    cache = tmp_path / "daily" / "cache"
    (cache / "embeddings.sqlite").unlink()  # the arrays are all that could lend vectors
    last = cache / LAST_BUILD
    vectors = np.load(last / "vectors.npy")
    vectors[::10] = np.nan
    np.save(last / "vectors.npy", vectors)
    # With its checksum made to match: the NaN came from the model, not from the disk.
    meta = json.loads((last / "meta.json").read_text("utf-8"))
    (last / "meta.json").write_text(json.dumps({**meta, "vectors.sha256": _digest(vectors)}))
    again = build(docs, tmp_path / "daily", jobs=1, embedder=HashingEmbedder())
    assert again.embedded == again.chunks
    assert artifacts(again) == artifacts(first)


def test_a_damaged_page_in_the_page_cache_is_cut_afresh(archive: Path, tmp_path: Path) -> None:
    docs, first = _first_build(archive, tmp_path)
    path = tmp_path / "daily" / "cache" / "analysis.sqlite"
    with sqlite3.connect(path) as db:
        keys = [key for (key,) in db.execute("SELECT key FROM pages ORDER BY key LIMIT 4")]
        damaged = {
            keys[0]: b"not zlib",
            keys[1]: zlib.compress(b"2 1\n{}"),  # fewer lines than counted
            keys[2]: zlib.compress(b"0 1\n[1]"),  # a line that is no chunk
            # the format before lines were kept
            keys[3]: zlib.compress(json.dumps({"articles": [], "chunks": []}).encode()),
        }
        db.executemany(
            "UPDATE pages SET data = ? WHERE key = ?", [(v, k) for k, v in damaged.items()]
        )
    again = build(docs, tmp_path / "daily", jobs=1, embedder=HashingEmbedder())
    assert artifacts(again) == artifacts(first)
    with sqlite3.connect(path) as db:
        for key in damaged:
            ((blob,),) = db.execute("SELECT data FROM pages WHERE key = ?", (key,)).fetchall()
            assert _unpack_page(blob) is not None  # cut afresh and kept again


def kept_pinyin(cache: Path, words: list[str]) -> dict[str, str]:
    last = LastBuild.open(cache)
    assert last is not None
    return last.pinyin(words)


def test_the_last_builds_pinyin_is_read_back_unless_damaged(tmp_path: Path) -> None:
    writer = LastBuildWriter(tmp_path)
    writer.save_pinyin({"北京": "beijing", "苏州": "suzhou"})
    writer.commit()
    assert kept_pinyin(tmp_path, ["苏州", "上海"]) == {"苏州": "suzhou"}
    path = tmp_path / LAST_BUILD / "pinyin.keys.npy"
    changed = np.load(path)
    changed[0] ^= 1  # still UTF-8, still two keys: only the checksum tells
    np.save(path, changed)
    assert kept_pinyin(tmp_path, ["苏州"]) == {}
    path.write_bytes(b"not numpy")
    assert kept_pinyin(tmp_path, ["苏州"]) == {}


KILLED_BUILD = """
import sys, time
from pathlib import Path
from index import embedding_cache
from index.build import build_generation
from index.settings import Settings
from tests.fakes import HashingEmbedder

class Slow(HashingEmbedder):
    def embed_passages(self, texts):
        time.sleep(0.1)
        return super().embed_passages(texts)

embedding_cache.SHARD_BATCHES = 1
docs, root = Path(sys.argv[1]), Path(sys.argv[2])
settings = Settings(docs_dir=docs, index_dir=root / "index", cache_dir=root / "cache",
                    build_jobs=1, embed_batch_size=16)
build_generation(settings, embedder=Slow())
"""


def cached_vectors(cache: Path) -> int:
    try:
        with sqlite3.connect(cache, timeout=1) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM vectors").fetchone()
            return int(count)
    except sqlite3.Error:
        return 0


def test_a_killed_build_resumes_from_the_shards_it_finished(archive: Path, tmp_path: Path) -> None:
    root = tmp_path / "killed"
    cache = root / "cache" / "embeddings.sqlite"
    running = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_BUILD), str(archive), str(root)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while cached_vectors(cache) < 48 and time.monotonic() < deadline:
            assert running.poll() is None, "the build ended before it could be killed"
            time.sleep(0.05)
    finally:
        running.kill()  # SIGKILL: no cleanup of any kind
        running.wait()
    kept = cached_vectors(cache)
    assert kept >= 48
    assert not (root / "index" / "current").exists()

    resumed = build(archive, root, jobs=1, embedder=HashingEmbedder())
    assert resumed.embedded == resumed.chunks - kept > 0
    clean = build(archive, tmp_path / "clean", jobs=1, embedder=HashingEmbedder())
    assert artifacts(resumed) == artifacts(clean)


@pytest.mark.parametrize("shuffled", [False, True])
def test_the_last_builds_analyses_are_copied_run_by_run_or_gathered_alike(shuffled: bool) -> None:
    """`_copy_runs` copies texts that follow each other in both builds a slice at a time;
    the result equals gathering every position, in order or shuffled, with empty texts."""
    import numpy as np

    from index.reuse import ragged_positions

    rng = np.random.default_rng(7)
    lengths = rng.integers(0, 6, size=400)
    source_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = rng.integers(0, 1000, size=int(source_offsets[-1])).astype(np.int32)
    previous = (source_offsets, values, values + 1)
    # This build: the last build's texts in order with new ones between them (or shuffled).
    source_rows = np.arange(400, dtype=np.int64)
    if shuffled:
        rng.shuffle(source_rows)
    target_rows = np.sort(rng.choice(np.arange(403), size=400, replace=False)).astype(np.int64)
    target_lengths = np.zeros(403, dtype=np.int64)
    target_lengths[target_rows] = lengths[source_rows]
    offsets = np.concatenate([[0], np.cumsum(target_lengths)]).astype(np.int64)
    ids = np.full(int(offsets[-1]), -1, dtype=np.int32)
    counts = np.full(int(offsets[-1]), -1, dtype=np.int32)
    analysis._copy_runs(source_rows, target_rows, source_offsets, offsets, previous, ids, counts)
    source = ragged_positions(source_offsets[source_rows], lengths[source_rows])
    target = ragged_positions(offsets[target_rows], lengths[source_rows])
    expected = np.full(len(ids), -1, dtype=np.int32)
    expected[target] = values[source]
    assert np.array_equal(ids, expected)
    assert np.array_equal(counts[target], values[source] + 1)


@pytest.mark.parametrize("shuffled", [False, True])
def test_the_last_builds_vectors_are_copied_run_by_run_or_gathered_alike(shuffled: bool) -> None:
    """`copy_rows` equals `target[at] = source[rows]`, in order or shuffled."""
    rng = np.random.default_rng(3)
    source = rng.random((300, 4)).astype(np.float32)
    rows = np.arange(300, dtype=np.int64)
    if shuffled:
        rng.shuffle(rows)
    at = np.sort(rng.choice(np.arange(310), size=300, replace=False)).astype(np.int64)
    target = np.zeros((310, 4), dtype=np.float32)
    copy_rows(source, rows, target, at)
    expected = np.zeros((310, 4), dtype=np.float32)
    expected[at] = source[rows]
    assert np.array_equal(target, expected)


def test_a_term_table_with_a_gap_in_its_ids_is_distrusted(tmp_path: Path) -> None:
    path = tmp_path / "analysis.sqlite"
    cache = analysis.AnalysisCache(path)
    assert cache.term_ids(["新闻", "记者", "今天"]).tolist() == [0, 1, 2]
    cache.close()
    assert analysis.AnalysisCache(path).terms() == ["新闻", "记者", "今天"]
    with sqlite3.connect(path) as db:
        db.execute("UPDATE terms SET id = 5 WHERE id = 1")  # ids 0, 2, 5
    db.close()
    reopened = analysis.AnalysisCache(path)
    assert reopened.terms() == []
    assert reopened.get_many(analysis.BM25_TERMS, ["x"]) == {}  # the cache is off
