"""The protocol on Milvus through pymilvus: one collection per generation, an alias that serves.

Per generation two collections: `<alias>_<generation>` holds the chunks (VARCHAR id, story and
article fields for filters, the chunk as JSON, a dense HNSW field and two BM25 functions with
the jieba analyzer: over the chunk's text and over its whole article), `…_docs` holds side data
(articles, lexicon) as text pieces. The alias is repointed after a build (the atomic switch) and
back on rollback. Tested offline on milvus-lite, which speaks the same protocol in-process.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from index.backends.protocol import RRF_K, ChunkRecord, Fusion, GenerationRow
from index.embedding import Vectors
from index.errors import IndexInvalidError, IndexNotFoundError, NewsqaError
from index.models import Chunk, Hit
from index.search import FusionWeights
from index.store import new_generation_id

log = logging.getLogger(__name__)

# The only Chinese analyzer form both milvus-lite and the server accept.
ANALYZER: dict[str, Any] = {"tokenizer": "jieba"}
VARCHAR_MAX = 65_535  # bytes
# Article text is cut so that its UTF-8 (≤ 4 bytes a character) fits one VARCHAR.
ARTICLE_CHARS = 16_000
BLOB_PIECE_CHARS = 16_000
WRITE_BATCH = 256
PROPERTY_PREFIX = "newsqa."
DOCS_SUFFIX = "_docs"


class MilvusBackendError(NewsqaError):
    """Milvus refused or failed an operation."""


def _quote(value: str) -> str:
    """A Milvus string literal (JSON's escaping is what the expression parser reads)."""
    return json.dumps(value, ensure_ascii=False)


def _collection_name(alias: str, generation: str) -> str:
    return f"{alias}_{generation.replace('-', '_')}"


class MilvusBackend:
    """One generation's collection pair; reads never follow the alias, so a switch does not cut
    off a searcher that is open."""

    def __init__(
        self, client: Any, collection: str, generation: str, embedder_id: str, dimension: int
    ) -> None:
        self._client = client
        self.collection = collection
        self._generation = generation
        self._embedder_id = embedder_id
        self._dimension = dimension

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

    def upsert(self, records: Sequence[ChunkRecord]) -> None:
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
        for start in range(0, len(rows), WRITE_BATCH):
            self._call("upsert", self.collection, rows[start : start + WRITE_BATCH])

    def delete_story(self, story: str) -> None:
        self._call("delete", self.collection, filter=f"story == {_quote(story)}")

    def commit(self) -> None:
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
                    param={"metric_type": "IP", "params": {"ef": max(64, depth)}},
                    limit=depth,
                    expr=expr,
                )
            )
            route_weights.append(weights.dense)
        if text.strip():
            for field, weight in (("sparse", weights.lexical), ("article_sparse", weights.article)):
                requests.append(
                    AnnSearchRequest(
                        data=[text],
                        anns_field=field,
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
        rows = self._call(
            "query", self.collection, filter=f"id == {_quote(chunk_id)}", output_fields=["chunk"]
        )
        return Chunk.from_json(rows[0]["chunk"]) if rows else None

    def count(self) -> int:
        rows = self._call("query", self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def put_blob(self, name: str, text: str) -> None:
        self._call("delete", self.docs, filter=f"name == {_quote(name)}")
        pieces = [
            text[start : start + BLOB_PIECE_CHARS]
            for start in range(0, max(len(text), 1), BLOB_PIECE_CHARS)
        ]
        rows = [
            {"id": f"{name}:{seq}", "name": name, "seq": seq, "data": piece, "vec": [0.0, 0.0]}
            for seq, piece in enumerate(pieces)
        ]
        for start in range(0, len(rows), WRITE_BATCH):
            self._call("insert", self.docs, rows[start : start + WRITE_BATCH])

    def get_blob(self, name: str) -> str:
        self._call("load_collection", self.docs)
        rows = self._call(
            "query", self.docs, filter=f"name == {_quote(name)}", output_fields=["seq", "data"]
        )
        if not rows:
            raise IndexInvalidError(f"{self._generation}: no {name} in this generation")
        return "".join(row["data"] for row in sorted(rows, key=lambda row: int(row["seq"])))

    def close(self) -> None:
        """The client belongs to the catalog; nothing to release per generation."""

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
    """Indexes on the new, empty collection, without waiting on them: the wait polls
    AllocTimestamp, which milvus-lite does not implement (an error logged every 0.5 s); the
    build is instant on an empty collection and load_collection waits for it on a server."""
    _call(client, "create_index", collection, index, sync=False)


class MilvusCatalog:
    """Generations as collections named after an alias; the alias is what serves."""

    def __init__(self, client: Any, alias: str = "newsqa") -> None:
        self._client = client
        self.alias = alias

    @classmethod
    def connect(cls, arguments: dict[str, object], alias: str = "newsqa") -> MilvusCatalog:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        from index.tokenize import jieba_module

        jieba_module()  # lite tokenises in this process: load jieba's dictionary quietly first
        try:
            client = MilvusClient(**arguments)
        except MilvusException as exc:
            raise MilvusBackendError(f"cannot reach Milvus at {arguments['uri']}: {exc}") from exc
        return cls(client, alias)

    def create(self, embedder_id: str, dimension: int) -> MilvusBackend:
        from pymilvus import DataType, Function, FunctionType

        generation = new_generation_id()
        name = _collection_name(self.alias, generation)
        client = self._client
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("story", DataType.VARCHAR, max_length=1024)
        schema.add_field("article", DataType.VARCHAR, max_length=1100)
        for field in ("text", "article_text"):
            schema.add_field(
                field,
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
        index = client.prepare_index_params()
        index.add_index(
            "dense", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200}
        )
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        index.add_index("article_sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        index.add_index("story", index_type="INVERTED")
        properties = {
            PROPERTY_PREFIX + "generation": generation,
            PROPERTY_PREFIX + "embedder": embedder_id,
            PROPERTY_PREFIX + "dimension": str(dimension),
        }
        _call(client, "create_collection", name, schema=schema, properties=properties)
        _create_indexes(client, name, index)

        docs = client.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("id", DataType.VARCHAR, is_primary=True, max_length=300)
        docs.add_field("name", DataType.VARCHAR, max_length=256)
        docs.add_field("seq", DataType.INT64)
        docs.add_field("data", DataType.VARCHAR, max_length=VARCHAR_MAX)
        docs.add_field("vec", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one vector field
        docs_index = client.prepare_index_params()
        docs_index.add_index("vec", index_type="FLAT", metric_type="L2")
        _call(client, "create_collection", name + DOCS_SUFFIX, schema=docs)
        _create_indexes(client, name + DOCS_SUFFIX, docs_index)
        return MilvusBackend(client, name, generation, embedder_id, dimension)

    def publish(self, backend: Any, manifest: dict[str, Any]) -> str:
        if not isinstance(backend, MilvusBackend):
            raise TypeError("a Milvus catalog publishes Milvus generations only")
        backend.commit()
        _call(self._client, "flush", backend.docs)
        data = {**manifest, "generation": backend.generation}
        _call(
            self._client,
            "alter_collection_properties",
            backend.collection,
            properties={
                PROPERTY_PREFIX + "manifest": json.dumps(data, ensure_ascii=False),
                PROPERTY_PREFIX + "published": "1",
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
        return MilvusBackend(self._client, collection, name, embedder_id, dimension)

    def manifest(self, generation: str) -> dict[str, Any]:
        properties = self._properties(_collection_name(self.alias, generation))
        try:
            data = json.loads(properties[PROPERTY_PREFIX + "manifest"])
        except (KeyError, ValueError) as exc:
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
