"""The analysis cache opens as the embedding cache does (index/sqlite_cache.py): a corrupt file
is moved aside and started afresh, a locked one is skipped after a bounded wait."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from index.analysis import AnalysisCache


def test_a_corrupt_analysis_cache_is_moved_aside_and_started_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "analysis.sqlite"
    path.write_bytes(b"garbage, not sqlite " * 200)
    cache = AnalysisCache.open(path)
    assert cache is not None
    assert cache.term_ids(["新闻", "记者"]).tolist() == [0, 1]
    cache.close()
    (aside,) = tmp_path.glob("analysis.sqlite.corrupt-*")
    assert aside.read_bytes().startswith(b"garbage")
    assert "analysis cache" in caplog.text and aside.name in caplog.text


def test_a_locked_analysis_cache_gives_none_after_the_bounded_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "analysis.sqlite"
    AnalysisCache(path).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        assert AnalysisCache.open(path, lock_timeout_s=0.2) is None
        assert time.monotonic() - started < 5
    finally:
        holder.rollback()
        holder.close()
    assert "analysis cache" in caplog.text and "locked by another process" in caplog.text
