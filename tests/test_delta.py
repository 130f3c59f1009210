"""Daily builds as a delta segment beside the last full build, served as one archive."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from index.analysis import BM25_TERMS, analyse_texts
from index.archive import ArchiveSources, archive_sources, write_archive
from index.build import BuildSummary, build_generation
from index.crosslingual import CrossLingualLexicon
from index.lexical import K1, B, LexicalIndex, write_bm25
from index.parallel import ShardPool
from index.segments import DELTA_DIR, SEGMENTS, SegmentedDense, SegmentedLexical
from index.service import load_engine
from index.settings import Settings
from index.store import MANIFEST
from index.tokenize import tokenize
from tests.fakes import HashingEmbedder
from tests.test_lexical import corpus

# --- BM25 over two segments ------------------------------------------------------------


def _write(texts: list[str], directory: Path, base: LexicalIndex | None = None) -> LexicalIndex:
    with ShardPool(1) as pool:
        tokens = analyse_texts(texts, (BM25_TERMS,), None, pool)[BM25_TERMS]
    statistics = base.statistics() if base is not None else None
    assert base is None or statistics is not None
    write_bm25(tokens.ids, tokens.offsets, tokens.terms, directory, tokens.counts, statistics)
    return LexicalIndex(directory)


def _reference(texts: list[str], average: float, query: str) -> np.ndarray:
    """BM25 of every text as one archive, with `average` as the mean length (float64)."""
    counts = [Counter(tokenize(t)) for t in texts]
    lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)
    scores = np.zeros(len(texts))
    for token in tokenize(query):
        df = sum(token in c for c in counts)
        if not df:
            continue
        idf = math.log(1 + (len(texts) - df + 0.5) / (df + 0.5))
        tf = np.array([c.get(token, 0) for c in counts], dtype=np.float64)
        scores += idf * tf / (tf + K1 * (1 - B + B * lengths / average))
    return scores


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], float, SegmentedLexical]:
    texts = corpus(300, seed=5)
    base_texts, delta_texts = texts[:260], texts[260:]
    root = tmp_path_factory.mktemp("segments")
    base = _write(base_texts, root / "base")
    delta = _write(delta_texts, root / "delta", base)
    statistics = base.statistics()
    assert statistics is not None
    return texts, statistics.average_length, SegmentedLexical(base, delta)


QUERIES = ("聂荣县远程会诊多少场", "牧民合作社投资项目", "Lhasa covid-19 热线", "90余场次", "无关")


@pytest.mark.parametrize("query", QUERIES)
def test_two_segments_score_as_one_archive_with_the_bases_average_length(
    segments: tuple[list[str], float, SegmentedLexical], query: str
) -> None:
    texts, average, lexical = segments
    expected = _reference(texts, average, query)
    ids = lexical.query_ids(query)
    got = lexical.scores_for(ids, np.arange(len(texts)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("query", QUERIES)
def test_top_k_over_two_segments_is_the_exhaustive_ranking(
    segments: tuple[list[str], float, SegmentedLexical], query: str
) -> None:
    texts, _, lexical = segments
    ids = lexical.query_ids(query)
    everything = lexical.scores_for(ids, np.arange(len(texts)))
    also = np.array([3, 270, 299, 0], dtype=np.int64)
    rows, scores, also_scores = lexical.top_k(ids, 10, also=also)
    order = np.lexsort((np.arange(len(texts)), -everything))
    expected = [r for r in order[:10].tolist() if everything[r] > 0]
    assert rows.tolist() == expected
    np.testing.assert_allclose(scores, everything[expected], rtol=1e-6)
    np.testing.assert_allclose(also_scores, everything[also], rtol=1e-6)


def test_a_delta_index_is_never_taken_for_a_base(
    segments: tuple[list[str], float, SegmentedLexical], tmp_path: Path
) -> None:
    base = _write(corpus(50), tmp_path / "base")
    delta = _write(corpus(10, seed=9), tmp_path / "delta", base)
    assert base.statistics() is not None
    assert delta.statistics() is None  # a delta's scores are not its own archive's


def test_two_dense_indexes_search_as_one() -> None:
    import faiss

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(120, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    base, delta, whole = faiss.IndexFlatIP(16), faiss.IndexFlatIP(16), faiss.IndexFlatIP(16)
    base.add(vectors[:100])
    delta.add(vectors[100:])
    whole.add(vectors)
    both = SegmentedDense(base, delta)
    assert both.ntotal == 120
    for query in vectors[[0, 105, 50]]:
        got = both.search(query[None, :], 7)
        expected = whole.search(query[None, :], 7)
        assert got[1].tolist() == expected[1].tolist()
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)


def test_merged_lexicons_keep_the_best_translations_of_both() -> None:
    base = CrossLingualLexicon({"doctor": [("医生", 1.0)]}, {"lasa": ["拉萨"]})
    delta = CrossLingualLexicon(
        {"doctor": [("大夫", 2.0)], "yak": [("牦牛", 1.0)]}, {"lasa": ["拉撒"], "nierong": ["聂荣"]}
    )
    merged = base.merged_with(delta)
    assert [w for w, _ in merged.translations["doctor"]] == ["大夫", "医生"]
    assert merged.translations["yak"] == [("牦牛", 1.0)]
    assert merged.pinyin == {"lasa": ["拉撒", "拉萨"], "nierong": ["聂荣"]}


# --- daily builds -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, stories_dir: Path) -> ArchiveSources:
    reading = tmp_path_factory.mktemp("reading")  # no reading-comprehension files
    return archive_sources(stories_dir, reading, questions=0)


def _settings(docs: Path, root: Path, share: float = 0.1) -> Settings:
    return Settings(
        docs_dir=docs,
        index_dir=root / "index",
        cache_dir=root / "cache",
        build_jobs=1,
        embed_batch_size=16,
        delta_max_share=share,
        answerer="rules",
    )


def _build(settings: Settings) -> BuildSummary:
    return build_generation(settings, embedder=HashingEmbedder())


def _manifest(summary: BuildSummary) -> dict[str, object]:
    data: dict[str, object] = json.loads((summary.path / MANIFEST).read_text("utf-8"))
    return data


@pytest.fixture
def archive(tmp_path: Path, sources: ArchiveSources) -> tuple[Path, BuildSummary]:
    docs = tmp_path / "stories"
    write_archive(docs, 600, sources, seed=1, plant=False)
    return docs, _build(_settings(docs, tmp_path))


def test_new_stories_are_a_delta_that_serves_as_a_full_build_would(
    archive: tuple[Path, BuildSummary], sources: ArchiveSources, tmp_path: Path
) -> None:
    docs, first = archive
    write_archive(docs, 30, sources, seed=2, prefix="day", plant=False)
    daily = _build(_settings(docs, tmp_path))
    assert daily.delta_chunks == daily.chunks - first.chunks > 0
    assert daily.embedded == daily.delta_chunks
    assert (daily.path / DELTA_DIR / "bm25_chunks").is_dir()
    # The base's files are the first build's, linked, not written again.
    for name in ("chunks.jsonl", "dense.faiss", "bm25_chunks/data.csc.index.npy"):
        assert os.stat(daily.path / name).st_ino == os.stat(first.path / name).st_ino
    segments = _manifest(daily)["settings"][SEGMENTS]  # type: ignore[index]
    assert segments["base_generation"] == first.generation
    assert all(f.startswith("day") for f in segments["delta_files"])

    full = _build(_settings(docs, tmp_path / "full", share=0))
    assert full.delta_chunks == 0 and full.chunks == daily.chunks
    served = load_engine(_settings(docs, tmp_path), embedder=HashingEmbedder())
    merged = load_engine(_settings(docs, tmp_path / "full"), embedder=HashingEmbedder())
    assert served.info.generation == daily.generation
    assert served.info.chunks == merged.info.chunks
    rows = len(served._corpus)
    new_texts = [served._corpus[r].text for r in range(first.chunks, rows, 7)]
    old_texts = [served._corpus[r].text for r in range(0, first.chunks, 97)]
    assert new_texts and old_texts
    for text in new_texts + old_texts:
        query = text[5:40]
        got = {h.chunk.id: h.score for h in served.search(query, 5)}
        expected = {h.chunk.id: h.score for h in merged.search(query, 5)}
        # Equal scores, chunk by chunk (rows differ: ties may list other repeats of a text).
        np.testing.assert_allclose(sorted(got.values()), sorted(expected.values()), atol=1e-3)
        for chunk_id in got.keys() & expected.keys():
            assert got[chunk_id] == pytest.approx(expected[chunk_id], abs=1e-3), query
    for text in new_texts:  # the new stories are found, and read back by id
        hit = served.search(text[5:40], 3)[0]
        assert served._corpus.chunk(hit.chunk.id) == hit.chunk


def test_the_next_day_rebuilds_the_delta_over_the_same_base(
    archive: tuple[Path, BuildSummary], sources: ArchiveSources, tmp_path: Path
) -> None:
    docs, first = archive
    settings = _settings(docs, tmp_path, share=0.25)  # two days' pages of a small archive
    write_archive(docs, 20, sources, seed=2, prefix="day1", plant=False)
    one = _build(settings)
    write_archive(docs, 20, sources, seed=3, prefix="day2", plant=False)
    two = _build(settings)
    assert 0 < one.delta_chunks < two.delta_chunks
    assert two.embedded == two.delta_chunks - one.delta_chunks  # day 1 came from the cache
    segments = _manifest(two)["settings"][SEGMENTS]  # type: ignore[index]
    assert segments["base_generation"] == first.generation
    assert {f[:4] for f in segments["delta_files"]} == {"day1", "day2"}
    engine = load_engine(settings, embedder=HashingEmbedder())
    assert engine.info.chunks == two.chunks == len(engine._corpus)
    assert engine.info.delta_chunks == two.delta_chunks

    from click.testing import CliRunner

    from index.cli import main

    listed = CliRunner().invoke(main, ["index", "list", "--index", str(settings.index_dir)])
    lines = listed.output.splitlines()
    assert listed.exit_code == 0, listed.output
    assert f"delta of {two.delta_chunks} chunks" in next(x for x in lines if x.startswith("*"))
    assert any(first.generation in x and "delta" not in x for x in lines)


@pytest.mark.parametrize("change", ["edited", "removed", "too many"])
def test_anything_but_a_few_new_stories_makes_a_full_build(
    archive: tuple[Path, BuildSummary], sources: ArchiveSources, tmp_path: Path, change: str
) -> None:
    docs, _ = archive
    write_archive(docs, 20, sources, seed=2, prefix="day", plant=False)
    assert _build(_settings(docs, tmp_path)).delta_chunks > 0
    old = sorted(p for p in docs.iterdir() if p.name.startswith("page"))[3]
    if change == "edited":
        old.write_text(old.read_text("utf-8") + "\n\n新加的一段话，说明这一页改过了。\n", "utf-8")
    elif change == "removed":
        old.unlink()
    else:
        write_archive(docs, 200, sources, seed=4, prefix="more", plant=False)
    merged = _build(_settings(docs, tmp_path))
    assert merged.delta_chunks == 0
    assert not (merged.path / DELTA_DIR).exists()
    assert SEGMENTS not in _manifest(merged)["settings"]  # type: ignore[operator]
    engine = load_engine(_settings(docs, tmp_path), embedder=HashingEmbedder())
    assert len(engine._corpus) == merged.chunks


def test_a_full_build_can_be_asked_for(
    archive: tuple[Path, BuildSummary],
    sources: ArchiveSources,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    import index.build
    from index.cli import main

    docs, _ = archive
    write_archive(docs, 20, sources, seed=2, prefix="day", plant=False)
    settings = _settings(docs, tmp_path)
    captured: list[Settings] = []

    def build_with_fake_model(given: Settings, progress: bool = False) -> BuildSummary:
        captured.append(given)
        return _build(given)

    monkeypatch.setattr(index.build, "build_generation", build_with_fake_model)
    env = {
        "NEWSQA_DOCS_DIR": str(docs),
        "NEWSQA_INDEX_DIR": str(settings.index_dir),
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
    }
    result = CliRunner().invoke(main, ["index", "build", "--full", "--quiet"], env=env)
    assert result.exit_code == 0, result.output
    assert captured[0].delta_max_share == 0
    assert "delta of" not in result.output
    result = CliRunner().invoke(main, ["index", "build", "--quiet"], env=env)
    assert result.exit_code == 0, result.output
    assert captured[1].delta_max_share == 0.1
