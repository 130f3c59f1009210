"""The build's caches only save time (index/sqlite_cache.py): a corrupt file is moved aside and
started afresh, a locked one is skipped after a bounded wait; never a failed build."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.analysis import AnalysisCache
from index.embedding_cache import EmbeddingCache


def _use_analysis(cache: Any) -> None:
    assert cache.term_ids(["新闻", "记者"]).tolist() == [0, 1]


def _use_embeddings(cache: Any) -> None:
    vector = np.ones(4, dtype=np.float32)
    cache.put_many("model", {"甲乙丙": vector})
    assert np.array_equal(cache.get_many("model", ["甲乙丙"], 4)["甲乙丙"], vector)


@dataclass(frozen=True)
class Kind:
    make: Any  # the cache class
    named: str  # how its warnings name it
    use: Callable[[Any], None]  # shows a fresh cache works


@pytest.fixture(
    params=[
        Kind(AnalysisCache, "analysis cache", _use_analysis),
        Kind(EmbeddingCache, "embedding cache", _use_embeddings),
    ],
    ids=["analysis", "embeddings"],
)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


def test_a_corrupt_cache_is_moved_aside_and_started_afresh(
    kind: Kind, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"garbage, not sqlite " * 200)
    cache = kind.make.open(path)
    assert cache is not None
    kind.use(cache)
    cache.close()
    (aside,) = tmp_path.glob("cache.sqlite.corrupt-*")
    assert aside.read_bytes().startswith(b"garbage")
    assert f"{kind.named} {path} is corrupt" in caplog.text and aside.name in caplog.text


def test_a_locked_cache_gives_none_after_the_bounded_wait(
    kind: Kind, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.sqlite"
    kind.make(path).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        assert kind.make.open(path, lock_timeout_s=0.2) is None
        assert time.monotonic() - started < 5
    finally:
        holder.rollback()
        holder.close()
    assert f"{kind.named} {path} is locked by another process" in caplog.text
