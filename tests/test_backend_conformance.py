"""One suite, every retrieval backend: the embedded files and Milvus (on milvus-lite, offline).

The five shared stories with the deterministic hashing embedder (tests/fakes.py), so rankings
depend on the backend alone. milvus-lite computes BM25 statistics per segment, so the suite
asserts top hits on clear-cut queries, never scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index.backends.building import write_generation
from index.backends.factory import open_catalog
from index.backends.protocol import GenerationCatalog, RetrievalBackend
from index.errors import IndexInvalidError, IndexNotFoundError
from index.settings import Settings
from index.stages import PreparedCorpus, prepare_corpus
from tests.fakes import HashingEmbedder
from tests.test_milvus_server_rules import drop_alias_collections, needs_server, server_settings

NIERONG = "001_a156c6055a039714.txt"
BACKENDS = ["embedded", "milvus-lite"]
# A real Milvus server too, when NEWSQA_TEST_MILVUS_URI names one (docs/milvus.md); skipped
# otherwise. Each test gets its own alias there, whose collections are dropped afterwards.
WITH_SERVER = [*BACKENDS, pytest.param("milvus-server", marks=needs_server)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, stories_dir: Path) -> PreparedCorpus:
    root = tmp_path_factory.mktemp("corpus")
    settings = Settings(docs_dir=stories_dir, cache_dir=root / "cache")
    return prepare_corpus(settings, embedder=HashingEmbedder())


@pytest.fixture(scope="module")
def smaller(tmp_path_factory: pytest.TempPathFactory, stories_dir: Path) -> PreparedCorpus:
    """Four of the five stories: a second generation that differs from the first."""
    root = tmp_path_factory.mktemp("smaller")
    docs = root / "stories"
    docs.mkdir()
    for story in sorted(stories_dir.iterdir())[:4]:
        (docs / story.name).write_bytes(story.read_bytes())
    settings = Settings(docs_dir=docs, cache_dir=root / "cache")
    return prepare_corpus(settings, embedder=HashingEmbedder())


@pytest.fixture(params=WITH_SERVER)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "milvus-server":
        server = server_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
        request.addfinalizer(lambda: drop_alias_collections(server))
        return server
    uri = f"file://{tmp_path / 'files'}" if request.param == "embedded" else ""
    if request.param == "milvus-lite":
        uri = f"milvus://{tmp_path / 'lite.db'}"
    return Settings(backend=uri, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")


@pytest.fixture
def catalog(settings: Settings) -> Iterator[GenerationCatalog]:
    opened = open_catalog(settings)
    yield opened
    opened.close()


def publish(catalog: GenerationCatalog, corpus: PreparedCorpus, settings: Settings) -> str:
    return write_generation(catalog, corpus, settings)


def open_current(catalog: GenerationCatalog) -> RetrievalBackend:
    embedder = HashingEmbedder()
    return catalog.open(embedder.id, embedder.dimension)


@pytest.fixture
def built(
    catalog: GenerationCatalog, corpus: PreparedCorpus, settings: Settings
) -> Iterator[RetrievalBackend]:
    publish(catalog, corpus, settings)
    backend = open_current(catalog)
    yield backend
    backend.close()


def unique_row(corpus: PreparedCorpus, needle: str) -> int:
    rows = [i for i, c in enumerate(corpus.chunks) if needle in c.text]
    assert len(rows) == 1, f"{needle!r} is in {len(rows)} chunks"
    return rows[0]


def test_every_chunk_is_stored_once(built: RetrievalBackend, corpus: PreparedCorpus) -> None:
    assert built.count() == len(corpus.chunks)
    first = corpus.chunks[0]
    assert built.chunk(first.id) == first
    assert built.chunk("no-such-chunk") is None


def test_dense_top1_is_the_chunk_whose_text_was_embedded(
    built: RetrievalBackend, corpus: PreparedCorpus
) -> None:
    row = unique_row(corpus, "90余场次")
    [top] = built.search("", corpus.vectors[row], 1)
    assert top.chunk.id == corpus.chunks[row].id


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
def test_lexical_top1_on_a_phrase_only_one_chunk_has(
    built: RetrievalBackend, corpus: PreparedCorpus, fusion: str
) -> None:
    row = unique_row(corpus, "90余场次")
    hits = built.search("远程服务 90余场次 数据多跑路", None, 3, fusion=fusion)  # type: ignore[arg-type]
    assert hits[0].chunk.id == corpus.chunks[row].id


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
def test_hybrid_top1_finds_the_story_of_a_clear_question(
    built: RetrievalBackend, fusion: str
) -> None:
    question = "聂荣县远程会诊多少场"
    vector = HashingEmbedder().embed_queries([question])[0]
    hits = built.search(question, vector, 5, fusion=fusion)  # type: ignore[arg-type]
    assert hits[0].chunk.file == NIERONG


def test_story_filter_keeps_other_stories_out(
    built: RetrievalBackend, corpus: PreparedCorpus
) -> None:
    others = sorted({c.file for c in corpus.chunks} - {NIERONG})
    question = "聂荣县远程会诊多少场"
    vector = HashingEmbedder().embed_queries([question])[0]
    hits = built.search(question, vector, 10, stories=others[:2])
    assert hits
    assert {h.chunk.file for h in hits} <= set(others[:2])
    only = built.search(question, vector, 10, stories=[NIERONG])
    assert only and {h.chunk.file for h in only} == {NIERONG}


def test_deleting_a_story_removes_its_chunks(
    catalog: GenerationCatalog, corpus: PreparedCorpus
) -> None:
    embedder = HashingEmbedder()
    backend = catalog.create(embedder.id, embedder.dimension)
    try:
        from index.backends.building import chunk_records

        backend.upsert(chunk_records(corpus))
        backend.commit()
        assert backend.count() == len(corpus.chunks)
        backend.delete_story(NIERONG)
        backend.commit()
        gone = sum(c.file == NIERONG for c in corpus.chunks)
        assert gone > 0
        assert backend.count() == len(corpus.chunks) - gone
        row = unique_row(corpus, "90余场次")
        hits = backend.search("聂荣县 90余场次", corpus.vectors[row], 10)
        assert hits and all(h.chunk.file != NIERONG for h in hits)
    finally:
        catalog.discard(backend)
        backend.close()


def test_a_new_generation_switches_in_while_a_searcher_stays_on_the_old(
    catalog: GenerationCatalog,
    corpus: PreparedCorpus,
    smaller: PreparedCorpus,
    settings: Settings,
) -> None:
    first = publish(catalog, corpus, settings)
    serving = open_current(catalog)
    second = publish(catalog, smaller, settings)
    assert second != first
    assert catalog.current() == second
    # The open searcher still answers from its own generation, whole.
    assert serving.generation == first
    assert serving.count() == len(corpus.chunks)
    row = unique_row(corpus, "90余场次")
    assert serving.search("", corpus.vectors[row], 1)[0].chunk.file == NIERONG
    fresh = open_current(catalog)
    assert fresh.generation == second and fresh.count() == len(smaller.chunks)
    assert [r.generation for r in catalog.generations()] == [second, first]
    assert [r.current for r in catalog.generations()] == [True, False]


def test_a_generation_of_another_embedder_is_refused(
    catalog: GenerationCatalog, corpus: PreparedCorpus, settings: Settings
) -> None:
    publish(catalog, corpus, settings)
    with pytest.raises(IndexInvalidError, match="embedder"):
        catalog.open("another/model", 64)
    with pytest.raises(IndexInvalidError, match="384"):
        catalog.open(HashingEmbedder().id, 384)


def test_rollback_serves_the_previous_generation_and_prune_keeps_current(
    catalog: GenerationCatalog,
    corpus: PreparedCorpus,
    smaller: PreparedCorpus,
    settings: Settings,
) -> None:
    with pytest.raises(IndexNotFoundError):
        catalog.rollback()
    first = publish(catalog, smaller, settings)
    second = publish(catalog, corpus, settings)
    third = publish(catalog, smaller, settings)
    assert catalog.rollback() == second
    assert catalog.current() == second
    assert open_current(catalog).count() == len(corpus.chunks)
    # keep=1: the newest stays, the serving one is never dropped, the oldest goes.
    assert catalog.prune(1) == [first]
    assert [r.generation for r in catalog.generations()] == [third, second]
    with pytest.raises(IndexNotFoundError):
        catalog.rollback()


def test_side_data_round_trips(built: RetrievalBackend) -> None:
    from index.corpus import ARTICLES_FILE

    assert "聂荣县" in built.get_blob(ARTICLES_FILE)
    with pytest.raises(IndexInvalidError):
        built.get_blob("missing.json")
