"""The protocol on Milvus through pymilvus: one collection per generation, an alias that serves.

Per generation two collections: `<alias>_<generation>` holds the chunks (VARCHAR id, story and
article fields for filters, the chunk as JSON, a dense vector field and two BM25 functions with
the jieba analyzer: over the chunk's text and over its whole article), `…_docs` holds side data
(articles, lexicon, chunk list, the manifest) as bounded text rows. The alias is repointed after
a build (the atomic switch) and back on rollback.

Written for a Milvus server, whose rules milvus-lite does not all enforce (docs/milvus.md):
every collection is indexed and loaded before it is written to, queried or deleted from; no
query result grows with the corpus (blobs are rows of at most BLOB_PIECE_BYTES, read back by id
a page at a time); collection properties stay a few hundred bytes (the manifest is rows, not a
property: etcd refuses large requests); every read that follows a write asks for Strong
consistency. Tested offline on milvus-lite, also through a client that enforces those rules
(tests/test_milvus_server_rules.py), and against a server when NEWSQA_TEST_MILVUS_URI is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from index.backends.protocol import RRF_K, ChunkRecord, Fusion, GenerationRow
from index.embedding import Vectors
from index.errors import IndexInvalidError, IndexNotFoundError, NewsqaError
from index.models import Chunk, Hit
from index.search import FusionWeights
from index.store import new_generation_id
from index.tokenize import jieba_module

log = logging.getLogger(__name__)

# jieba in search mode with HMM (both engines' defaults, spelled out so that a change of default
# cannot change the tokens silently), then lowercase: a server's jieba (Rust, tantivy) keeps
# the case of latin words while milvus-lite's (Python) lowercases every token whatever the
# filters say, so the filter is what makes the two tokenise alike (and like the embedded
# backend, which lowercases too). Both accept this form: the tokenizer as an object with
# "type", and "filter" a list of filter names (Milvus docs: Jieba tokenizer, Lowercase filter).
ANALYZER: dict[str, Any] = {
    "tokenizer": {"type": "jieba", "mode": "search", "hmm": True},
    "filter": ["lowercase"],
}
VARCHAR_MAX = 65_535  # bytes
# Article text is cut so that its UTF-8 (≤ 4 bytes a character) fits one VARCHAR.
ARTICLE_CHARS = 16_000
# A blob is stored as rows of at most this many UTF-8 bytes (a VARCHAR holds 65,535), read back
# BLOB_PAGE_ROWS rows a query: a page is at most ~3.8 MB, far below a server's ~64 MB cap on a
# query result, whatever the size of the blob.
BLOB_PIECE_BYTES = 60_000
BLOB_PAGE_ROWS = 64
# Rows of one write call: at most this many, and at most about this many bytes (gRPC's
# default message limit is 64 MB).
WRITE_BATCH = 256
WRITE_BATCH_BYTES = 16 * 2**20
PROPERTY_PREFIX = "newsqa."
DOCS_SUFFIX = "_docs"
MANIFEST_BLOB = "newsqa.manifest.json"
BLOB_FORMAT = 2
# Reads that follow a write ask for Strong consistency (a server's default, Bounded, may not
# see the last seconds of writes); searches on a generation published longer ago than this
# use Bounded, which does not wait for the latest time tick.
STRONG = "Strong"
BOUNDED = "Bounded"
FRESH_AFTER_PUBLISH_S = 60.0

# The dense index: `auto` is HNSW below NEWSQA_ANN_THRESHOLD chunks and IVF_SQ8 from there on,
# as the embedded backend switches from exact search to FAISS IVF-SQ8.
INDEX_KINDS = ("auto", "HNSW", "IVF_SQ8", "IVF_FLAT", "IVF_PQ", "DISKANN", "FLAT")
ANN_THRESHOLD = 50_000
# A server builds an index per sealed segment and none under 1,024 rows
# (indexBuild.minSegmentNumRowsToEnableIndex): more lists than that could outnumber the rows.
IVF_MAX_LISTS = 1024
IVF_NPROBE = 32


class MilvusBackendError(NewsqaError):
    """Milvus refused or failed an operation."""


def _quote(value: str) -> str:
    """A Milvus string literal (JSON's escaping is what the expression parser reads)."""
    return json.dumps(value, ensure_ascii=False)


def _collection_name(alias: str, generation: str) -> str:
    return f"{alias}_{generation.replace('-', '_')}"


@dataclass(frozen=True)
class DenseIndex:
    """The dense field's index type, its build parameters and the search parameters that go
    with it."""

    kind: str
    params: dict[str, int] = field(default_factory=dict)

    def search_params(self, depth: int) -> dict[str, int]:
        if self.kind == "HNSW":
            return {"ef": max(64, depth)}
        if self.kind.startswith("IVF"):
            return {"nprobe": min(IVF_NPROBE, self.params.get("nlist", IVF_NPROBE))}
        if self.kind == "DISKANN":
            return {"search_list": max(100, depth)}
        return {}

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "params": self.params}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DenseIndex:
        data = json.loads(text)
        return cls(str(data["kind"]), {str(k): int(v) for k, v in data["params"].items()})


def check_index_kind(kind: str) -> str:
    """`kind` as newsqa spells it (upper case, `auto` lower), or a refusal naming the choices."""
    spelled = "auto" if kind.strip().lower() == "auto" else kind.strip().upper()
    if spelled not in INDEX_KINDS:
        raise MilvusBackendError(
            f"unknown Milvus dense index {kind!r}: use one of {', '.join(INDEX_KINDS)}"
        )
    return spelled


def ivf_lists(rows: int) -> int:
    """About 4·√rows lists, a power of two (as the embedded IVF), between 16 and 1,024."""
    wanted = 1 << round(math.log2(4 * math.sqrt(max(rows, 1))))
    return max(16, min(IVF_MAX_LISTS, wanted))


def pq_subquantizers(dimension: int) -> int:
    """IVF_PQ's m: it must divide the dimension; about 8 dimensions a sub-quantizer."""
    target = max(1, dimension // 8)
    return max(m for m in range(1, target + 1) if dimension % m == 0)


def choose_dense_index(
    kind: str, rows: int, dimension: int, ann_threshold: int = ANN_THRESHOLD
) -> DenseIndex:
    """The dense index for `rows` chunks: `kind`, or by size when it is `auto`."""
    kind = check_index_kind(kind)
    if kind == "auto":
        kind = "HNSW" if rows < ann_threshold else "IVF_SQ8"
    if kind == "HNSW":
        return DenseIndex(kind, {"M": 16, "efConstruction": 200})
    if kind in ("IVF_SQ8", "IVF_FLAT"):
        return DenseIndex(kind, {"nlist": ivf_lists(rows)})
    if kind == "IVF_PQ":
        return DenseIndex(
            kind, {"nlist": ivf_lists(rows), "m": pq_subquantizers(dimension), "nbits": 8}
        )
    return DenseIndex(kind)


def blob_pieces(text: str, limit: int = BLOB_PIECE_BYTES) -> list[str]:
    """`text` cut into pieces of at most `limit` UTF-8 bytes, never inside a character."""
    if limit < 4:
        raise ValueError("a blob piece must hold at least one character (4 bytes)")
    data = text.encode("utf-8")
    pieces: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


def _batches(rows: Sequence[dict[str, Any]], sizes: Sequence[int]) -> Iterator[list[Any]]:
    """Rows in write calls of at most WRITE_BATCH rows and about WRITE_BATCH_BYTES."""
    batch: list[Any] = []
    held = 0
    for row, size in zip(rows, sizes, strict=True):
        if batch and (len(batch) >= WRITE_BATCH or held + size > WRITE_BATCH_BYTES):
            yield batch
            batch, held = [], 0
        batch.append(row)
        held += size
    if batch:
        yield batch


def _head_id(name: str) -> str:
    return f"{name}:n"


def _part_id(name: str, seq: int) -> str:
    return f"{name}:{seq}"


def write_blob(
    client: Any, docs: str, name: str, text: str, piece_bytes: int = BLOB_PIECE_BYTES
) -> None:
    """`text` as rows of `docs`: its pieces, then a head row (count, size, sha256) written last,
    so that a reader finds either the whole blob or none of it."""
    _call(client, "delete", docs, filter=f"name == {_quote(name)}")
    pieces = blob_pieces(text, piece_bytes)
    rows = [
        {"id": _part_id(name, seq), "name": name, "seq": seq, "data": piece, "vec": [0.0, 0.0]}
        for seq, piece in enumerate(pieces)
    ]
    for batch in _batches(rows, [len(p.encode("utf-8")) for p in pieces]):
        _call(client, "insert", docs, batch)
    head = {
        "format": BLOB_FORMAT,
        "parts": len(pieces),
        "bytes": sum(len(p.encode("utf-8")) for p in pieces),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }
    row = {
        "id": _head_id(name),
        "name": name,
        "seq": -1,
        "data": json.dumps(head),
        "vec": [0.0, 0.0],
    }
    _call(client, "insert", docs, [row])


def read_blob(client: Any, docs: str, name: str, page_rows: int = BLOB_PAGE_ROWS) -> str:
    """A blob written by write_blob, a page of rows a query, checked against its head row.
    Raise IndexInvalidError when it is missing or incomplete."""
    found = _query(client, docs, [_head_id(name)], ["data"])
    if not found:
        return _read_legacy_blob(client, docs, name, page_rows)
    head = json.loads(found[0]["data"])
    pieces: list[str] = []
    for start in range(0, int(head["parts"]), page_rows):
        seqs = range(start, min(start + page_rows, int(head["parts"])))
        rows = _query(client, docs, [_part_id(name, s) for s in seqs], ["seq", "data"])
        if len(rows) != len(seqs):
            raise IndexInvalidError(f"{docs}: {name} has parts missing")
        pieces.extend(row["data"] for row in sorted(rows, key=lambda row: int(row["seq"])))
    text = "".join(pieces)
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != head["sha256"]:
        raise IndexInvalidError(f"{docs}: {name} does not match its checksum")
    return text


def _read_legacy_blob(client: Any, docs: str, name: str, page_rows: int) -> str:
    """A blob of a generation built before head rows (pieces `name:0`, `name:1`, …), read a
    page at a time until a page comes back short."""
    pieces: list[str] = []
    start = 0
    while True:
        ids = [_part_id(name, s) for s in range(start, start + page_rows)]
        rows = _query(client, docs, ids, ["seq", "data"])
        pieces.extend(row["data"] for row in sorted(rows, key=lambda row: int(row["seq"])))
        if len(rows) < page_rows:
            break
        start += page_rows
    if not pieces:
        raise IndexInvalidError(f"{docs}: no {name} in this generation")
    return "".join(pieces)


def _query(client: Any, collection: str, ids: Sequence[str], fields: list[str]) -> list[Any]:
    """Rows by primary key: bounded by the ids asked for, read after any earlier write."""
    rows: list[Any] = _call(
        client,
        "query",
        collection,
        filter=f"id in [{', '.join(_quote(i) for i in ids)}]",
        output_fields=fields,
        limit=len(ids),
        consistency_level=STRONG,
    )
    return rows


def _ensure_docs_loaded(client: Any, docs: str) -> None:
    """Index (generations built before docs were indexed had none) and load a docs collection:
    a server refuses to load a collection without an index, and to query one not loaded."""
    if not _call(client, "list_indexes", docs):
        _create_indexes(client, docs, _docs_index(client))
    _call(client, "load_collection", docs)


def _docs_index(client: Any) -> Any:
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    return index


class MilvusBackend:
    """One generation's collection pair; reads never follow the alias, so a switch does not cut
    off a searcher that is open.

    A generation being built gets its dense index and is loaded at its first write (the index
    type may depend on how many chunks come); one opened for reading is loaded already."""

    def __init__(
        self,
        client: Any,
        collection: str,
        generation: str,
        embedder_id: str,
        dimension: int,
        *,
        dense: DenseIndex | None = None,
        index_kind: str = "auto",
        ann_threshold: int = ANN_THRESHOLD,
        published_at: float | None = None,
        piece_bytes: int = BLOB_PIECE_BYTES,
        page_rows: int = BLOB_PAGE_ROWS,
    ) -> None:
        self._client = client
        self.collection = collection
        self._generation = generation
        self._embedder_id = embedder_id
        self._dimension = dimension
        self._dense = dense
        self._index_kind = check_index_kind(index_kind)
        self._ann_threshold = ann_threshold
        self._published_at = published_at
        self._piece_bytes = piece_bytes
        self._page_rows = page_rows
        self._docs_loaded = False

    @property
    def generation(self) -> str:
        return self._generation

    @property
    def embedder_id(self) -> str:
        return self._embedder_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def docs(self) -> str:
        return self.collection + DOCS_SUFFIX

    @property
    def dense_index(self) -> DenseIndex | None:
        return self._dense

    def upsert(self, records: Sequence[ChunkRecord]) -> None:
        self._prepare(len(records))
        rows = [
            {
                "id": r.id,
                "story": r.story,
                "article": r.article_key,
                "text": r.text[:ARTICLE_CHARS],
                "article_text": r.article_text[:ARTICLE_CHARS],
                "chunk": r.chunk.to_json(),
                "dense": [float(x) for x in r.vector],
            }
            for r in records
        ]
        sizes = [
            len(r.text[:ARTICLE_CHARS].encode("utf-8"))
            + len(r.article_text[:ARTICLE_CHARS].encode("utf-8"))
            + 2 * len(r.text.encode("utf-8"))  # the chunk's JSON: its text and metadata
            + 8 * self._dimension
            for r in records
        ]
        for batch in _batches(rows, sizes):
            self._call("upsert", self.collection, batch)

    def delete_story(self, story: str) -> None:
        self._prepare(0)
        self._call("delete", self.collection, filter=f"story == {_quote(story)}")

    def commit(self) -> None:
        self._prepare(0)
        self._call("flush", self.collection)
        self._call("load_collection", self.collection)

    def search(
        self,
        text: str,
        vector: Vectors | None,
        k: int,
        *,
        stories: Sequence[str] | None = None,
        fusion: Fusion = "weighted",
        candidates: int = 30,
    ) -> list[Hit]:
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        dense = self._prepare(0)
        expr = f"story in [{', '.join(_quote(s) for s in stories)}]" if stories is not None else ""
        depth = max(candidates, k)
        weights = FusionWeights()
        requests: list[Any] = []
        route_weights: list[float] = []
        if vector is not None:
            requests.append(
                AnnSearchRequest(
                    data=[[float(x) for x in vector]],
                    anns_field="dense",
                    param={"metric_type": "IP", "params": dense.search_params(depth)},
                    limit=depth,
                    expr=expr,
                )
            )
            route_weights.append(weights.dense)
        if text.strip():
            for field_name, weight in (
                ("sparse", weights.lexical),
                ("article_sparse", weights.article),
            ):
                requests.append(
                    AnnSearchRequest(
                        data=[text],
                        anns_field=field_name,
                        param={"metric_type": "BM25"},
                        limit=depth,
                        expr=expr,
                    )
                )
                route_weights.append(weight)
        if not requests:
            return []
        ranker = RRFRanker(RRF_K) if fusion == "rrf" else WeightedRanker(*route_weights)
        # Asked for more than k: repeated paragraphs are dropped below, as the embedded fusion does.
        result = self._call(
            "hybrid_search",
            self.collection,
            requests,
            ranker,
            limit=2 * depth,
            output_fields=["chunk"],
            consistency_level=self._search_consistency(),
        )
        hits: list[Hit] = []
        seen: set[str] = set()
        for found in result[0] if result else []:
            chunk = Chunk.from_json(found["entity"]["chunk"])
            if chunk.text in seen:
                continue
            seen.add(chunk.text)
            hits.append(Hit(chunk=chunk, score=float(found["distance"])))
            if len(hits) >= k:
                break
        return hits

    def chunk(self, chunk_id: str) -> Chunk | None:
        self._prepare(0)
        rows = _query(self._client, self.collection, [chunk_id], ["chunk"])
        return Chunk.from_json(rows[0]["chunk"]) if rows else None

    def count(self) -> int:
        self._prepare(0)
        rows = self._call(
            "query",
            self.collection,
            filter="",
            output_fields=["count(*)"],
            consistency_level=STRONG,
        )
        return int(rows[0]["count(*)"])

    def put_blob(self, name: str, text: str) -> None:
        if name == MANIFEST_BLOB:
            raise ValueError(f"{name} is the catalog's own blob")
        self._load_docs()
        write_blob(self._client, self.docs, name, text, self._piece_bytes)

    def get_blob(self, name: str) -> str:
        self._load_docs()
        return read_blob(self._client, self.docs, name, self._page_rows)

    def close(self) -> None:
        """The client belongs to the catalog; nothing to release per generation."""

    def _prepare(self, rows: int) -> DenseIndex:
        """Before the first write or read: the dense index (chosen for `rows` chunks when the
        kind is `auto`) and the load a server requires before upserts, deletes and reads."""
        if self._dense is not None:
            return self._dense
        dense = choose_dense_index(self._index_kind, rows, self._dimension, self._ann_threshold)
        index = self._client.prepare_index_params()
        index.add_index("dense", index_type=dense.kind, metric_type="IP", params=dense.params)
        _create_indexes(self._client, self.collection, index)
        self._call(
            "alter_collection_properties",
            self.collection,
            properties={PROPERTY_PREFIX + "index": dense.to_json()},
        )
        self._call("load_collection", self.collection)
        log.info("%s: dense index %s %s", self.collection, dense.kind, dense.params)
        self._dense = dense
        return dense

    def _load_docs(self) -> None:
        if not self._docs_loaded:
            _ensure_docs_loaded(self._client, self.docs)
            self._docs_loaded = True

    def _search_consistency(self) -> str:
        """Strong while the generation is written or just published, Bounded once it is not."""
        if self._published_at is None:
            return STRONG
        return STRONG if time.time() - self._published_at < FRESH_AFTER_PUBLISH_S else BOUNDED

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _call(self._client, method, *args, **kwargs)


def _call(client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """A pymilvus call whose failure becomes one sentence naming the operation."""
    from pymilvus.exceptions import MilvusException

    try:
        return getattr(client, method)(*args, **kwargs)
    except MilvusException as exc:
        raise MilvusBackendError(f"Milvus {method} failed: {exc}") from exc


def _create_indexes(client: Any, collection: str, index: Any) -> None:
    """Indexes without waiting on them: the wait polls AllocTimestamp, which milvus-lite does
    not implement (an error logged every 0.5 s); load_collection waits for them on a server."""
    _call(client, "create_index", collection, index, sync=False)


class MilvusCatalog:
    """Generations as collections named after an alias; the alias is what serves.

    `index` is the dense index kind (INDEX_KINDS; `auto` picks by size against
    `ann_threshold`), `piece_bytes` and `page_rows` bound the blob rows and the pages they are
    read in (small values in tests)."""

    def __init__(
        self,
        client: Any,
        alias: str = "newsqa",
        *,
        index: str = "auto",
        ann_threshold: int = ANN_THRESHOLD,
        piece_bytes: int = BLOB_PIECE_BYTES,
        page_rows: int = BLOB_PAGE_ROWS,
    ) -> None:
        self._client = client
        self.alias = alias
        self.index_kind = check_index_kind(index)
        self.ann_threshold = ann_threshold
        self.piece_bytes = piece_bytes
        self.page_rows = page_rows

    @classmethod
    def connect(
        cls,
        arguments: dict[str, object],
        alias: str = "newsqa",
        *,
        index: str = "auto",
        ann_threshold: int = ANN_THRESHOLD,
    ) -> MilvusCatalog:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        jieba_module()  # lite tokenises in this process: load jieba's dictionary quietly first
        try:
            client = MilvusClient(**arguments)
        except MilvusException as exc:
            raise MilvusBackendError(f"cannot reach Milvus at {arguments['uri']}: {exc}") from exc
        return cls(client, alias, index=index, ann_threshold=ann_threshold)

    def create(self, embedder_id: str, dimension: int) -> MilvusBackend:
        from pymilvus import DataType, Function, FunctionType

        generation = new_generation_id()
        name = _collection_name(self.alias, generation)
        client = self._client
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("story", DataType.VARCHAR, max_length=1024)
        schema.add_field("article", DataType.VARCHAR, max_length=1100)
        for field_name in ("text", "article_text"):
            schema.add_field(
                field_name,
                DataType.VARCHAR,
                max_length=VARCHAR_MAX,
                enable_analyzer=True,
                analyzer_params=ANALYZER,
            )
        schema.add_field("chunk", DataType.JSON)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("article_sparse", DataType.SPARSE_FLOAT_VECTOR)
        for source, target in (("text", "sparse"), ("article_text", "article_sparse")):
            schema.add_function(
                Function(
                    name=f"bm25_{source}",
                    function_type=FunctionType.BM25,
                    input_field_names=[source],
                    output_field_names=[target],
                )
            )
        # The dense index waits for the first write (MilvusBackend._prepare): its kind may
        # depend on the number of chunks.
        index = client.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        index.add_index("article_sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        index.add_index("story", index_type="INVERTED")
        properties = {
            PROPERTY_PREFIX + "generation": generation,
            PROPERTY_PREFIX + "embedder": embedder_id,
            PROPERTY_PREFIX + "dimension": str(dimension),
        }
        _call(
            client,
            "create_collection",
            name,
            schema=schema,
            properties=properties,
            consistency_level=BOUNDED,
        )
        _create_indexes(client, name, index)

        docs = client.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("id", DataType.VARCHAR, is_primary=True, max_length=300)
        docs.add_field("name", DataType.VARCHAR, max_length=256)
        docs.add_field("seq", DataType.INT64)
        docs.add_field("data", DataType.VARCHAR, max_length=VARCHAR_MAX)
        docs.add_field("vec", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one vector field
        _call(
            client, "create_collection", name + DOCS_SUFFIX, schema=docs, consistency_level=BOUNDED
        )
        _ensure_docs_loaded(client, name + DOCS_SUFFIX)
        return self._backend(name, generation, embedder_id, dimension)

    def publish(self, backend: Any, manifest: dict[str, Any]) -> str:
        if not isinstance(backend, MilvusBackend):
            raise TypeError("a Milvus catalog publishes Milvus generations only")
        backend.commit()
        data = {**manifest, "generation": backend.generation}
        # The manifest (a sha256 per story) is rows, not a property: properties live in etcd.
        write_blob(
            self._client,
            backend.docs,
            MANIFEST_BLOB,
            json.dumps(data, ensure_ascii=False),
            self.piece_bytes,
        )
        _call(self._client, "flush", backend.docs)
        _call(
            self._client,
            "alter_collection_properties",
            backend.collection,
            properties={
                PROPERTY_PREFIX + "published": "1",
                PROPERTY_PREFIX + "published_at": f"{time.time():.3f}",
            },
        )
        self._point_alias(backend.collection)
        return backend.generation

    def discard(self, backend: Any) -> None:
        if isinstance(backend, MilvusBackend):
            self._drop(backend.collection)

    def current(self) -> str | None:
        collection = self._alias_target()
        if collection is None:
            return None
        return self._properties(collection).get(PROPERTY_PREFIX + "generation")

    def open(
        self, embedder_id: str, dimension: int, generation: str | None = None
    ) -> MilvusBackend:
        collection = (
            self._alias_target() if generation is None else _collection_name(self.alias, generation)
        )
        if collection is None or not _call(self._client, "has_collection", collection):
            raise IndexNotFoundError(
                f"no index in Milvus collection {self.alias!r}: run `newsqa index build` first"
            )
        properties = self._properties(collection)
        name = properties.get(PROPERTY_PREFIX + "generation", collection)
        if properties.get(PROPERTY_PREFIX + "published") != "1":
            raise IndexInvalidError(f"{name}: the build never finished (not published)")
        built_with = properties.get(PROPERTY_PREFIX + "embedder")
        built_dimension = properties.get(PROPERTY_PREFIX + "dimension")
        if built_with != embedder_id or built_dimension != str(dimension):
            raise IndexInvalidError(
                f"{name}: built with embedder {built_with!r} ({built_dimension}-d) but "
                f"{embedder_id!r} ({dimension}-d) is configured; rebuild or set "
                "NEWSQA_EMBEDDER to match"
            )
        _call(self._client, "load_collection", collection)
        published_at = properties.get(PROPERTY_PREFIX + "published_at")
        return self._backend(
            collection,
            name,
            embedder_id,
            dimension,
            dense=self._dense_index(collection, properties),
            published_at=float(published_at) if published_at else 0.0,
        )

    def manifest(self, generation: str) -> dict[str, Any]:
        collection = _collection_name(self.alias, generation)
        docs = collection + DOCS_SUFFIX
        try:
            if _call(self._client, "has_collection", docs):
                _ensure_docs_loaded(self._client, docs)
                text = read_blob(self._client, docs, MANIFEST_BLOB, self.page_rows)
            else:
                raise IndexInvalidError(f"{generation}: no side data collection")
        except IndexInvalidError:
            # Generations published before the manifest moved to rows kept it as a property.
            text = self._properties(collection).get(PROPERTY_PREFIX + "manifest", "")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise IndexInvalidError(f"{generation}: no readable manifest") from exc
        if not isinstance(data, dict):
            raise IndexInvalidError(f"{generation}: the manifest is not an object")
        return data

    def generations(self) -> list[GenerationRow]:
        current = self.current()
        rows: list[GenerationRow] = []
        for generation in self._published():
            try:
                data = self.manifest(generation)
            except NewsqaError as exc:
                log.warning("skipping %s: %s", generation, exc)
                continue
            rows.append(GenerationRow(generation, generation == current, data))
        return rows

    def rollback(self) -> str:
        current = self.current()
        if current is None:
            raise IndexNotFoundError(f"no current generation behind alias {self.alias!r}")
        for generation in self._published():
            if generation < current:
                self._point_alias(_collection_name(self.alias, generation))
                return generation
        raise IndexNotFoundError(f"no valid generation older than {current} to roll back to")

    def prune(self, keep: int) -> list[str]:
        current = self.current()
        removed: list[str] = []
        for generation in self._published()[keep:]:
            if generation != current:
                self._drop(_collection_name(self.alias, generation))
                removed.append(generation)
        # Collections of builds that never published (a crash mid-build) go too, unless newest.
        for collection in self._own_collections():
            properties = self._properties(collection)
            generation = properties.get(PROPERTY_PREFIX + "generation", "")
            if properties.get(PROPERTY_PREFIX + "published") != "1" and generation < (
                current or ""
            ):
                self._drop(collection)
        return removed

    def close(self) -> None:
        self._client.close()

    def _backend(
        self, collection: str, generation: str, embedder_id: str, dimension: int, **kwargs: Any
    ) -> MilvusBackend:
        return MilvusBackend(
            self._client,
            collection,
            generation,
            embedder_id,
            dimension,
            index_kind=self.index_kind,
            ann_threshold=self.ann_threshold,
            piece_bytes=self.piece_bytes,
            page_rows=self.page_rows,
            **kwargs,
        )

    def _dense_index(self, collection: str, properties: dict[str, str]) -> DenseIndex:
        """The dense index a generation was built with (HNSW for generations that predate the
        property, as every one was then)."""
        recorded = properties.get(PROPERTY_PREFIX + "index")
        if recorded:
            try:
                return DenseIndex.from_json(recorded)
            except (ValueError, KeyError, TypeError):
                log.warning("%s: unreadable index property %r", collection, recorded)
        return DenseIndex("HNSW", {"M": 16, "efConstruction": 200})

    def _published(self) -> list[str]:
        """Published generations, newest first (ids sort by build time)."""
        found = []
        for collection in self._own_collections():
            properties = self._properties(collection)
            if properties.get(PROPERTY_PREFIX + "published") == "1":
                found.append(properties[PROPERTY_PREFIX + "generation"])
        return sorted(found, reverse=True)

    def _own_collections(self) -> list[str]:
        prefix = self.alias + "_"
        names: list[str] = _call(self._client, "list_collections")
        return [n for n in names if n.startswith(prefix) and not n.endswith(DOCS_SUFFIX)]

    def _properties(self, collection: str) -> dict[str, str]:
        described = _call(self._client, "describe_collection", collection)
        return {str(k): str(v) for k, v in (described.get("properties") or {}).items()}

    def _alias_target(self) -> str | None:
        listed = _call(self._client, "list_aliases")
        if self.alias not in (listed.get("aliases") or []):
            return None  # asked first: describing a missing alias logs an RPC error
        described = _call(self._client, "describe_alias", self.alias)
        target = described.get("collection_name") if described else None
        return str(target) if target else None

    def _point_alias(self, collection: str) -> None:
        if self._alias_target() is None:
            _call(self._client, "create_alias", collection, self.alias)
        else:
            _call(self._client, "alter_alias", collection, self.alias)

    def _drop(self, collection: str) -> None:
        for name in (collection, collection + DOCS_SUFFIX):
            if _call(self._client, "has_collection", name):
                _call(self._client, "drop_collection", name)
