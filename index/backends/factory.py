"""From settings to a catalog, and the index commands (`list`, `rollback`, the bot's "which
generation is current") on whichever backend NEWSQA_BACKEND names."""

from __future__ import annotations

from index.backends.embedded import EmbeddedCatalog
from index.backends.milvus import MilvusCatalog
from index.backends.protocol import GenerationCatalog
from index.backends.uri import BackendConfigError, backend_spec, client_arguments, index_root
from index.models import IndexInfo
from index.settings import Settings
from index.store import Manifest
from index.store import current_generation as current_file
from index.store import list_generations as list_files
from index.store import rollback as rollback_files


def open_catalog(settings: Settings) -> GenerationCatalog:
    """The catalog for NEWSQA_BACKEND; file:// gives the protocol's embedded reference."""
    spec = backend_spec(settings)
    if spec.embedded:
        return EmbeddedCatalog(index_root(settings), settings.ann_threshold)
    try:
        return MilvusCatalog.connect(
            client_arguments(spec, settings),
            settings.milvus_collection,
            index=settings.milvus_index,
            ann_threshold=settings.ann_threshold,
        )
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
        if (exc.name or "").split(".")[0] != "pymilvus":
            raise
        raise BackendConfigError(
            "NEWSQA_BACKEND names Milvus but pymilvus is not installed: "
            "pip install 'newsqa[milvus]'"
        ) from exc


def list_generations(settings: Settings) -> list[tuple[bool, IndexInfo]]:
    """`newsqa index list` rows; the embedded default reads index.store as it always did."""
    if backend_spec(settings).embedded:
        return list_files(index_root(settings))
    catalog = open_catalog(settings)
    try:
        return [
            (row.current, Manifest.from_json(row.manifest).info()) for row in catalog.generations()
        ]
    finally:
        catalog.close()


def rollback(settings: Settings) -> str:
    if backend_spec(settings).embedded:
        return rollback_files(index_root(settings))
    catalog = open_catalog(settings)
    try:
        return catalog.rollback()
    finally:
        catalog.close()


def current_generation(settings: Settings) -> str | None:
    """What serves now: the `current` symlink, or the generation behind the Milvus alias."""
    if backend_spec(settings).embedded:
        return current_file(index_root(settings))
    catalog = open_catalog(settings)
    try:
        return catalog.current()
    finally:
        catalog.close()
