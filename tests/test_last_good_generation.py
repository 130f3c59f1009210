"""The last generation that loads is never lost: daily builds check their base, a build only
publishes what loads, pruning counts only generations that load, manifests are parsed
defensively, `current` stays inside its root and rollback waits for no build."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.build import build_generation
from index.cli import main
from index.errors import BuildBusyError, BuildError, IndexInvalidError, IndexNotFoundError
from index.service import load_engine
from index.settings import Settings
from index.store import (
    CURRENT,
    GENERATIONS,
    MANIFEST,
    build_lock,
    current_generation,
    generation_dirs,
    list_generations,
    prune_generations,
    rollback,
    validate_generation,
)
from tests.fakes import STORY_A, HashingEmbedder, two_stories

STORY_C = """# 拉萨新建图书馆

本报记者 王五

拉萨市新建社区图书馆12座,藏书共计3万余册。
"""


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return two_stories(tmp_path / "stories")


@pytest.fixture
def settings(tmp_path: Path, docs: Path) -> Settings:
    # Every new story is a daily build's delta, however small the archive.
    return Settings(
        docs_dir=docs,
        index_dir=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        embedder="fake",
        build_jobs=1,
        delta_max_share=1.0,
        answerer="rules",
    )


def _build(settings: Settings) -> Path:
    return build_generation(settings, embedder=HashingEmbedder()).path


def _replace_last_line(path: Path) -> None:
    """What `sed -i '$d'` does: a new file in the old one's place."""
    lines = path.read_bytes().splitlines(keepends=True)
    staged = path.with_name(path.name + ".sed")
    staged.write_bytes(b"".join(lines[:-1]))
    os.replace(staged, path)


def _edit_in_place(path: Path) -> None:
    """An editor writing into the same inode (as root, or after chmod, it can)."""
    path.chmod(0o644)
    with path.open("r+b") as handle:
        first = handle.read(1)
        handle.seek(0)
        handle.write(b"[" if first != b"[" else b"{")


def _answered(settings: Settings) -> str:
    engine = load_engine(settings, embedder=HashingEmbedder())
    return engine.search("聂荣县远程会诊多少场", 3)[0].chunk.text


def _valid(settings: Settings) -> list[str]:
    valid = []
    for directory in generation_dirs(settings.index_dir):
        try:
            validate_generation(directory)
        except IndexInvalidError:
            continue
        valid.append(directory.name)
    return valid


def test_daily_builds_on_a_damaged_serving_generation_build_in_full_and_lose_nothing(
    settings: Settings, docs: Path
) -> None:
    _build(settings)
    (docs / "a.txt").write_text(STORY_A + "\n补充一句。\n", "utf-8")
    damaged = _build(settings)
    _replace_last_line(damaged / "chunks.jsonl")
    for day in (1, 2):
        (docs / f"day{day}.txt").write_text(STORY_C.replace("拉萨", f"新城{day}"), "utf-8")
        summary = build_generation(settings, embedder=HashingEmbedder())
        # Day 1 stands on the damaged generation: it is no base, so it builds in full.
        assert (summary.delta_chunks == 0) == (day == 1)
    assert "90余场次" in _answered(settings)
    assert len(_valid(settings)) >= settings.keep_generations


def test_a_shared_file_edited_in_place_is_refused_by_name_and_a_build_repairs_it(
    settings: Settings, docs: Path
) -> None:
    base = _build(settings)
    (docs / "c.txt").write_text(STORY_C, "utf-8")
    daily = build_generation(settings, embedder=HashingEmbedder())
    assert daily.delta_chunks > 0
    shared = daily.path / "chunks.jsonl"
    assert os.stat(shared).st_ino == os.stat(base / "chunks.jsonl").st_ino
    for generation in (base, daily.path):
        for path in generation.rglob("*"):
            if path.is_file():
                assert stat.S_IMODE(path.stat().st_mode) == 0o444, path
    _edit_in_place(shared)
    for generation in (base, daily.path):
        with pytest.raises(IndexInvalidError, match=r"chunks\.jsonl is truncated or corrupt"):
            validate_generation(generation)
    repaired = build_generation(settings, embedder=HashingEmbedder())
    assert repaired.delta_chunks == 0
    assert current_generation(settings.index_dir) == repaired.generation
    assert "90余场次" in _answered(settings)


def test_pruning_keeps_the_last_generation_that_loads_behind_newer_refused_ones(
    settings: Settings,
) -> None:
    roomy = settings.model_copy(update={"keep_generations": 10})
    built = [_build(roomy) for _ in range(4)]
    for newer in built[1:]:
        _edit_in_place(newer / "articles.jsonl")
    removed = prune_generations(settings.index_dir, keep=2)
    assert built[0].name not in removed
    assert built[0].name in [d.name for d in generation_dirs(settings.index_dir)]
    assert load_engine(settings, embedder=HashingEmbedder()).info.generation == built[0].name


def test_pruning_removes_only_beyond_the_newest_generations_that_load(
    settings: Settings,
) -> None:
    roomy = settings.model_copy(update={"keep_generations": 10})
    built = [_build(roomy) for _ in range(5)]
    _edit_in_place(built[3] / "articles.jsonl")  # the second newest does not load
    removed = prune_generations(settings.index_dir, keep=2)
    assert sorted(removed) == [built[0].name, built[1].name]
    remaining = [d.name for d in generation_dirs(settings.index_dir)]
    assert remaining == [built[4].name, built[3].name, built[2].name]


def test_a_generation_that_does_not_load_is_never_published(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _build(settings)
    import index.stages

    def refuse(directory: Path, search_threads: int = 1) -> None:
        raise IndexInvalidError(f"{directory.name}: chunk counts disagree with the manifest")

    monkeypatch.setattr(index.stages, "open_generation", refuse)
    with pytest.raises(BuildError, match="does not load, not published"):
        build_generation(settings, embedder=HashingEmbedder())
    assert current_generation(settings.index_dir) == good.name
    assert [d.name for d in generation_dirs(settings.index_dir)] == [good.name]
    assert not list((settings.index_dir / GENERATIONS).glob(".staging-*"))


DEEP = "[" * 100_000 + "]" * 100_000
MALFORMED = {
    "an overflowing count": ('"chunks": ', '"chunks": 1e400, "x": '),
    "deep nesting": ('"settings": {', '"settings": {"deep": ' + DEEP + ", "),
    "segments that are a string": ('"settings": {', '"settings": {"segments": "x", '),
    "a count that is text": ('"articles": ', '"articles": "many", "y": '),
    "files that are a list": ('"files": {', '"files": [], "z": {'),
}


@pytest.mark.parametrize("damage", sorted(MALFORMED))
def test_a_malformed_manifest_is_a_refused_generation_and_a_build_repairs_it(
    settings: Settings, docs: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    older = _build(settings)
    newer = _build(settings)
    manifest = newer / MANIFEST
    manifest.chmod(0o644)
    was, now = MALFORMED[damage]
    manifest.write_text(manifest.read_text("utf-8").replace(was, now, 1), "utf-8")
    with pytest.raises(IndexInvalidError, match=newer.name):
        validate_generation(newer)
    assert [info.generation for _, info in list_generations(settings.index_dir)] == [older.name]
    listed = CliRunner().invoke(main, ["index", "list", "--index", str(settings.index_dir)])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0].startswith(f"! {newer.name}  refused: "), listed.stdout
    assert listed.stdout.splitlines()[1].startswith(f"* {older.name}"), listed.stdout
    with caplog.at_level(logging.ERROR):
        assert load_engine(settings, embedder=HashingEmbedder()).info.generation == older.name
    (docs / "c.txt").write_text(STORY_C, "utf-8")
    repaired = build_generation(settings, embedder=HashingEmbedder())
    assert repaired.delta_chunks == 0  # the refused generation lends nothing
    assert load_engine(settings, embedder=HashingEmbedder()).info.generation == (
        repaired.generation
    )


def test_rollback_waits_for_no_build(settings: Settings) -> None:
    _build(settings)
    newest = _build(settings)
    with build_lock(settings.index_dir), pytest.raises(BuildBusyError):
        rollback(settings.index_dir)
    assert current_generation(settings.index_dir) == newest.name


def test_current_pointing_into_another_root_is_not_served(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = _build(settings)
    other = settings.model_copy(update={"index_dir": tmp_path / "other"})
    (settings.docs_dir / "c.txt").write_text(STORY_C, "utf-8")
    foreign = _build(other.model_copy(update={"delta_max_share": 0.0}))
    link = settings.index_dir / CURRENT
    link.unlink()
    link.symlink_to(foreign.resolve())
    assert current_generation(settings.index_dir) is None
    with caplog.at_level(logging.ERROR):
        engine = load_engine(settings, embedder=HashingEmbedder())
    assert engine.info.generation == own.name
    assert "outside" in caplog.text
    repaired = build_generation(settings, embedder=HashingEmbedder())
    assert current_generation(settings.index_dir) == repaired.generation
    assert repaired.delta_chunks == 0


def test_current_as_a_directory_is_refused_before_any_work(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    built = _build(settings)
    link = settings.index_dir / CURRENT
    link.unlink()
    link.mkdir()
    embedder = HashingEmbedder()
    with pytest.raises(BuildError, match="is a directory, not the symlink"):
        build_generation(settings, embedder=embedder)
    assert embedder.calls == 0
    with caplog.at_level(logging.ERROR):
        assert load_engine(settings, embedder=HashingEmbedder()).info.generation == built.name
    with pytest.raises(IndexNotFoundError):
        rollback(settings.index_dir)
