"""NEWSQA_MILVUS_INDEX chooses Milvus's dense index; the manifest records the one built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from index.backends import factory
from index.backends.building import index_type
from index.settings import Settings


def _settings(tmp_path: Path, **update: Any) -> Settings:
    return Settings(
        backend=f"milvus://{tmp_path / 'lite.db'}", index_dir=tmp_path / "index", **update
    )


def test_auto_is_hnsw_for_a_small_archive_and_ivf_sq8_for_a_large_one(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ann_threshold=1000)
    assert index_type(settings, 999) == "milvus-hnsw+bm25"
    assert index_type(settings, 1000) == "milvus-ivf_sq8+bm25"
    assert index_type(_settings(tmp_path, milvus_index="DISKANN"), 10) == "milvus-diskann+bm25"
    assert index_type(Settings(index_dir=tmp_path), 10) == "embedded"


def test_the_setting_reaches_the_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pymilvus")
    from index.backends.milvus import MilvusCatalog

    seen: dict[str, Any] = {}

    def connect(arguments: dict[str, object], alias: str, **options: Any) -> str:
        seen.update(options, alias=alias)
        return "catalog"

    monkeypatch.setattr(MilvusCatalog, "connect", connect)
    settings = _settings(tmp_path, milvus_index="IVF_FLAT", ann_threshold=77)
    assert factory.open_catalog(settings) == "catalog"
    assert seen == {"index": "IVF_FLAT", "ann_threshold": 77, "alias": "newsqa"}


def test_an_unknown_index_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="milvus_index"):
        _settings(tmp_path, milvus_index="ANNOY")
