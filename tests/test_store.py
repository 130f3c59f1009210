"""Generations on disk: atomic switch, manifest checks, refusal of broken indexes, rollback."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from index.build import build_generation
from index.errors import BuildError, IndexInvalidError, IndexNotFoundError
from index.generation import DENSE_FILE
from index.service import load_engine, load_generation
from index.settings import Settings
from index.store import (
    CURRENT,
    MANIFEST,
    current_generation,
    generation_dirs,
    list_generations,
    rollback,
    validate_generation,
)
from tests.fakes import STORY_B, HashingEmbedder, two_stories


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return two_stories(tmp_path / "stories")


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(
        docs_dir=corpus,
        index_dir=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        embedder="fake",
    )


def test_build_writes_plain_generation_and_points_current_at_it(settings: Settings) -> None:
    summary = build_generation(settings, embedder=HashingEmbedder())
    current = settings.index_dir / CURRENT
    assert current.is_symlink()
    assert current_generation(settings.index_dir) == summary.generation
    names = {p.name for p in current.resolve().iterdir()}
    assert {MANIFEST, DENSE_FILE, "chunks.jsonl", "articles.jsonl"} <= names
    manifest = json.loads((current / MANIFEST).read_text("utf-8"))
    assert manifest["embedder"] == "fake/hashing-64"
    assert manifest["dimension"] == 64
    assert manifest["stories"] == 2
    assert set(manifest["files"]) == {"a.txt", "b.txt"}
    assert manifest["chunks"] == summary.chunks > 0


def test_rebuild_embeds_only_changed_chunks(settings: Settings, corpus: Path) -> None:
    embedder = HashingEmbedder()
    first = build_generation(settings, embedder=embedder)
    (corpus / "b.txt").write_text(STORY_B + "\n新增一段关于草原的报道内容。\n", "utf-8")
    second = build_generation(settings, embedder=embedder)
    assert first.embedded == first.chunks
    assert 0 < second.embedded < second.chunks
    assert second.generation != first.generation
    assert current_generation(settings.index_dir) == second.generation


def test_truncated_current_is_refused_and_previous_generation_serves(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = HashingEmbedder()
    old = build_generation(settings, embedder=embedder)
    new = build_generation(settings, embedder=embedder)
    dense = new.path / DENSE_FILE
    dense.write_bytes(dense.read_bytes()[:20])
    with pytest.raises(IndexInvalidError, match="truncated or corrupt"):
        validate_generation(new.path)
    with caplog.at_level(logging.ERROR):
        engine = load_engine(settings, embedder=embedder)
    assert engine.info.generation == old.generation
    assert "refusing index generation" in caplog.text


def test_mismatched_embedder_is_refused_with_a_clear_message(settings: Settings) -> None:
    summary = build_generation(settings, embedder=HashingEmbedder())
    with pytest.raises(IndexInvalidError, match="built with embedder 'fake/hashing-64'"):
        load_generation(summary.path, settings, embedder=HashingEmbedder(32, "fake/other-32"))


def test_partial_generation_without_manifest_is_refused(settings: Settings) -> None:
    summary = build_generation(settings, embedder=HashingEmbedder())
    (summary.path / MANIFEST).unlink()
    with pytest.raises(IndexInvalidError, match="no manifest"):
        validate_generation(summary.path)


def test_failed_build_leaves_current_untouched(settings: Settings, corpus: Path) -> None:
    good = build_generation(settings, embedder=HashingEmbedder())
    for story in corpus.iterdir():
        story.write_bytes(b"")
    with pytest.raises(BuildError, match="no readable stories"):
        build_generation(settings, embedder=HashingEmbedder())
    assert current_generation(settings.index_dir) == good.generation
    assert load_engine(settings, embedder=HashingEmbedder()).info.generation == good.generation


def test_missing_index_gives_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "nothing", embedder="fake")
    with pytest.raises(IndexNotFoundError, match="newsqa index build"):
        load_engine(settings, embedder=HashingEmbedder())


def test_list_and_rollback(settings: Settings) -> None:
    embedder = HashingEmbedder()
    first = build_generation(settings, embedder=embedder)
    second = build_generation(settings, embedder=embedder)
    rows = list_generations(settings.index_dir)
    assert [(current, info.generation) for current, info in rows] == [
        (True, second.generation),
        (False, first.generation),
    ]
    assert rollback(settings.index_dir) == first.generation
    assert current_generation(settings.index_dir) == first.generation
    with pytest.raises(IndexNotFoundError):
        rollback(settings.index_dir)


def test_old_generations_are_pruned_but_current_kept(settings: Settings) -> None:
    embedder = HashingEmbedder()
    keep = settings.model_copy(update={"keep_generations": 2})
    built = [build_generation(keep, embedder=embedder).generation for _ in range(4)]
    remaining = [d.name for d in generation_dirs(keep.index_dir)]
    assert remaining == [built[3], built[2]]
    assert not any(
        p.name.startswith(".staging") for p in (keep.index_dir / "generations").iterdir()
    )


def test_switch_is_a_single_rename(settings: Settings) -> None:
    """Readers resolve `current` once; the symlink is replaced, never deleted and recreated."""
    embedder = HashingEmbedder()
    first = build_generation(settings, embedder=embedder)
    link = settings.index_dir / CURRENT
    before = os.readlink(link)
    build_generation(settings, embedder=embedder)
    assert os.readlink(link) != before
    assert (settings.index_dir / "generations" / first.generation).is_dir()
