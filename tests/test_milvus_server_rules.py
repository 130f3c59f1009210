"""Milvus rules that milvus-lite lets through and a server does not, and newsqa keeps to them.

A server refuses to load a collection whose vector fields are not all indexed, and to query,
search, upsert into or delete from one that is not loaded; it caps a query result (~64 MB);
collection properties go to etcd, whose requests are capped (1.5 MiB); its default consistency
(Bounded) may not see the last seconds of writes. milvus-lite enforces none of that, so
StrictClient does, around a real client: the build, the reads of a served generation, the
blobs and the manifest all go through it here. The same tests run against a server when
NEWSQA_TEST_MILVUS_URI is set (docs/milvus.md); the rules then hold on both sides.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from index.backends.building import chunk_records, write_generation
from index.backends.milvus import (
    ANALYZER,
    BLOB_PAGE_ROWS,
    BLOB_PIECE_BYTES,
    DOCS_SUFFIX,
    MANIFEST_BLOB,
    MilvusBackend,
    MilvusBackendError,
    MilvusCatalog,
    blob_pieces,
    choose_dense_index,
    ivf_lists,
)
from index.backends.protocol import ChunkRecord
from index.corpus import ARTICLES_FILE, CHUNKS_FILE
from index.errors import IndexInvalidError
from index.generation import LEXICON_FILE
from index.settings import Settings
from index.stages import PreparedCorpus, prepare_corpus
from tests.fakes import HashingEmbedder

SERVER_URI_ENV = "NEWSQA_TEST_MILVUS_URI"
SERVER_TOKEN_ENV = "NEWSQA_TEST_MILVUS_TOKEN"
NIERONG = "001_a156c6055a039714.txt"
VECTOR_TYPES = {DataType.FLOAT_VECTOR, DataType.SPARSE_FLOAT_VECTOR}


# --- a real server, when the environment names one --------------------------------------


def server_backend_uri() -> str | None:
    """NEWSQA_TEST_MILVUS_URI as a NEWSQA_BACKEND (milvus+http://…), or None when unset;
    http://host:19530 is taken as milvus+http://host:19530."""
    uri = os.environ.get(SERVER_URI_ENV, "").strip()
    if not uri:
        return None
    return uri if uri.startswith("milvus+") else f"milvus+{uri}"


def server_settings(**values: Any) -> Settings:
    """Settings for the test server under a fresh alias, so runs never meet each other."""
    uri = server_backend_uri()
    assert uri is not None
    token = os.environ.get(SERVER_TOKEN_ENV) or None
    return Settings(
        backend=uri,
        milvus_collection=f"newsqa_test_{uuid.uuid4().hex[:10]}",
        milvus_token=token,
        **values,
    )


def drop_alias_collections(settings: Settings) -> None:
    """Drop every collection and the alias a test made on the server."""
    from index.backends.factory import open_catalog

    catalog = open_catalog(settings)
    try:
        client: Any = catalog._client  # type: ignore[attr-defined]
        alias = settings.milvus_collection
        if alias in (client.list_aliases().get("aliases") or []):
            client.drop_alias(alias)
        for name in client.list_collections():
            if name.startswith(alias + "_"):
                client.drop_collection(name)
    finally:
        catalog.close()


needs_server = pytest.mark.skipif(
    server_backend_uri() is None, reason=f"{SERVER_URI_ENV} is not set (no Milvus server)"
)


# --- the rules ----------------------------------------------------------------------------


class StrictClient:
    """A MilvusClient that refuses what a Milvus server refuses and milvus-lite allows."""

    def __init__(self, inner: Any, result_cap: int = 4 * 2**20, property_cap: int = 1024) -> None:
        self._inner = inner
        self.result_cap = result_cap
        self.property_cap = property_cap
        self.loaded: set[str] = set()
        self.written: set[str] = set()
        self.largest_result = 0
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @staticmethod
    def _refuse(message: str) -> MilvusException:
        return MilvusException(message=f"strict: {message}")

    def _require_loaded(self, collection: str, what: str) -> None:
        if collection not in self.loaded:
            raise self._refuse(f"{what} on {collection}: collection not loaded")

    def _require_strong(self, collection: str, kwargs: dict[str, Any]) -> None:
        if collection in self.written and kwargs.get("consistency_level") != "Strong":
            raise self._refuse(
                f"read of {collection} after a write without consistency_level='Strong'"
            )

    def _measure(self, collection: str, result: Any) -> Any:
        size = len(json.dumps(result, default=str, ensure_ascii=False).encode("utf-8"))
        self.largest_result = max(self.largest_result, size)
        self.reads += 1
        if size > self.result_cap:
            raise self._refuse(f"a result of {size} bytes from {collection} passes the cap")
        return result

    def _check_properties(self, properties: dict[str, Any] | None, current: dict[str, Any]) -> None:
        merged = {**current, **(properties or {})}
        size = len(json.dumps(merged, default=str).encode("utf-8"))
        if size > self.property_cap:
            raise self._refuse(f"{size} bytes of collection properties (etcd)")

    def create_collection(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._check_properties(kwargs.get("properties"), {})
        result = self._inner.create_collection(name, *args, **kwargs)
        if kwargs.get("index_params") is not None:
            self.loaded.add(name)  # MilvusClient loads a collection created with its indexes
        return result

    def alter_collection_properties(self, name: str, properties: dict[str, Any], **kw: Any) -> Any:
        current = self._inner.describe_collection(name).get("properties") or {}
        self._check_properties(properties, current)
        return self._inner.alter_collection_properties(name, properties, **kw)

    def load_collection(self, name: str, **kwargs: Any) -> Any:
        fields = self._inner.describe_collection(name)["fields"]
        vectors = {f["name"] for f in fields if f["type"] in VECTOR_TYPES}
        indexed = {
            self._inner.describe_index(name, index)["field_name"]
            for index in self._inner.list_indexes(name)
        }
        if vectors - indexed:
            raise self._refuse(f"load {name}: no index on {sorted(vectors - indexed)}")
        self.loaded.add(name)
        return self._inner.load_collection(name, **kwargs)

    def release_collection(self, name: str, **kwargs: Any) -> Any:
        self.loaded.discard(name)
        return self._inner.release_collection(name, **kwargs)

    def drop_collection(self, name: str, **kwargs: Any) -> Any:
        self.loaded.discard(name)
        self.written.discard(name)
        return self._inner.drop_collection(name, **kwargs)

    def insert(self, name: str, data: Any, **kwargs: Any) -> Any:
        self.written.add(name)
        return self._inner.insert(name, data, **kwargs)

    def upsert(self, name: str, data: Any, **kwargs: Any) -> Any:
        self._require_loaded(name, "upsert")
        self.written.add(name)
        return self._inner.upsert(name, data, **kwargs)

    def delete(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._require_loaded(name, "delete")
        self.written.add(name)
        return self._inner.delete(name, *args, **kwargs)

    def query(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._require_loaded(name, "query")
        self._require_strong(name, kwargs)
        if kwargs.get("limit") is None and kwargs.get("output_fields") != ["count(*)"]:
            raise self._refuse(f"query of {name} without a limit: its result is unbounded")
        return self._measure(name, self._inner.query(name, *args, **kwargs))

    def search(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._require_loaded(name, "search")
        self._require_strong(name, kwargs)
        return self._measure(name, self._inner.search(name, *args, **kwargs))

    def hybrid_search(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._require_loaded(name, "hybrid_search")
        self._require_strong(name, kwargs)
        return self._measure(name, self._inner.hybrid_search(name, *args, **kwargs))


# --- fixtures -----------------------------------------------------------------------------

TARGETS = ["milvus-lite", pytest.param("milvus-server", marks=needs_server)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, stories_dir: Path) -> PreparedCorpus:
    root = tmp_path_factory.mktemp("corpus")
    settings = Settings(docs_dir=stories_dir, cache_dir=root / "cache")
    return prepare_corpus(settings, embedder=HashingEmbedder())


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Any]]:
    """Settings and a factory of raw clients, for milvus-lite or the test server."""
    if request.param == "milvus-lite":
        settings = Settings(
            backend=f"milvus://{tmp_path / 'lite.db'}",
            index_dir=tmp_path / "index",
            cache_dir=tmp_path / "cache",
        )
        yield settings, lambda: MilvusClient(uri=str(tmp_path / "lite.db"))
        return
    settings = server_settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    uri = settings.backend.removeprefix("milvus+")
    token = os.environ.get(SERVER_TOKEN_ENV, "")
    try:
        yield settings, lambda: MilvusClient(uri=uri, token=token)
    finally:
        drop_alias_collections(settings)


def strict_catalog(target: tuple[Settings, Any], **options: Any) -> MilvusCatalog:
    settings, make_client = target
    strict = StrictClient(make_client(), **options.pop("rules", {}))
    return MilvusCatalog(strict, settings.milvus_collection, **options)


# --- tests --------------------------------------------------------------------------------


def test_a_build_and_the_reads_of_its_generation_keep_to_server_rules(
    target: tuple[Settings, Any], corpus: PreparedCorpus
) -> None:
    settings = target[0]
    catalog = strict_catalog(target, piece_bytes=2_000, page_rows=8, rules={"result_cap": 2**20})
    strict: StrictClient = catalog._client
    try:
        generation = write_generation(catalog, corpus, settings)
        embedder = HashingEmbedder()
        backend = catalog.open(embedder.id, embedder.dimension)
        assert backend.generation == generation
        question = "聂荣县远程会诊多少场"
        hits = backend.search(question, embedder.embed_queries([question])[0], 5)
        assert hits[0].chunk.file == NIERONG
        assert backend.count() == len(corpus.chunks)
        assert backend.chunk(corpus.chunks[0].id) == corpus.chunks[0]
        assert "聂荣县" in backend.get_blob(ARTICLES_FILE)
        chunks = backend.get_blob(CHUNKS_FILE)
        assert len(chunks.splitlines()) == len(corpus.chunks)
        assert backend.get_blob(LEXICON_FILE)
        [row] = catalog.generations()
        assert row.generation == generation and row.manifest["chunks"] == len(corpus.chunks)
        # A blob is read in pages: no read came near the whole articles blob.
        assert strict.largest_result < len(chunks.encode("utf-8"))
    finally:
        catalog.close()


def test_every_collection_is_indexed_and_loaded_from_creation(
    target: tuple[Settings, Any],
) -> None:
    catalog = strict_catalog(target)
    strict: StrictClient = catalog._client
    try:
        backend = catalog.create("hash", 8)
        # The side data can be written and read before any chunk comes.
        assert backend.docs in strict.loaded
        backend.put_blob("empty.txt", "")
        assert backend.get_blob("empty.txt") == ""
        # The first write gives the chunk collection its dense index and loads it.
        backend.delete_story("nothing.txt")
        assert backend.collection in strict.loaded
        assert backend.count() == 0
        catalog.discard(backend)
    finally:
        catalog.close()


def test_a_blob_larger_than_a_query_result_may_be_round_trips_byte_identically(
    target: tuple[Settings, Any],
) -> None:
    catalog = strict_catalog(target, piece_bytes=7, page_rows=3, rules={"result_cap": 600})
    strict: StrictClient = catalog._client
    try:
        backend = catalog.create("hash", 8)
        # Latin, CJK (3 bytes), an emoji (4 bytes), newlines and a JSON escape across pieces.
        text = ("line «é» 聂荣县远程会诊90余场次 🧪\\n\n" * 80) + "end"
        assert len(text.encode("utf-8")) > 4 * strict.result_cap
        backend.put_blob("mixed.txt", text)
        assert backend.get_blob("mixed.txt") == text
        # A shorter blob under the same name replaces it, no stale part remains.
        backend.put_blob("mixed.txt", "短")
        assert backend.get_blob("mixed.txt") == "短"
        with pytest.raises(IndexInvalidError):
            backend.get_blob("missing.txt")
        catalog.discard(backend)
    finally:
        catalog.close()


def test_a_large_blob_is_read_in_pages_under_the_result_cap(
    target: tuple[Settings, Any],
) -> None:
    catalog = strict_catalog(target, piece_bytes=16_000, page_rows=2, rules={"result_cap": 64_000})
    strict: StrictClient = catalog._client
    try:
        backend = catalog.create("hash", 8)
        text = "".join(f"{i:06d} 第{i}段 草原生态修复治理面积124.5万亩\n" for i in range(8_000))
        assert len(text.encode("utf-8")) > 6 * strict.result_cap
        backend.put_blob("big.jsonl", text)
        strict.reads = 0
        assert backend.get_blob("big.jsonl") == text
        assert strict.reads > 1 and strict.largest_result <= strict.result_cap
        catalog.discard(backend)
    finally:
        catalog.close()


def test_blob_pieces_stay_under_the_byte_limit_and_join_back() -> None:
    text = "a聂🧪é" * 50
    for limit in (4, 5, 7, 64):
        pieces = blob_pieces(text, limit)
        assert "".join(pieces) == text
        assert all(0 < len(p.encode("utf-8")) <= limit for p in pieces)
    assert blob_pieces("", 10) == []
    assert BLOB_PIECE_BYTES <= 65_535 and BLOB_PIECE_BYTES * BLOB_PAGE_ROWS <= 8 * 2**20


def test_a_manifest_of_50000_stories_is_rows_not_a_collection_property(
    target: tuple[Settings, Any],
) -> None:
    catalog = strict_catalog(target, rules={"property_cap": 1024, "result_cap": 8 * 2**20})
    strict: StrictClient = catalog._client
    try:
        backend = catalog.create("hash", 8)
        files = {
            f"{i:06d}_{hashlib.sha1(str(i).encode()).hexdigest()[:16]}.txt": hashlib.sha256(
                str(i).encode()
            ).hexdigest()
            for i in range(50_000)
        }
        manifest = {"schema_version": 1, "generation": "", "chunks": 0, "files": files}
        generation = catalog.publish(backend, manifest)
        properties = strict._inner.describe_collection(backend.collection).get("properties")
        assert len(json.dumps(properties).encode("utf-8")) < 1024
        assert not any("manifest" in key for key in properties)
        read = catalog.manifest(generation)
        assert read["files"] == files and read["generation"] == generation
        [row] = catalog.generations()
        assert len(row.manifest["files"]) == 50_000
        # The manifest is the catalog's: a generation's blobs cannot overwrite it.
        with pytest.raises(ValueError):
            backend.put_blob(MANIFEST_BLOB, "{}")
    finally:
        catalog.close()


@pytest.mark.parametrize("kind", ["HNSW", "IVF_SQ8", "IVF_FLAT", "FLAT", "IVF_PQ", "DISKANN"])
def test_each_dense_index_kind_builds_and_answers(
    target: tuple[Settings, Any], corpus: PreparedCorpus, kind: str
) -> None:
    settings = target[0]
    catalog = strict_catalog(target, index=kind)
    embedder = HashingEmbedder()
    try:
        try:
            write_generation(catalog, corpus, settings)
            # Loaded afresh, a collection is served from the index its segments were built
            # with: milvus-lite accepts any kind on an empty collection, searches without the
            # index while it cannot build it, and fails here.
            built = catalog.open(embedder.id, embedder.dimension)
            catalog._client.release_collection(built.collection)
            backend = catalog.open(embedder.id, embedder.dimension)
        except MilvusBackendError as exc:
            if settings.backend.startswith("milvus://") and kind in str(exc):
                pytest.skip(f"milvus-lite has no {kind} index: {exc}")
            raise
        assert backend.dense_index is not None and backend.dense_index.kind == kind
        row = next(i for i, c in enumerate(corpus.chunks) if "90余场次" in c.text)
        [top] = backend.search("", corpus.vectors[row], 1)
        assert top.chunk.id == corpus.chunks[row].id
        question = "聂荣县远程会诊多少场"
        hits = backend.search(question, embedder.embed_queries([question])[0], 5)
        assert hits[0].chunk.file == NIERONG
    finally:
        catalog.close()


def test_auto_index_is_hnsw_small_and_ivf_sq8_past_the_threshold(
    target: tuple[Settings, Any], corpus: PreparedCorpus
) -> None:
    assert choose_dense_index("auto", 49_999, 384).kind == "HNSW"
    large = choose_dense_index("auto", 50_000, 384)
    assert large.kind == "IVF_SQ8" and large.params == {"nlist": 1024}
    assert large.search_params(30) == {"nprobe": 32}
    assert ivf_lists(100) == 32 and ivf_lists(10**8) == 1024 and ivf_lists(1) == 16
    pq = choose_dense_index("IVF_PQ", 10**6, 384)
    assert 384 % pq.params["m"] == 0
    with pytest.raises(MilvusBackendError, match="IVF_SQ8"):
        choose_dense_index("ANNOY", 10, 8)
    # The same choice on a real build, with the threshold under the corpus's size.
    settings = target[0]
    catalog = strict_catalog(target, ann_threshold=len(corpus.chunks) - 1)
    try:
        write_generation(catalog, corpus, settings)
        embedder = HashingEmbedder()
        backend = catalog.open(embedder.id, embedder.dimension)
        assert backend.dense_index is not None and backend.dense_index.kind == "IVF_SQ8"
        row = next(i for i, c in enumerate(corpus.chunks) if "90余场次" in c.text)
        assert backend.search("", corpus.vectors[row], 1)[0].chunk.id == corpus.chunks[row].id
    finally:
        catalog.close()


def test_lexical_search_ignores_the_case_of_latin_words(
    target: tuple[Settings, Any], corpus: PreparedCorpus
) -> None:
    assert ANALYZER["filter"] == ["lowercase"]
    catalog = strict_catalog(target)
    try:
        backend = catalog.create(HashingEmbedder().id, HashingEmbedder().dimension)
        records = chunk_records(corpus)
        marked = records[3]
        records[3] = ChunkRecord(
            chunk=marked.chunk,
            text=marked.text + " The NewsQA Milvus backend",
            vector=marked.vector,
            article_text=marked.article_text,
        )
        backend.upsert(records)
        backend.commit()
        for query in ("newsqa", "NEWSQA", "NewsQA"):
            [top] = backend.search(query, None, 1)
            assert top.chunk.id == marked.chunk.id, query
        catalog.discard(backend)
    finally:
        catalog.close()


def test_a_generation_built_before_head_rows_and_manifest_rows_still_reads(
    tmp_path: Path,
) -> None:
    """Generations published by the former code (blob pieces without a head row, the
    manifest a property, an unindexed docs collection) stay readable after an upgrade."""
    client = MilvusClient(uri=str(tmp_path / "old.db"))
    catalog = MilvusCatalog(client, "old")
    try:
        backend = catalog.create("hash", 8)
        backend.commit()
        docs = backend.docs
        for seq, piece in enumerate(["聂荣县", "远程会诊"]):
            client.insert(
                docs,
                [
                    {
                        "id": f"old.txt:{seq}",
                        "name": "old.txt",
                        "seq": seq,
                        "data": piece,
                        "vec": [0, 0],
                    }
                ],
            )
        client.release_collection(docs)
        client.drop_index(docs, "vec")
        client.alter_collection_properties(
            backend.collection,
            properties={"newsqa.manifest": json.dumps({"chunks": 0}), "newsqa.published": "1"},
        )
        client.create_alias(backend.collection, "old")
        opened = catalog.open("hash", 8)
        assert isinstance(opened, MilvusBackend)
        assert opened.get_blob("old.txt") == "聂荣县远程会诊"
        assert catalog.manifest(backend.generation) == {"chunks": 0}
        assert opened.dense_index is not None and opened.dense_index.kind == "HNSW"
        assert docs.endswith(DOCS_SUFFIX)
    finally:
        catalog.close()


def test_the_strict_client_refuses_what_a_server_refuses(tmp_path: Path) -> None:
    """The rules above are not vacuous: milvus-lite allows each of these, StrictClient not."""
    strict = StrictClient(MilvusClient(uri=str(tmp_path / "rules.db")), result_cap=200)
    schema = strict.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("data", DataType.VARCHAR, max_length=1000)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    strict.create_collection("c", schema=schema)
    with pytest.raises(MilvusException, match="properties"):
        strict.create_collection("p", schema=schema, properties={"big": "x" * 2000})
    with pytest.raises(MilvusException, match="not loaded"):
        strict.delete("c", filter='id == "a"')
    with pytest.raises(MilvusException, match="no index"):
        strict.load_collection("c")
    index = strict.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    strict.create_index("c", index, sync=False)
    strict.load_collection("c")
    strict.insert("c", [{"id": str(i), "data": "x" * 100, "vec": [0.0, 0.0]} for i in range(5)])
    with pytest.raises(MilvusException, match="Strong"):
        strict.query("c", filter='id == "1"', output_fields=["data"], limit=1)
    with pytest.raises(MilvusException, match="limit"):
        strict.query("c", filter="", output_fields=["data"], consistency_level="Strong")
    with pytest.raises(MilvusException, match="cap"):
        strict.query("c", filter="", output_fields=["data"], limit=5, consistency_level="Strong")
    strict.close()
